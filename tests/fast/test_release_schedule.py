"""The release's schedule: steps start once what they wait on passed, beside each other up to a limit, and a
failure or an interrupt ends the release with the same verdicts as one step after another would.

Steps here are fakes that note when they start and end (the order of events, never wall time); they run
on a real Record and the real runner. Overlap is proven by a step that waits (bounded) for the other one
to have started.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from gates.bench.sandbox import write_config
from gates.config import Environment
from gates.core.errors import GatesError
from gates.core.procs import wait_until
from gates.evidence.record import Record
from gates.evidence.state import StepRecord
from gates.release import Context, Step, execute, plan
from gates.release.schedule import Schedule, waits
from gates.target import open_config

BOUND = 30.0  # seconds a fake step waits for the one it must overlap: a verdict, never a hang


class Log:
    """What the fake steps did, in the order they did it: ("start" | "end" | "interrupt", title or what)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.started: dict[str, threading.Event] = {}
        self.lock = threading.Lock()

    def note(self, what: str, title: str) -> None:
        with self.lock:
            self.events.append((what, title))
        if what == "start":
            self.started.setdefault(title, threading.Event()).set()

    def has_started(self, title: str) -> threading.Event:
        with self.lock:
            return self.started.setdefault(title, threading.Event())

    def index(self, what: str, title: str) -> int:
        return self.events.index((what, title))

    def titles(self, what: str) -> list[str]:
        return [t for w, t in self.events if w == what]


def fake(log: Log, *, fails: str = "", meets: str = "", body: Callable[[], None] | None = None) -> Any:
    """A step that notes its start and end; waits for ``meets`` to have started (they overlap), runs ``body``,
    fails with ``fails``."""

    def step(ctx: Context, env: Environment, rec: StepRecord) -> None:
        log.note("start", rec.title)
        try:
            if meets:
                assert log.has_started(meets).wait(BOUND), f"{rec.title} never ran beside {meets}"
            if body is not None:
                body()
            if fails:
                raise GatesError(fails)
        finally:
            log.note("end", rec.title)

    return step


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    path = write_config(tmp_path / "site", environments={"staging": {}, "production": {}})
    return Context(config=open_config(path), record=Record(tmp_path / "deploys", commit="0" * 40))


def outcomes(ctx: Context) -> dict[str, str]:
    return {s.title: s.outcome for s in ctx.record.steps}


def assert_waited(log: Log, steps: Sequence[Step]) -> None:
    """No step started before every step it waits on had ended."""
    after = waits(steps)
    for title in log.titles("start"):
        for needed in after[title]:
            assert log.index("end", needed) < log.index("start", title), f"{title} started before {needed} ended"


def test_a_step_starts_only_after_what_it_waits_on_and_independent_steps_run_beside_each_other(ctx: Context) -> None:
    """preflight and build start together (each waits until the other started); migrate waits on both; the backup
    runs beside the gate; the sign-off waits on the gate and the backup; every step passes."""
    log = Log()
    steps = [
        Step("preflight", "production", fake(log, meets="build staging"), after=()),
        Step("build", "staging", fake(log, meets="preflight production"), after=()),
        Step("migrate", "staging", fake(log), after=("preflight production", "build staging")),
        Step("gate", "staging", fake(log, meets="backup production"), after=("migrate staging",)),
        Step("backup", "production", fake(log, meets="gate staging"), after=("migrate staging",)),
        Step("signoff", "production", fake(log), after=("gate staging", "backup production")),
        Step("migrate", "production", fake(log), after=("signoff production",)),
    ]
    assert execute(ctx, steps)
    assert_waited(log, steps)
    assert set(outcomes(ctx).values()) == {"passed"} and len(outcomes(ctx)) == len(steps)
    record = json.loads((ctx.record.dir / "record.json").read_text())
    assert record["outcome"] == "passed"
    assert all(s["started_at"] and s["ended_at"] for s in record["steps"])  # each step's own times
    summary = (ctx.record.dir / "summary.md").read_text()
    assert "| step | env | outcome | at | took |" in summary and "| backup | production | passed | +" in summary


def test_no_more_steps_run_at_once_than_the_limit() -> None:
    """Four independent steps, at most two at once: never three started and not ended."""
    log = Log()

    def run_one(step: Step) -> None:
        log.note("start", step.title)
        log.note("end", step.title)

    steps = [Step(f"s{i}", "staging", fake(log), after=()) for i in range(4)]
    assert Schedule(steps, run_one, 2).run().failed == []
    running, most = 0, 0
    for what, _ in log.events:
        running += 1 if what == "start" else -1
        most = max(most, running)
    assert most <= 2 and len(log.titles("end")) == 4


def test_a_step_without_dependencies_named_waits_on_every_step_before_it(ctx: Context) -> None:
    """A plan that names nothing runs one step after another, as plans always did."""
    log = Log()
    steps = [Step(f"s{i}", "staging", fake(log)) for i in range(3)]
    assert waits(steps) == {"s0 staging": (), "s1 staging": ("s0 staging",), "s2 staging": ("s0 staging", "s1 staging")}
    assert execute(ctx, steps)
    assert log.events == [(w, f"s{i} staging") for i in range(3) for w in ("start", "end")]


def test_a_step_waiting_on_a_later_or_unknown_step_is_a_mistake_of_the_plan() -> None:
    """A name that is no earlier step: ValueError naming the step, before anything runs."""
    with pytest.raises(ValueError, match="a staging waits on b staging"):
        waits([Step("a", "staging", fake(Log()), after=("b staging",)), Step("b", "staging", fake(Log()))])


