"""Memory on Fly, read from Fly's Prometheus API at the boundary only: both releases' machines for the memory
comparison, and each machine through the monitor window for the growth judgement.

A fake `fly` replays flyctl's JSON (the releases and machines, their times set near now) and a local HTTP
server speaks the Prometheus query API in its JSON shape (tests/selftests/prometheusfake.py), holding each
machine's `fly_instance_memory_mem_total` and `_available` samples. Fly.io is never reached.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gates import config as config_mod
from gates.checks.memory import MemoryBounds, memory_steady
from gates.config.comparison import ComparisonConfig
from gates.core.errors import GatesError
from gates.core.measurement import Measurement
from gates.gaterun.comparison.memory import FlySides, fly_sides
from gates.monitor.flygrowth import window_memory
from gates.monitor.window import WindowMemory
from gates.platforms.fly import FlyPlatform
from tests.selftests.flyfake import FAKES, TOKEN, WORKER, FakeFly, web_and_worker
from tests.selftests.prometheusfake import PrometheusFake, machine_memory, monitor_window, two_releases

APP = "hotdash-staging"
WEB = ("148e21ea7e5d89", "3d8d9016b21e08")  # the fixtures' machines in rotation
MB = 2**20
NOW = float(int(time.time()))
RELEASED = NOW - 200  # release 2 created
UPDATED = RELEASED + 30  # both machines took it


@pytest.fixture
def fly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[config_mod.Config, config_mod.Environment, FakeFly]:
    """A Fly staging environment (fake `fly`, release 2 created 200 s ago) with a web and a worker machine."""
    monkeypatch.setenv("FLY_BIN", str(FAKES / "fly"))
    monkeypatch.setenv("FLY_API_TOKEN", TOKEN)
    monkeypatch.delenv("FLY_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("GATES_STATE_DIR", raising=False)
    fake = FakeFly(tmp_path / "fake-fly.json", web_and_worker)
    fake.released_at({1: NOW - 86400, 2: RELEASED}, UPDATED)
    monkeypatch.setenv("FAKE_FLY_STATE", str(fake.path))
    (tmp_path / "gates.toml").write_text(
        f'[app]\nname = "hotdash"\n[environments.staging]\nplatform = "fly"\napp = "{APP}"\n'
        'url = "https://staging.example"\ndatabase_url_env = "STAGING_DB_URL"\n'
        f'[local]\nstate_dir = "{tmp_path / "state"}"\n'
    )
    cfg = config_mod.load(tmp_path / "gates.toml")
    return cfg, cfg.environment("staging"), fake


def pointed(cfg: config_mod.Config, url: str) -> config_mod.Config:
    """``cfg`` reading Fly's metrics from ``url`` ([monitor] prometheus_url; the token: FLY_API_TOKEN)."""
    text = cfg.path.read_text().split("[monitor]")[0]
    cfg.path.write_text(f'{text}[monitor]\nprometheus_url = "{url}"\n')
    return config_mod.load(cfg.path)


def metrics(prom: PrometheusFake, *, now_mb: float = 205, before_mb: float = 200) -> None:
    """Release 1 and 2 on both web machines (see two_releases), and the worker, far bigger, all along."""
    two_releases(prom, APP, WEB, RELEASED, UPDATED, NOW + 60, before_mb=before_mb, now_mb=now_mb)
    machine_memory(prom, APP, WORKER, RELEASED - 600, NOW, lambda t: 490 * MB)


def sides(cfg: config_mod.Config, env: config_mod.Environment, **reading: Any) -> FlySides:
    return fly_sides(FlyPlatform(cfg), cfg, env, 2, now=lambda: NOW, **reading)


def test_flys_prometheus_api_is_the_organizations_from_fly_status(fly):
    """Without [monitor] prometheus_url, the API is https://api.fly.io/prometheus/<Organization.Slug of fly status>;
    a status without it is an error naming the command."""
    cfg, env, fake = fly
    assert FlyPlatform(cfg).prometheus_url(env) == "https://api.fly.io/prometheus/personal"
    status = fake.state["status"]
    status.pop("Organization")
    fake.update(status=status)
    with pytest.raises(GatesError, match=r"fly status --json -a hotdash-staging: no Organization.Slug"):
        FlyPlatform(cfg).prometheus_url(env)


