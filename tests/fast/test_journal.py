"""The intent journal: a live release's journal is never read as a dead one; a dead one's is found once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gates.coordination.journal import Journal, unfinished
from gates.evidence.record import Record, mark_crashed
from gates.evidence.state import StepRecord


def test_a_live_journal_is_not_unfinished_and_a_normal_end_removes_it(tmp_path: Path) -> None:
    """While the process holds it the journal is locked (never listed); leaving the block removes it."""
    with Journal(tmp_path, "deploy", tmp_path / "record") as journal:
        journal.intend("migrate", "staging")
        assert unfinished(tmp_path) == []
        assert json.loads(journal.path.read_text())["step"] == "migrate"
        assert not list((tmp_path / "journal").glob(".*"))  # renamed into place, no hidden name left
    assert not list((tmp_path / "journal").iterdir())


def test_a_journal_nobody_holds_is_unfinished_with_its_intent(tmp_path: Path) -> None:
    """A file left by a process that died names its command, record and step; closing it removes it."""
    folder = tmp_path / "journal"
    folder.mkdir()
    intent = {"command": "deploy", "pid": 4242, "record": "/r", "step": "deploy", "env": "production", "at": "t"}
    (folder / "4242-abc.json").write_text(json.dumps(intent))
    (folder / ".4243-def.json").write_text("")  # one still being written: not a crash
    (left,) = unfinished(tmp_path)
    assert left.intent.where == "deploy production" and left.intent.pid == 4242
    left.close()
    assert unfinished(tmp_path) == []


def test_a_journal_whose_release_ends_while_it_is_read_is_not_a_crash(tmp_path: Path, monkeypatch: Any) -> None:
    """A reader that opened a live journal just before its release ended (file removed, then the lock let go)
    gets the lock on a removed file: that release finished, and nothing is reported or repaired."""
    import fcntl

    from gates.coordination import journal as journal_mod

    owner = Journal(tmp_path, "deploy", tmp_path / "record").__enter__()
    owner.intend("gate", "production")
    real_flock = fcntl.flock

    def release_ends_first(fh: Any, flags: int) -> None:
        owner.__exit__(None, None, None)  # the release ends between the reader's open and its lock
        real_flock(fh, flags)

    monkeypatch.setattr(journal_mod.fcntl, "flock", release_ends_first)
    assert unfinished(tmp_path) == []


def test_a_journal_names_every_step_in_progress_and_a_crash_closes_each(tmp_path: Path) -> None:
    """Steps beside each other: the journal keeps each while it runs (a dead one's intent names them all, in the
    order they began); a step that ended leaves it; with none in progress it names the last one begun."""
    with Journal(tmp_path, "deploy", tmp_path / "record") as journal:
        journal.intend("preflight", "production")
        journal.intend("build", "staging")
        assert json.loads(journal.path.read_text())["running"] == [["preflight", "production"], ["build", "staging"]]
        journal.ended("build", "staging")
        assert journal.intent.where == "preflight production"
        journal.ended("preflight", "production")
        assert journal.intent.where == "build staging"  # between steps: the last one begun
        journal.intend("gate", "staging")
        journal.intend("backup", "production")
        left = json.loads(journal.path.read_text())
    folder = tmp_path / "journal"
    folder.mkdir(exist_ok=True)
    (folder / "4242-abc.json").write_text(json.dumps(left))
    (dead,) = unfinished(tmp_path)
    assert dead.intent.steps == (("gate", "staging"), ("backup", "production"))
    assert dead.intent.where == "gate staging, backup production"
    record = Record(tmp_path / "deploys")
    with record.lock:  # the gate began in the record; the backup died between its intent and its record
        record.steps.append(StepRecord("gate", "staging"))
        record.write()
    closed = mark_crashed(record.dir, *dead.intent.steps)
    assert closed is not None and closed.reason == "interrupted (crashed at gate staging, backup production)"
    assert [(s.title, s.outcome) for s in closed.steps] == [
        ("gate staging", "interrupted"),
        ("backup production", "interrupted"),
    ]