def test_a_failed_step_beside_another_fails_the_release_with_its_own_name_and_stops_what_waits_on_it(
    ctx: Context,
) -> None:
    """The preflight fails beside the build: the build's verdict is kept, nothing that waits on the preflight
    starts (the migrate and what follows are skipped), and the release fails naming the preflight."""
    log = Log()
    steps = [
        Step("preflight", "production", fake(log, meets="build staging", fails="squawk: 1 unsafe migration"), after=()),
        Step("build", "staging", fake(log, meets="preflight production"), after=()),
        Step("migrate", "staging", fake(log), after=("preflight production", "build staging")),
        Step("deploy", "staging", fake(log), after=("migrate staging",)),
    ]
    assert not execute(ctx, steps)
    assert set(log.titles("start")) == {"preflight production", "build staging"}
    assert outcomes(ctx) == {
        "preflight production": "failed", "build staging": "passed", "migrate staging": "skipped", "deploy staging": "skipped",
    }  # fmt: skip
    assert ctx.record.outcome == "failed"
    assert ctx.record.reason == "preflight production failed: squawk: 1 unsafe migration"
    skipped = next(s for s in ctx.record.steps if s.title == "migrate staging")
    assert skipped.detail == "not run: preflight production failed"


def test_a_step_running_beside_a_failure_finishes_and_the_earliest_failure_in_plan_order_is_the_verdict(
    ctx: Context,
) -> None:
    """The backup fails beside the staging gate, which then fails too: both verdicts are recorded, the sign-off
    never starts, and the reason names the gate first (the plan's order), then the backup."""
    log = Log()
    steps = [
        Step("gate", "staging", fake(log, meets="backup production", fails="2 of 9 molecules failed"), after=()),
        Step("backup", "production", fake(log, meets="gate staging", fails="connection refused"), after=()),
        Step("signoff", "production", fake(log), after=("gate staging", "backup production")),
    ]
    assert not execute(ctx, steps)
    assert outcomes(ctx) == {"gate staging": "failed", "backup production": "failed", "signoff production": "skipped"}
    assert ctx.record.reason == (
        "gate staging failed: 2 of 9 molecules failed; backup production failed too: connection refused"
    )
    assert "signoff production" not in log.titles("start")


def interrupted_beside_each_other(ctx: Context, wait: Callable[[], None]) -> Log:
    """Two steps beside each other, each in ``wait`` (a command, a bounded wait) when Ctrl-C comes: the release
    raises KeyboardInterrupt; what they did."""
    log = Log()

    def interrupt_once_both_run() -> None:
        assert log.has_started("build staging").wait(BOUND)
        log.note("interrupt", f"SIGINT handler {signal.getsignal(signal.SIGINT)!r}")
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: only the main thread hears it
        wait()

    steps = [
        Step("preflight", "production", fake(log, meets="build staging", body=interrupt_once_both_run), after=()),
        Step("build", "staging", fake(log, meets="preflight production", body=wait), after=()),
        Step("migrate", "staging", fake(log), after=("preflight production", "build staging")),
    ]
    # Python's own Ctrl-C handler, as a `gates deploy` process has it (gates never changes it): whatever an earlier
    # test in the same pytest process left installed, the scheduler hears the interrupt as a terminal's user sends it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            execute(ctx, steps)
    except pytest.fail.Exception as exc:  # say what the steps did, not only that nothing was raised
        raise AssertionError(f"{exc}; the steps: {log.events}") from None
    finally:
        signal.signal(signal.SIGINT, previous)
    return log


def assert_both_interrupted(ctx: Context, log: Log) -> None:
    assert outcomes(ctx) == {
        "preflight production": "interrupted",
        "build staging": "interrupted",
        "migrate staging": "skipped",
    }
    assert ctx.record.outcome == "interrupted"
    assert ctx.record.reason in (
        "interrupted at preflight production, build staging",
        "interrupted at build staging, preflight production",
    )
    assert sorted(log.titles("end")) == ["build staging", "preflight production"]


def test_an_interrupt_stops_every_step_running_beside_another_and_the_record_says_where(ctx: Context) -> None:
    """Ctrl-C (on the main thread) while two steps each wait (bounded, polling): both waits end, both steps are
    recorded interrupted, what waits on them is skipped, and the record says 'interrupted at' both."""
    log = interrupted_beside_each_other(ctx, lambda: wait_until("what never comes", lambda: False, timeout=BOUND * 4))
    assert_both_interrupted(ctx, log)


def test_the_default_plan_keeps_the_order_of_decisions(ctx: Context) -> None:
    """Every step that changes something waits (directly or through others) on the preflight and the build; the
    backup waits on staging's deploy, not on its gate or drill; the sign-off on the drill and the backup;
    production's migrate on the sign-off; the monitor on production's gate."""
    steps = plan(ctx.config)
    after = waits(steps)

    def upstream(title: str) -> set[str]:
        found: set[str] = set()
        todo = list(after[title])
        while todo:
            name = todo.pop()
            if name not in found:
                found.add(name)
                todo += after[name]
        return found

    assert after["preflight production"] == () and after["build staging"] == ()
    for title in ("migrate staging", "deploy staging", "drill staging", "signoff production", "migrate production"):
        assert {"preflight production", "build staging"} <= upstream(title), title
    assert after["backup production"] == ("deploy staging",)
    assert after["signoff production"] == ("drill staging", "backup production")
    assert {"gate staging", "drill staging", "backup production"} <= upstream("signoff production")
    assert after["migrate production"] == ("signoff production",)
    assert "gate staging" not in upstream("backup production") and "drill staging" not in upstream("backup production")