def test_a_healthy_release_passes_with_both_releases_machines_read_from_flys_metrics(fly):
    """Release 1's web machines before release 2 was created and release 2's since each took it, each machine's
    median compared; the worker and the rollout's stale reading count on neither side; the token travels as a
    bearer header only, and the baseline is read at release 2's creation."""
    cfg, env, _ = fly
    with PrometheusFake(TOKEN) as prom:
        metrics(prom)
        found = sides(pointed(cfg, prom.url), env)
        judged = found.memory(ComparisonConfig())
        assert judged.ok, judged.explain()
        assert found.found is not None
        assert found.found.medians("baseline") == [200 * MB, 201 * MB]
        assert found.found.medians("candidate") == [205 * MB, 206 * MB]
        assert {headers["Authorization"] for _, headers in prom.requests} == {f"Bearer {TOKEN}"}
        asked = [httpx.URL(path).params for path, _ in prom.requests]
        assert asked[0]["time"] == f"{RELEASED:.3f}"
        assert asked[0]["query"] == f'{{__name__=~"fly_instance_memory_mem_(total|available)",app="{APP}"}}[600s]'
    assert "Fly's machine metrics" in judged.source and {r["release"] for r in judged.details} == {"replaced", "new"}


def test_a_release_holding_more_memory_fails_naming_both_figures(fly):
    """Release 2's machines holding about 400 MB where release 1's held 200 MB fail the comparison (1.5x, +32 MB)."""
    cfg, env, _ = fly
    with PrometheusFake(TOKEN) as prom:
        metrics(prom, now_mb=400)
        judged = sides(pointed(cfg, prom.url), env).memory(ComparisonConfig())
    assert not judged.ok
    assert judged.problems[0].startswith("median RSS 400.5 MB now vs 200.5 MB before"), judged.problems


def answered(prom: PrometheusFake, how: str) -> None:
    if how == "unauthorized":
        prom.token = "another-token"  # the fake echoes the Authorization header it refused
    elif how == "not json":
        prom.fail = (502, "<html>bad gateway</html>")
    elif how == "error status":
        prom.fail = (422, {"status": "error", "errorType": "execution", "error": "too many series"})
    elif how == "hanging":
        prom.hang = True


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("unauthorized", "HTTP 401, status error: bad credentials: Bearer ***"),
        ("not json", "HTTP 502, not JSON"),
        ("error status", "HTTP 422, status error: too many series"),
        ("empty", "Fly's metrics hold no memory reading of release 1's machines between"),
        ("hanging", "ReadTimeout"),
    ],
)
def test_no_usable_answer_fails_closed_naming_why_and_never_the_token(fly, how, said):
    """A refused token, an answer that is not JSON, an error status, no series, or no answer within the client's
    bound: the comparison fails saying which, and the token (echoed back by the server) is masked."""
    cfg, env, _ = fly
    with PrometheusFake(TOKEN) as prom, httpx.Client(timeout=1.0) as client:
        answered(prom, how)
        judged = sides(pointed(cfg, prom.url), env, client=client, wait=0.2, poll=0.05).memory(ComparisonConfig())
    assert not judged.ok
    text = judged.explain()
    assert said in text, text
    assert TOKEN not in text and TOKEN not in repr(judged)


