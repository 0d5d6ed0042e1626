"""Starting the traffic probe is two bounded waits, each ending in a verdict naming what it waited for: the child
process saying it runs (a Python start-up), then its first request, bounded by the request's own clock
([probe] timeout); real child processes against a local HTTP server."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from gates.config import Config, ProbeConfig
from gates.core.errors import GatesError
from gates.core.procs import wait_until
from gates.gaterun import probe
from gates.gaterun.probe import Probe
from gates.monitor.sampler import RESOLVE_TIMEOUT, request_bound
from tests.selftests.httpfixtures import answering

MakeConfig = Callable[..., Config]


def _probe(make_config: MakeConfig, tmp_path: Path, url: str, timeout: float = 2.0) -> Probe:
    """A probe of production at ``url``/health, as after a first release (so it runs)."""
    cfg = make_config()
    cfg = dataclasses.replace(cfg, probe=ProbeConfig(paths=("/health",), timeout=timeout))
    env = dataclasses.replace(cfg.environment("production"), url=url)
    return Probe(cfg, env, tmp_path / "probe-production.jsonl", before=1)


def test_the_child_says_it_runs_before_its_first_request_is_answered(tmp_path: Path) -> None:
    """`python -m gates.gaterun.probe` prints {"ready": pid} first, while its first request is still unanswered
    (the server holds it), then one sample per request, and on stdin's close its account as its last line."""
    release = threading.Event()

    def held(method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        release.wait(60)
        return 200, "text/plain", b"ok"

    out = tmp_path / "probe.jsonl"
    with answering(held) as url:
        child = subprocess.Popen(
            [sys.executable, "-m", "gates.gaterun.probe", "--out", str(out), "--rate", "20", f"{url}/health"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert child.stdout is not None and child.stdin is not None
        try:
            assert json.loads(child.stdout.readline()) == {"ready": child.pid}
            assert not out.exists() or out.read_text() == ""  # nothing answered yet
            release.set()
            wait_until("the probe's first sample", lambda: out.exists() and out.read_text(), timeout=30)
        finally:
            release.set()
            account, _ = child.communicate(timeout=30)
    assert json.loads(account.strip().splitlines()[-1])["requests"] >= 1


def test_a_probe_that_never_runs_is_a_verdict_on_its_start(
    make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child that never says it runs: the start fails naming the probe's start, and the child is stopped."""
    with answering(lambda *_: (200, "text/plain", b"ok")) as url:
        p = _probe(make_config, tmp_path, url)
        monkeypatch.setattr(probe, "START_TIMEOUT", 1.0)
        monkeypatch.setattr(Probe, "_argv", lambda self, urls: [sys.executable, "-c", "import sys; sys.stdin.read()"])
        with pytest.raises(GatesError, match=r"timed out after 1s waiting for the probe of production to start"):
            p.start()
    assert p.proc is not None and p.proc.poll() is not None


def test_the_first_request_is_waited_for_under_the_request_timeout(
    make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child that runs but records no request: the wait for its first request is bounded by the request's clock
    ([probe] timeout 0.2 s for the connect, the head, the body of an answer from an IP address: 0.6 s), not by
    the child's start, and its verdict names both the first request and that timeout."""
    ready = "import json, os, sys; print(json.dumps({'ready': os.getpid()}), flush=True); sys.stdin.read()"
    with answering(lambda *_: (200, "text/plain", b"ok")) as url:
        p = _probe(make_config, tmp_path, url, timeout=0.2)
        monkeypatch.setattr(Probe, "_argv", lambda self, urls: [sys.executable, "-c", ready])
        with pytest.raises(GatesError) as failed:
            p.start()
    assert str(failed.value).startswith(
        "timed out after 0.6s waiting for the probe of production to send its first request"
        " (answered or failed: [probe] timeout = 0.2s bounds its connect and each read)"
    ), failed.value
    assert p.proc is not None and p.proc.poll() is not None


def test_a_probe_that_exits_at_once_did_not_start(
    make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child that exits before it says it runs: "did not start", with what it said on stderr."""
    with answering(lambda *_: (200, "text/plain", b"ok")) as url:
        p = _probe(make_config, tmp_path, url)
        monkeypatch.setattr(Probe, "_argv", lambda self, urls: [sys.executable, "-c", "raise SystemExit('no urls')"])
        with pytest.raises(GatesError, match=r"the probe of production did not start: the probe exited 1: no urls"):
            p.start()


def test_a_probe_starts_and_stops_with_its_account(make_config: MakeConfig, tmp_path: Path) -> None:
    """The real child against a healthy server: the start returns once a request is recorded, and the trailer
    holds the child's account (its requests), not its ready line."""
    with answering(lambda *_: (200, "text/plain", b"ok")) as url:
        p = _probe(make_config, tmp_path, url).start()
        p.deployed(1)
        run = p.finish(settle=False)
    assert run.samples and run.end["requests"] >= len(run.samples) and "ready" not in run.end, run.end


def test_a_request_is_bounded_by_its_connect_and_reads_and_a_name_by_the_resolver() -> None:
    """request_bound: three socket timeouts (connect, head, body) for an IP address; a host name adds the
    resolver's own bound."""
    assert request_bound("http://127.0.0.1:8080/health", 2.0) == 6.0
    assert request_bound("https://app.fly.dev/health", 2.0) == RESOLVE_TIMEOUT + 6.0
