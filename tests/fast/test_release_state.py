"""The typed release state: each verdict computed once, and what record.json keeps of it."""

from __future__ import annotations

from gates.evidence.state import Backup, DocsUpdate, Drill, Notification, ReleaseState, Rollback, Signoff, StepRecord


def test_a_drill_is_ok_when_passed_or_waived_and_says_so_the_same_way_everywhere() -> None:
    """The drill's verdict and its words come from one place: passed, waived with the reason, or failed."""
    assert Drill("staging", passed=True).ok and Drill("staging", passed=True).said == "passed on staging"
    waived = Drill("staging", waived="first release")
    assert waived.ok and waived.said == "waived: first release"
    failed = Drill("staging")
    assert not failed.ok and failed.said == "the drill on staging failed"
    assert ReleaseState().drill_said() == "no rollback drill ran in this release"


def test_only_a_verified_backup_of_that_environment_counts_as_proven() -> None:
    """A backup that was not restored, or of another environment, is no proven backup."""
    state = ReleaseState()
    state.backups["staging"] = Backup("staging", "b/s.dump", 10, "ab" * 32, verified=True)
    state.backups["production"] = Backup("production", "b/p.dump", 10, "cd" * 32, verified=False)
    assert state.proven_backup("staging") is not None
    assert state.proven_backup("production") is None and state.proven_backup("qa") is None


def test_the_record_keeps_the_facts_under_their_documented_keys() -> None:
    """record.json: drill, backup, probe, rollback with from/to, notifications, waivers."""
    state = ReleaseState(drill=Drill("staging", passed=True))
    state.backups["production"] = Backup("production", "backups/p.dump", 5, "ef" * 32, verified=True)
    state.rollback = Rollback("production", 3, 2, "gate failed", ["x: failed"])
    state.notifications.append(Notification("started", 0.0, "hi", True, "HTTP 200"))
    state.waivers["staging: test_x"] = "checked elsewhere"
    data = state.as_dict()
    assert data["drill"]["passed"] is True and data["backup"]["path"] == "backups/p.dump"
    assert data["rollback"]["from"] == 3 and data["rollback"]["to"] == 2 and "from_version" not in data["rollback"]
    assert data["notifications"][0]["delivered"] is True
    assert data["waived"] == {"staging: test_x": "checked elsewhere"}
    assert [n.event for n in state.delivered()] == ["started"]


def test_the_state_reads_back_from_its_record_keys_unchanged() -> None:
    """ReleaseState.from_dict(as_dict()) is the same state: a record can be loaded to add what comes after it."""
    state = ReleaseState(production_env="prod", drill=Drill("staging", passed=True, timings={"rollback": 1.5}))
    state.backups["prod"] = Backup("prod", "backups/p.dump", 5, "ef" * 32, verified=True, tables=3)
    state.probes["prod"] = {"path": "probe-prod.jsonl", "failed": 0}
    state.signoff = Signoff("prod", [{"item": "preflight passed", "checked": True}], True, "ada", "t", "--approve")
    state.rollback = Rollback("prod", 3, 2, "gate failed", ["x: failed"], release=4)
    state.notifications.append(Notification("started", 0.0, "hi", True, "HTTP 200"))
    state.waivers["prod: test_x"] = "checked elsewhere"
    state.stale_locks.append("pid 1 on host")
    state.lock_scope, state.ledger = {"prod": "database"}, {"prod": "written to gates.releases of prod's database"}
    state.incident, state.feedback = "../../incidents/x.md", "../../feedback/d.md"
    state.docs = DocsUpdate(("docs/runbooks/production_deploy.md",), None)
    assert ReleaseState.from_dict(state.as_dict()) == state
    assert state.as_dict()["docs"] == {"updated": ["docs/runbooks/production_deploy.md"], "commit": None}
    assert ReleaseState.from_dict({}) == ReleaseState()


def test_a_step_reads_back_with_or_without_an_environment() -> None:
    """StepRecord.from_dict(as_dict()) keeps the step; a step without env (not written) reads back as None."""
    step = StepRecord("gate", "staging", "t0", "t1", "passed", "ok", ["staging-gate.html"])
    assert StepRecord.from_dict(step.as_dict()) == step
    assert StepRecord.from_dict(StepRecord("monitor", None).as_dict()).env is None