def test_new_machines_are_waited_for_until_read_then_named_when_still_unread(fly):
    """Release 2's readings arriving while the comparison polls are waited for (the verdict is then theirs); a
    machine with none after the bound fails closed, named with when it took the release."""
    cfg, env, _ = fly
    with PrometheusFake(TOKEN) as prom:
        for i, machine in enumerate(WEB):
            machine_memory(prom, APP, machine, RELEASED - 600, RELEASED - 1, lambda t, i=i: (200 + i) * MB)
        prom.on_request = lambda n: n == 3 and metrics(prom)  # type: ignore[func-returns-value]
        late = sides(pointed(cfg, prom.url), env, wait=30, poll=0.05).memory(ComparisonConfig())
        assert late.ok, late.explain()
    with PrometheusFake(TOKEN) as prom:
        for machine in WEB:
            machine_memory(prom, APP, machine, RELEASED - 600, RELEASED - 1, lambda t: 200 * MB)
        never = sides(pointed(cfg, prom.url), env, wait=0.2, poll=0.05).memory(ComparisonConfig())
    assert not never.ok
    took = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(UPDATED))
    assert never.problems[0] == (
        f"machine {WEB[0]}: 0 memory readings in Fly's metrics since it took release 2 at {took}, 2 required, "
        "after waiting 0.2s (fail closed)"
    )


def test_no_token_fails_closed_naming_the_variables(fly, monkeypatch):
    """Neither FLY_API_TOKEN nor FLY_ACCESS_TOKEN set (and no [monitor] token): nothing is asked, the comparison fails."""
    cfg, env, _ = fly
    monkeypatch.delenv("FLY_API_TOKEN")
    judged = sides(pointed(cfg, "http://127.0.0.1:9"), env).memory(ComparisonConfig())
    assert judged.problems == ("no token to read Fly's metrics: set FLY_API_TOKEN or FLY_ACCESS_TOKEN (fail closed)",)


# The monitor window's growth on Fly: each machine in rotation read through a window of 300 s, 2 requests a second.
START, END = NOW - 400, NOW - 100


def through(cfg: config_mod.Config, env: config_mod.Environment, path: Path, **reading: Any) -> WindowMemory:
    return window_memory(FlyPlatform(cfg), cfg, env, str(path), **reading)


def judged(memory: WindowMemory) -> dict[str, Measurement]:
    """Each machine's verdict, as the growth molecule gives it."""
    found = {}
    for machine, series in memory.points.items() if memory.points else ():
        one = memory_steady(series, MemoryBounds.of(ComparisonConfig()), unit="requests the window sent",
                            name=f"{memory.noun} {machine}")  # fmt: skip
        note = memory.notes.get(machine)
        found[machine] = dataclasses.replace(one, ok=False, problems=[note, *one.problems]) if note else one
    return found


def test_memory_growing_with_the_windows_requests_fails_naming_the_machine_and_its_growth(fly, tmp_path):
    """A machine whose memory in use grows 0.2 MB a second while the window sends 2 requests a second (100 MB per
    1000 requests) fails the growth judgement naming it; a flat machine passes. Each reading is set beside the
    requests the window had sent by its time, the readings before and after the window are left out, the worker (out
    of rotation) is not judged, and the window is read at its end with a range covering it."""
    cfg, env, _ = fly
    path = monitor_window(tmp_path / "window", START, END)
    with PrometheusFake(TOKEN) as prom:
        machine_memory(prom, APP, WEB[0], START - 60, NOW, lambda t: 200 * MB + 0.2 * MB * max(0.0, t - START))
        machine_memory(prom, APP, WEB[1], START - 60, NOW, lambda t: 210 * MB)
        machine_memory(prom, APP, WORKER, START - 60, NOW, lambda t: 200 * MB + 1 * MB * max(0.0, t - START))
        memory = through(pointed(cfg, prom.url), env, path)
        asked = httpx.URL(prom.requests[0][0]).params
    # The window runs from its first request (START) to the end of its last (sent at END - 0.5, answered 50 ms on).
    assert asked["time"] == f"{END - 0.45:.3f}" and asked["query"].endswith("[301s]"), asked
    assert memory.points is not None and set(memory.points) == set(WEB) and not memory.trouble and not memory.notes
    assert memory.points[WEB[1]][0] == (1.0, 210.0 * MB)  # read at START, as the first request was sent
    assert memory.points[WEB[1]][-1] == (571.0, 210.0 * MB)  # read at END - 15: 571 requests sent by then
    assert len(memory.points[WEB[1]]) == 20
    verdicts = judged(memory)
    assert verdicts[WEB[1]].ok, verdicts[WEB[1]].explain()
    assert not verdicts[WEB[0]].ok
    (problem,) = verdicts[WEB[0]].problems
    assert problem.startswith(f"machine {WEB[0]}: memory grows 100.00 MB per 1000 requests the window sent (limit 1)")
    assert "Fly's machine metrics" in memory.source and memory.every == 15.0


