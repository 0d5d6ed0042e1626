"""The release told as it happens: the reporter's events, their text, GitHub groups, the events a gate streams."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

from gates.core.redact import redact
from gates.evidence.progress import JsonLines, Reporter, TextSink, describe
from gates.evidence.state import Notification, StepRecord
from gates.gaterun.runner import GateWatch, tailing


class Collect:
    """A sink that keeps every event."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def close(self) -> None:
        return None

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]


def _until(what: str, done: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_step_is_told_when_it_starts_and_when_it_ends() -> None:
    """Start: the step's title; end: outcome, seconds and detail, all on one line each."""
    sink = Collect()
    reporter = Reporter([sink])
    reporter.step_started("gate", "staging")
    step = StepRecord("gate", "staging", "2026-01-01T10:00:00+00:00", "2026-01-01T10:00:12.5+00:00", "passed", "9 ok")
    reporter.step_ended(step)
    started, ended = sink.events
    assert started["event"] == "step_started" and started["title"] == "gate staging"
    assert (ended["outcome"], ended["seconds"], ended["detail"]) == ("passed", 12.5, "9 ok")
    assert describe(started) == f"{started['at'][11:19]} started     gate staging"
    assert describe(ended) == f"{ended['at'][11:19]} passed      gate staging (12.5s): 9 ok"


def test_a_failed_molecule_line_names_its_seed_step_concern_and_first_problem() -> None:
    """A molecule's line: verdict (FAILED in capitals), name, [DEVOPS id concern], the first problem."""
    event = {"event": "molecule", "at": "2026-01-01T10:00:03.000+00:00", "name": "test_tiles[chromium]",
             "outcome": "failed", "seed_step": "DEVOPS-004", "concern": "smoke, browser", "problem": "tile empty"}  # fmt: skip
    assert describe(event) == "10:00:03   FAILED    test_tiles[chromium] [DEVOPS-004 smoke, browser]: tile empty"


def test_progress_is_throttled_per_subject_and_always_told_when_done() -> None:
    """Within one period only the first progress of a subject goes out, except the one that completes it."""
    sink = Collect()
    reporter = Reporter([sink], every=3600)
    for done in range(1, 10):
        reporter.progress("monitor production", done, 10, unit="s")
    reporter.progress("gate staging", 1, 5, unit="molecules")
    reporter.progress("monitor production", 10, 10, "50 samples", "s")
    told = [(e["what"], e["done"]) for e in sink.kinds("progress")]
    assert told == [("monitor production", 1), ("gate staging", 1), ("monitor production", 10)]
    assert describe(sink.kinds("progress")[-1]) is not None
    assert "monitor production: 10s of 10s; 50 samples" in str(describe(sink.kinds("progress")[-1]))


def test_a_wait_with_nothing_new_still_says_how_long_it_has_lasted() -> None:
    """`waiting` sends a heartbeat with the elapsed seconds while the block runs, and stops with it."""
    sink = Collect()
    reporter = Reporter([sink], every=0.02)
    with reporter.waiting("deploy staging"):
        _until("three heartbeats", lambda: len(sink.kinds("progress")) >= 3)
    beats = sink.kinds("progress")
    assert all(b["what"] == "deploy staging" and b["unit"] == "s" for b in beats)
    assert beats[-1]["done"] >= beats[0]["done"] and "elapsed" in str(describe(beats[0]))
    count = len(sink.kinds("progress"))
    time.sleep(0.1)  # after the block: no more beats (the thread was joined)
    assert len(sink.kinds("progress")) == count


def test_a_timed_wait_that_outlasts_its_total_says_its_total_not_more() -> None:
    """A window of known length whose evidence takes longer to write: its heartbeat's amount stops at the total
    (the event's elapsed goes on), so the last progress of a 20 s window says 20 of 20."""
    sink = Collect()
    reporter = Reporter([sink], every=0.02)
    with reporter.waiting("monitor production", total=0.2):
        _until("heartbeats past the total", lambda: any(b["elapsed"] > 0.4 for b in sink.kinds("progress")))
    beats = sink.kinds("progress")
    assert all(b["done"] <= 0.2 for b in beats) and beats[-1]["done"] == 0.2, beats


def test_a_rollout_says_how_many_instances_it_has_replaced() -> None:
    """A wait given a detail asks it at every beat: the deploy's line says instances replaced of N."""
    sink = Collect()
    reporter = Reporter([sink], every=0.02)
    replaced = iter(range(1000))
    with reporter.waiting("deploy staging", detail=lambda: f"{next(replaced)} of 2 instances on the new release"):
        _until("two heartbeats", lambda: len(sink.kinds("progress")) >= 2)
    details = [b["detail"] for b in sink.kinds("progress")]
    assert details[0].endswith("of 2 instances on the new release") and details[0] != details[-1]
    assert "of 2 instances on the new release" in describe(sink.kinds("progress")[-1])


def test_a_detail_that_fails_does_not_stop_the_wait() -> None:
    """A platform that cannot say how far a rollout got (an error) leaves the heartbeat going."""
    sink = Collect()
    reporter = Reporter([sink], every=0.02)

    def broken() -> str:
        raise RuntimeError("status unavailable")

    with reporter.waiting("deploy staging", detail=broken):
        _until("two heartbeats", lambda: len(sink.kinds("progress")) >= 2)


def test_notifications_are_told_once_each() -> None:
    """The reporter tells only the notifications it has not told yet."""
    sink = Collect()
    reporter = Reporter([sink])
    sent = [Notification("started", 0.0, "x", False, "refused")]
    reporter.notifications(sent)
    sent.append(Notification("completed", 1.0, "y", True, "200"))
    reporter.notifications(sent)
    reporter.notifications(sent)
    assert [(e["notification"], e["delivered"]) for e in sink.kinds("notification")] == [
        ("started", False),
        ("completed", True),
    ]


def test_events_are_json_lines_and_carry_no_secret() -> None:
    """Each event is one JSON line, flushed; a URL's password in a detail is masked before any sink sees it."""
    secret = "sup3rsecret-pw"
    stream = io.StringIO()
    reporter = Reporter([JsonLines(stream)])
    detail = f"psql postgresql://u:{secret}@db/x failed"
    reporter.step_ended(StepRecord("migrate", "staging", outcome="failed", detail=detail))
    (line,) = stream.getvalue().splitlines()
    event = json.loads(line)
    assert event["event"] == "step_ended" and event["detail"] == redact(detail) and secret not in line


def test_in_github_actions_each_step_is_a_group_and_a_failure_an_annotation() -> None:
    """::group:: at a step's start, ::endgroup:: at its end, ::error:: for a failed step (one line)."""
    stream = io.StringIO()
    reporter = Reporter([TextSink(stream, github=True)])
    reporter.step_started("gate", "staging")
    reporter.molecule(gate="staging gate", env="staging", name="test_health", outcome="passed")
    reporter.step_ended(StepRecord("gate", "staging", outcome="failed", detail="1 of 9 failed:\ntest_x"))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "::group::gate staging" and lines[-2] == "::endgroup::"
    assert lines[-1] == "::error title=gate staging::1 of 9 failed: test_x"
    assert "test_health" in lines[2]


def test_a_live_terminal_redraws_progress_in_place_and_prints_steps_above_it() -> None:
    """On a terminal (rich), progress is a live line, steps and molecules print as lines; a step's end clears it."""
    stream = io.StringIO()
    sink = TextSink(stream, live=True)
    reporter = Reporter([sink], every=0)
    reporter.step_started("monitor", "production")
    reporter.progress("monitor production", 5, 20, "25 samples", "s")
    assert sink._live is not None
    reporter.step_ended(StepRecord("monitor", "production", outcome="passed"))
    assert sink._live is None
    text = stream.getvalue()
    assert "started     monitor production" in text and "passed      monitor production" in text


def test_a_running_gates_events_are_read_as_they_are_written(tmp_path: Path) -> None:
    """The tail reads each complete line once, in order, while the writer still writes; a half line waits."""
    path = tmp_path / "events.jsonl"
    seen: list[dict[str, Any]] = []
    with tailing(path, lambda e: seen.append(dict(e))), path.open("a") as fh:
        fh.write(json.dumps({"event": "collected", "total": 2}) + "\n")
        fh.write('{"event": "molecule", "na')
        fh.flush()
        _until("the first line", lambda: len(seen) == 1)
        fh.write('me": "test_a"}\nnot json\n')
        fh.flush()
        _until("the second line", lambda: len(seen) == 2)
    assert seen == [{"event": "collected", "total": 2}, {"event": "molecule", "name": "test_a"}]


def test_lines_left_when_the_gate_ends_are_read_too(tmp_path: Path) -> None:
    """What the child wrote just before it exited is told after the block, not lost."""
    path = tmp_path / "events.jsonl"
    seen: list[dict[str, Any]] = []
    with tailing(path, lambda e: seen.append(dict(e))):
        path.write_text(json.dumps({"event": "molecule", "name": "test_last"}) + "\n")
    assert seen == [{"event": "molecule", "name": "test_last"}]


def test_a_gates_events_become_molecule_verdicts_and_progress() -> None:
    """A failed molecule is told with its first problem; progress counts molecules done of collected."""
    sink = Collect()
    watch = GateWatch(Reporter([sink], every=0), "staging gate", "staging")
    watch({"event": "collected", "total": 2})
    message = "health: FAILED: GET /h -> 500\n- /api/ads/health answered 500"
    watch({"event": "molecule", "name": "test_health", "outcome": "failed", "message": message,
           "seed_step": "DEVOPS-002", "concern": "health"})  # fmt: skip
    (molecule,) = sink.kinds("molecule")
    assert molecule["problem"] == "health: FAILED: GET /h -> 500 -- /api/ads/health answered 500"
    assert (molecule["seed_step"], molecule["gate"], molecule["env"]) == ("DEVOPS-002", "staging gate", "staging")
    (progress,) = sink.kinds("progress")
    assert (progress["done"], progress["total"], progress["unit"]) == (1, 2, "molecules")


def test_events_from_several_threads_never_interleave() -> None:
    """The reporter is thread-safe: every line of the JSON stream parses."""
    stream = io.StringIO()
    reporter = Reporter([JsonLines(stream)])
    threads = [threading.Thread(target=lambda: [reporter.message("m" * 200) for _ in range(50)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([json.loads(line) for line in stream.getvalue().splitlines()]) == 200


def test_a_rollouts_progress_asks_the_platform_at_most_once_per_interval() -> None:
    """A live line redraws every half second; the platform (a `fly status` run on Fly) is asked once per interval,
    the last answer repeated in between, and asked again once the interval has passed."""
    from gates.release.deploy import throttled

    asked: list[int] = []

    def ask() -> str:
        asked.append(1)
        return f"{len(asked)} of 2 instances on the new release"

    slow = throttled(ask, 3600.0)
    assert [slow() for _ in range(5)] == ["1 of 2 instances on the new release"] * 5 and len(asked) == 1
    always = throttled(ask, 0.0)
    assert always() != always() and len(asked) == 3


def test_two_steps_at_once_are_told_apart() -> None:
    """While two steps run beside each other a molecule's line names its gate, the live region keeps one line per
    step, and GitHub Actions gets no group for them (its groups do not nest); alone again, lines are as before."""
    stream = io.StringIO()
    reporter = Reporter([TextSink(stream, github=True)])
    reporter.step_started("gate", "staging")
    reporter.molecule(gate="staging gate", env="staging", name="test_alone", outcome="passed")
    reporter.step_started("backup", "production")
    reporter.molecule(gate="staging gate", env="staging", name="test_beside", outcome="passed")
    reporter.step_ended(StepRecord("backup", "production", outcome="passed"))
    reporter.molecule(gate="staging gate", env="staging", name="test_alone_again", outcome="passed")
    reporter.step_ended(StepRecord("gate", "staging", outcome="passed"))
    lines = stream.getvalue().splitlines()
    assert [line for line in lines if line.startswith("::")] == ["::group::gate staging", "::endgroup::"]
    assert lines.index("::endgroup::") == 3  # closed as the backup started beside the gate
    molecules = [line.split("passed    ", 1)[1] for line in lines if "   passed    " in line]
    assert molecules == ["test_alone", "staging gate: test_beside", "test_alone_again"]
    live = TextSink(io.StringIO(), live=True)
    live_reporter = Reporter([live], every=0)
    live_reporter.step_started("gate", "staging")
    live_reporter.step_started("backup", "production")
    for what in ("staging gate", "backup production", "drill staging: smoke"):
        live_reporter.progress(what, 1, 2, unit="parts")
    assert list(live._lines) == ["backup production", "drill staging: smoke"]  # one per step, the newest waits'
