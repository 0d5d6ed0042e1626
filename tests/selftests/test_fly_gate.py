"""Molecules on a Fly environment, run as a gate runs them: fake `fly`, a local stand-in for the app and for GitHub.

The app stand-in answers as Fly's proxy would with `fly-force-instance-id`: per machine. Nothing
here reaches Fly.io or GitHub.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gates import config as config_mod
from gates.gaterun.runner import gate_command
from tests.selftests.demo import REPO, junit_results
from tests.selftests.flyfake import FAKES, TOKEN, FakeFly
from tests.selftests.githubfake import SHA, GitHubFake, check_run
from tests.selftests.prometheusfake import PrometheusFake, machine_memory, monitor_window, two_releases

HOTDASH = REPO / "examples" / "hotdash"
BAD = "3d8d9016b21e08"  # the second machine of the fixtures' fly status
MB = 2**20


class MachineProxy:
    """Answers health paths 200, or 503 for the machines in ``broken`` (chosen by fly-force-instance-id)."""

    def __init__(self) -> None:
        self.broken: set[str] = set()
        self.forced: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                machine = self.headers.get("fly-force-instance-id", "")
                proxy.forced.append(machine)
                code = 503 if machine in proxy.broken else 200
                body = json.dumps({"status": "ok" if code == 200 else "down"}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy() -> Iterator[MachineProxy]:
    p = MachineProxy()
    yield p
    p.close()


@pytest.fixture
def fly_config(tmp_path: Path, proxy: MachineProxy) -> config_mod.Config:
    """A copy of the HotDash example whose staging URL is the local proxy stand-in."""
    folder = tmp_path / "hotdash"
    shutil.copytree(HOTDASH, folder)
    text = (folder / "gates.toml").read_text().replace("https://staging.hotrodan.com", proxy.url)
    (folder / "gates.toml").write_text(text + f'\n[local]\nstate_dir = "{tmp_path / "state"}"\n')
    FakeFly(tmp_path / "fake-fly.json")
    return config_mod.load(folder / "gates.toml")


def gate(cfg: config_mod.Config, marker: str, out: Path, select: str, **env: str) -> dict[str, str]:
    """Run the molecules matching ``select`` of gate ``marker`` on staging; JUnit name -> outcome."""
    out.mkdir(parents=True, exist_ok=True)
    args = [*gate_command(cfg, cfg.environment("staging"), marker, out, "gate", None, 0), "-k", select, "-rs"]
    child_env = {
        **os.environ,
        "FLY_BIN": str(FAKES / "fly"),
        "FLY_API_TOKEN": TOKEN,
        "FAKE_FLY_STATE": str(out.parent / "fake-fly.json"),
        "STAGING_DB_URL": "postgresql://u:canary-pw-5678@db.invalid/postgres",
        "PRODUCTION_DB_URL": "postgresql://u:canary-pw-5678@db.invalid/postgres",
        **env,
    }
    child_env.pop("GITHUB_REPOSITORY", None)
    result = subprocess.run(args, cwd=cfg.root, env=child_env, capture_output=True, text=True, timeout=180)
    results = junit_results(out / "gate.xml")
    assert results, result.stdout + result.stderr
    assert TOKEN not in result.stdout + result.stderr + (out / "gate.html").read_text()
    return results


def test_one_bad_machine_fails_the_every_machine_molecule_naming_it(fly_config, proxy, tmp_path):
    """A machine answering 503 behind Fly's proxy fails the molecule, naming it; healthy machines pass it."""
    name = "test_every_machine_answers_every_health_path"
    assert gate(fly_config, "staging", tmp_path / "ok", name)[name] == "passed"
    assert {"148e21ea7e5d89", BAD} <= set(proxy.forced)
    proxy.broken.add(BAD)
    message = gate(fly_config, "staging", tmp_path / "bad", name)[name]
    assert f"instance {BAD}: GET {proxy.url}/health (fly-force-instance-id: {BAD}) -> 503, expected 200" in message
    assert "148e21ea7e5d89" not in message


def test_the_fly_lint_molecule_passes_hotdash_and_fails_an_immediate_strategy(fly_config, tmp_path):
    """Preflight lints the environment's fly.toml: HotDash's passes; `immediate` fails naming the key."""
    name = "test_fly_config_is_zero_downtime_ready"
    assert gate(fly_config, "preflight", tmp_path / "ok", name)[name] == "passed"
    staging = fly_config.root / "fly.staging.toml"
    staging.write_text(staging.read_text().replace('strategy = "rolling"', 'strategy = "immediate"'))
    message = gate(fly_config, "preflight", tmp_path / "bad", name)[name]
    assert 'fly.staging.toml: deploy.strategy = "immediate"' in message