def test_a_machine_without_readings_through_the_window_fails_closed_naming_it(fly, tmp_path):
    """A machine in rotation with no reading in the window (its readings all before it) is named, after the bounded
    wait for the window's last readings; a machine whose readings arrive while the molecule polls is waited for."""
    cfg, env, _ = fly
    end = float(int(time.time()))
    path = monitor_window(tmp_path / "window", end - 300, end)
    with PrometheusFake(TOKEN) as prom:
        machine_memory(prom, APP, WEB[0], end - 300, end, lambda t: 200 * MB)
        machine_memory(prom, APP, WEB[1], end - 900, end - 301, lambda t: 200 * MB)
        late = lambda n: n == 3 and machine_memory(prom, APP, WEB[1], end - 300, end, lambda t: 201 * MB)  # noqa: E731
        prom.on_request = late  # type: ignore[assignment]
        waited = through(pointed(cfg, prom.url), env, path, wait=30, poll=0.05)
        assert waited.points is not None and len(waited.points[WEB[1]]) == 20, waited
        assert len(prom.requests) == 3 and not waited.notes
        prom.series.clear()
        prom.on_request = None
        machine_memory(prom, APP, WEB[0], end - 300, end, lambda t: 200 * MB)
        machine_memory(prom, APP, WEB[1], end - 900, end - 301, lambda t: 200 * MB)
        memory = through(pointed(cfg, prom.url), env, path, wait=0.2, poll=0.05)
    assert memory.points is not None and memory.points[WEB[1]] == []
    verdict = judged(memory)[WEB[1]]
    utc = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) for t in (end - 300, end - 0.45)]
    assert not verdict.ok and verdict.problems[0] == (
        f"machine {WEB[1]}: no memory reading in Fly's metrics between {utc[0]} and {utc[1]}, through the window "
        "(fail closed)"
    ), verdict.problems
    assert judged(memory)[WEB[0]].ok


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("unauthorized", "HTTP 401, status error: bad credentials: Bearer ***"),
        ("not json", "HTTP 502, not JSON"),
        ("hanging", "ReadTimeout"),
        ("no token", "no token to read Fly's metrics: set FLY_API_TOKEN or FLY_ACCESS_TOKEN (fail closed)"),
        ("no window", "no readable monitor window"),
    ],
)
def test_the_windows_memory_unread_fails_closed_naming_why_and_never_the_token(fly, tmp_path, monkeypatch, how, said):
    """A refused token (echoed back by the server), an answer that is not JSON, no answer within the client's bound,
    no token, or no window evidence: nothing is judged, the trouble says which, and the canary token is masked."""
    cfg, env, _ = fly
    path = monitor_window(tmp_path / "window", START, END)
    if how == "no window":
        path = tmp_path / "absent.json"
    if how == "no token":
        monkeypatch.delenv("FLY_API_TOKEN")
    with PrometheusFake(TOKEN) as prom, httpx.Client(timeout=1.0) as client:
        machine_memory(prom, APP, WEB[0], START, END, lambda t: 200 * MB)
        answered(prom, how)
        memory = through(pointed(cfg, prom.url), env, path, client=client, wait=0.2, poll=0.05)
    assert memory.points == {} and said in memory.trouble, memory.trouble
    assert TOKEN not in repr(memory)


def test_a_window_too_short_to_judge_is_not_read(fly, tmp_path):
    """A window shorter than the molecule needs (readings every 15 s) asks Fly nothing: the molecule skips on its
    length."""
    cfg, env, _ = fly
    path = monitor_window(tmp_path / "window", END - 60, END)
    with PrometheusFake(TOKEN) as prom:
        memory = through(pointed(cfg, prom.url), env, path, shortest=169)
        assert prom.requests == []
    assert memory.points == {} and memory.seconds == 60 and not memory.trouble
