"""Whether a release is good, as pure rules over records (gates/release/goodness.py): by identity, never by number."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from gates.platforms.base import Release
from gates.release.goodness import verdicts

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _record(n: int, ident: str, steps: dict[str, str], outcome: str = "", **builds: Any) -> dict[str, Any]:
    """A release record that deployed build ``ident`` to staging as release ``n``; ``steps``: name -> outcome there."""
    broken = any(o in ("failed", "interrupted") for o in steps.values())
    return {
        "id": f"r{n}",
        "started_at": (T0 + dt.timedelta(hours=n)).isoformat(),
        "ended_at": (T0 + dt.timedelta(hours=n, minutes=5)).isoformat(),
        "outcome": outcome or ("failed" if broken else "passed"),
        "steps": [{"name": "preflight", "env": "production", "outcome": "passed"}]
        + [{"name": name, "env": "staging", "outcome": o} for name, o in steps.items()],
        "releases": {"staging": {"before": n - 1, "after": n}},
        "builds": {"staging": {"versions": {str(n): ident}, "deployed": ident, **builds}},
    }


def _release(n: int, ident: str, status: str = "complete") -> Release:
    return Release(n, ident, T0 + dt.timedelta(hours=n), status)


PASSED = {"migrate": "passed", "deploy": "passed", "gate": "passed", "drill": "passed"}


def test_a_failed_drill_a_failed_deploy_and_a_rolled_back_release_are_never_good() -> None:
    """A release whose drill failed, one whose staging deploy failed (its probe saw 503s) and one rolled back from are
    bad, each saying why; the release that passed every step is good."""
    records = [
        _record(1, "good", PASSED),
        _record(2, "drill-failed", {**PASSED, "drill": "failed"}),
        _record(3, "deploy-failed", {"migrate": "passed", "deploy": "failed", "gate": "skipped"}),
        {**_record(4, "rolled-back", {**PASSED, "gate": "failed"}), "rollback": {"env": "staging", "from": 4, "to": 1}},
    ]
    said = verdicts(records, "staging")
    assert said.good("good") and said.why("good") == "every step on staging passed in release r1"
    assert [said.good(i) for i in ("drill-failed", "deploy-failed", "rolled-back")] == [False, False, False]
    assert said.why("drill-failed") == "its drill staging failed in release r2"
    assert said.why("deploy-failed") == "its deploy staging failed in release r3"
    assert said.why("rolled-back") == "rolled back from on staging in release r4"
    assert "no release record says" in said.why("never-seen")


def test_renumbered_copies_carry_their_origins_verdict() -> None:
    """A drill's or a rollback's copy runs its origin's build: it is exactly as good or bad as the origin."""
    said = verdicts([_record(1, "good", PASSED), _record(2, "bad", {**PASSED, "gate": "failed"})], "staging")
    releases = [_release(1, "good"), _release(2, "bad"), _release(3, "good"), _release(4, "bad"), _release(5, "new")]
    assert said.unfit(releases) == {2, 4, 5}


def test_the_drills_failed_smoke_blames_the_previous_release_and_a_healthy_one_stays_good() -> None:
    """The drill's smoke failing on the previous release marks that build bad; a later healthy release that passed
    every step is good, whatever an earlier release did."""
    smoke = {"old": "its smoke molecules failed in the rollback drill of release r2"}
    records = [
        _record(1, "old", PASSED),
        _record(2, "mid", {**PASSED, "drill": "failed"}, failed=smoke),
        _record(3, "healthy", PASSED),
    ]
    said = verdicts(records, "staging")
    assert not said.good("old") and said.why("old") == smoke["old"]
    assert not said.good("mid") and said.good("healthy")


def test_the_last_word_wins_and_a_running_or_unfinished_release_is_not_good() -> None:
    """A build that failed and later passed every step is good again; rolled back from after that, bad again. A record
    still running gives no verdict; a step interrupted (a crash) is a bad one."""
    good_again = [_record(1, "x", {**PASSED, "gate": "failed"}), _record(2, "x", PASSED)]
    assert verdicts(good_again, "staging").good("x")
    later = {"id": "", "ended_at": (T0 + dt.timedelta(hours=9)).isoformat(), "rollback": {"env": "staging", "from": 2},
             "builds": {"staging": {"versions": {"2": "x"}}}}  # fmt: skip
    assert not verdicts([*good_again, later], "staging").good("x")
    running = _record(3, "y", {"deploy": "passed", "gate": "passed", "drill": "running"}, outcome="running")
    assert "no release record says" in verdicts([running], "staging").why("y")
    crashed = _record(4, "z", {"deploy": "passed", "gate": "interrupted"}, outcome="interrupted")
    assert verdicts([crashed], "staging").why("z") == "its gate staging interrupted in release r4"
    # Killed between two steps: every step it began passed, but its gate never ran.
    between = _record(5, "w", {"deploy": "passed"}, outcome="interrupted")
    assert not verdicts([between], "staging").good("w")


def test_numbers_are_not_identities_after_a_reset_of_the_state_folder() -> None:
    """Records from before a reset name release 2 as bad; the new release 2 (another build) is not marked by them,
    and a record without identities (an older gates) says nothing about any release."""
    before_reset = [_record(1, "old-1", PASSED), _record(2, "old-2", {**PASSED, "gate": "failed"})]
    after_reset = [_record(1, "new-1", PASSED), _record(2, "new-2", PASSED)]
    legacy = {**_record(2, "?", {**PASSED, "gate": "failed"}), "builds": {}}
    said = verdicts([*before_reset, legacy, *after_reset], "staging")
    assert said.unfit([_release(1, "new-1"), _release(2, "new-2")]) == set()
    assert said.unfit([_release(2, "old-2")]) == {2}


def test_another_environments_steps_say_nothing_here() -> None:
    """A build that failed in production is still good on staging, where every step of it passed."""
    record = _record(1, "b", PASSED)
    record["steps"].append({"name": "gate", "env": "production", "outcome": "failed"})
    record["builds"]["production"] = {"versions": {"7": "b"}, "deployed": "b"}
    assert verdicts([record], "staging").good("b") and not verdicts([record], "production").good("b")


def test_a_crashed_record_says_the_step_its_journal_named_even_if_the_record_never_began_it(tmp_path: Path) -> None:
    """Killed between its journal's intent and the record's step: the repair adds that step, interrupted, so the record
    and the ledger say where it died (and its release is bad there)."""
    from gates.evidence.record import Record, mark_crashed
    from gates.evidence.state import StepRecord

    record = Record(tmp_path)
    record.steps.append(StepRecord("deploy", "staging", outcome="passed"))
    record.write()
    closed = mark_crashed(record.dir, ("gate", "staging"))
    assert closed is not None and closed.reason == "interrupted (crashed at gate staging)" and closed.ended_at
    assert [(s.name, s.env, s.outcome) for s in closed.steps] == [("deploy", "staging", "passed"), ("gate", "staging", "interrupted")]
    assert mark_crashed(record.dir, ("gate", "staging")) is None  # closed once