def test_the_ci_molecule_follows_github_and_says_when_it_is_not_configured(fly_config, tmp_path):
    """Green runs pass; a failed run fails naming it and its link; no repository configured is a visible skip."""
    name = "test_ci_is_green_on_the_commit_deployed"
    with GitHubFake() as github:
        github.commit()
        github.runs([check_run("test"), check_run("lint")])
        # The example's copy is no git work tree: the commit released is GITHUB_SHA, as in Actions.
        env = {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": "ghs_canary0123456789abcdef", "GITHUB_SHA": SHA}
        assert gate(fly_config, "preflight", tmp_path / "ok", name, **env)[name] == "passed"
        github.runs([check_run("test"), check_run("e2e", conclusion="failure")])
        message = gate(fly_config, "preflight", tmp_path / "bad", name, **env)[name]
        assert f"e2e concluded failure: {check_run('e2e')['html_url']}" in message
    unconfigured = fly_config.path.read_text().replace('repository = "hotrodan/hotdash"', 'repository = ""')
    fly_config.path.write_text(unconfigured)
    out = tmp_path / "none"
    gate(fly_config, "preflight", out, name)
    assert "CI not configured: set [ci] repository" in (out / "gate.xml").read_text()


def test_the_memory_molecule_reads_both_releases_machines_from_flys_metrics(fly_config, tmp_path):
    """On Fly the memory comparison reads each machine's memory from Fly's Prometheus API ([monitor] prometheus_url,
    here a local server; the token FLY_API_TOKEN): release 1's machines before release 2 was created, release 2's
    since they took it. Holding about the same passes; twice as much fails naming both figures; both are plotted
    beside the report; the token reaches no report."""
    name = "test_memory_holds_like_the_release_it_replaces"
    now = float(int(time.time()))
    FakeFly(tmp_path / "fake-fly.json").released_at({1: now - 86400, 2: now - 200}, now - 170)
    machines = ("148e21ea7e5d89", BAD)
    with PrometheusFake(TOKEN) as prom:
        text = fly_config.path.read_text().replace("https://api.fly.io/prometheus/personal", prom.url)
        fly_config.path.write_text(text)  # the example's [monitor] reads Fly's metrics with FLY_API_TOKEN
        for case, now_mb, expected in (("ok", 205, "passed"), ("grown", 400, "median RSS 400.5 MB now vs 200.5 MB")):
            prom.series.clear()
            two_releases(prom, "hotdash-staging", machines, now - 200, now - 170, now + 600, now_mb=now_mb)
            said = gate(config_mod.load(fly_config.path), "staging", tmp_path / case, name)[name]
            assert expected in said, said
            assert (tmp_path / case / "gate-comparison-memory.png").is_file()  # both releases plotted
        assert {h["Authorization"] for _, h in prom.requests} == {f"Bearer {TOKEN}"}


def test_the_growth_molecule_reads_each_machine_through_the_window_from_flys_metrics(fly_config, tmp_path):
    """On Fly the monitor gate's growth molecule reads each machine in rotation from Fly's Prometheus API through the
    window ([monitor] prometheus_url, here a local server; the token FLY_API_TOKEN), each reading beside the
    requests the window had sent by then: flat machines pass; one growing 0.2 MB a second while the window sends 2
    requests a second fails naming it and its 100 MB per 1000 requests; a machine never read fails closed naming
    it. The token reaches no report."""
    name = "test_memory_does_not_grow_with_requests_through_the_window"
    end = float(int(time.time())) - 60
    start = end - 300
    window = monitor_window(tmp_path / "window", start, end)
    good = "148e21ea7e5d89"
    cases = (
        ("flat", lambda t: 200 * MB, "passed"),
        ("leaking", lambda t: 200 * MB + 0.2 * MB * max(0.0, t - start),
         f"machine {BAD}: memory grows 100.00 MB per 1000 requests the window sent (limit 1), steadily"),
        ("unread", None, f"machine {BAD}: no memory reading in Fly's metrics between"),
    )  # fmt: skip
    with PrometheusFake(TOKEN) as prom:
        text = fly_config.path.read_text().replace("https://api.fly.io/prometheus/personal", prom.url)
        fly_config.path.write_text(text)
        for case, used, expected in cases:
            prom.series.clear()
            machine_memory(prom, "hotdash-staging", good, start - 60, end + 60, lambda t: 190 * MB)
            if used is not None:
                machine_memory(prom, "hotdash-staging", BAD, start - 60, end + 60, used)
            said = gate(fly_config, "monitor", tmp_path / case, name, GATES_MONITOR_WINDOW=str(window))[name]
            assert expected in said, said
            if case != "flat":
                assert good not in said, said
        assert {h["Authorization"] for _, h in prom.requests} == {f"Bearer {TOKEN}"}
