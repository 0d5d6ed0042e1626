"""The intent journal: a live release's journal is never read as a dead one; a dead one's is found once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gates.coordination.journal import Journal, unfinished


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
