"""The intent journal: what a running release is about to do, written before it does it.

Each ``gates deploy`` or ``gates rollback`` keeps one file under ``<state dir>/journal/``, locked
(flock) for as long as the process lives, and rewrites it before every step acts. A process that
ends normally (a failure, Ctrl-C or SIGTERM included) removes its file. A file whose lock can be
taken was left by a process that died (SIGKILL, a lost machine): the next gates command finds it
(``unfinished``), says what was interrupted, and repairs it (gates.coordination.recovery).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from gates.core.measurement import utcnow


@dataclasses.dataclass(frozen=True)
class Intent:
    command: str  # deploy | rollback
    pid: int
    record: str  # the record folder ('' when the command keeps none)
    step: str = ""
    env: str = ""
    at: str = ""
    # Every step in progress, (step, env), in the order they began: steps may run beside each other
    # (gates.release.schedule), and a crash leaves each of them to close and repair, not only the last one's.
    running: tuple[tuple[str, str], ...] = ()

    @property
    def steps(self) -> tuple[tuple[str, str], ...]:
        """The steps it was in: those in progress, else the last one it began (none before its first)."""
        return self.running or (((self.step, self.env),) if self.step else ())

    @property
    def where(self) -> str:
        return ", ".join(f"{step} {env}".strip() for step, env in self.steps) or "start"


class Journal:
    """The journal file of this process; a context manager that removes it on a normal end."""

    def __init__(self, state_dir: Path, command: str, record: Path | None = None) -> None:
        folder = state_dir / "journal"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{os.getpid()}-{secrets.token_hex(3)}.json"
        self.intent = Intent(command, os.getpid(), str(record or ""))
        self._fh: IO[str] | None = None

    def __enter__(self) -> Journal:
        # Written and locked under a hidden name, then renamed into place (the lock follows the file): a reader
        # never finds this journal unlocked or empty, so a live release is never taken for a dead one.
        hidden = self.path.with_name(f".{self.path.name}")
        self._fh = hidden.open("w")
        fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._write()
        hidden.rename(self.path)
        return self

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)
        if self._fh is not None:
            self._fh.close()  # drops the lock

    def intend(self, step: str, env: str | None) -> None:
        """Say, before it acts, which step of which environment runs now (beside those still in progress)."""
        running = (*self.intent.running, (step, env or ""))
        self.intent = dataclasses.replace(
            self.intent, step=step, env=env or "", at=utcnow().isoformat(), running=running
        )
        self._write()

    def ended(self, step: str, env: str | None) -> None:
        """Say that a step is no longer in progress (its record holds its end)."""
        running = tuple(r for r in self.intent.running if r != (step, env or ""))
        self.intent = dataclasses.replace(self.intent, running=running)
        self._write()

    def _write(self) -> None:
        if self._fh is None:
            return
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(json.dumps(dataclasses.asdict(self.intent)))
        self._fh.flush()
        os.fsync(self._fh.fileno())


@dataclasses.dataclass(frozen=True)
class Unfinished:
    """A journal file whose process died: what it was doing, and the file to remove once repaired."""

    intent: Intent
    path: Path

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


def unfinished(state_dir: Path) -> list[Unfinished]:
    """The intents of processes that died before finishing (their journal files are no longer locked)."""
    found: list[Unfinished] = []
    for path in sorted((state_dir / "journal").glob("*.json")):
        if path.name.startswith("."):
            continue  # still being written under its hidden name (see Journal.__enter__)
        with _unlocked(path) as text:
            if text is None:
                continue  # a live process holds it
            try:
                data = json.loads(text)
                running = tuple((str(step), str(env)) for step, env in data.pop("running", None) or ())
                intent = Intent(**data, running=running)
            except (ValueError, TypeError, AttributeError):
                intent = Intent("unknown", 0, "", at="(unreadable journal)")
            found.append(Unfinished(intent, path))
    return found


@contextlib.contextmanager
def _unlocked(path: Path) -> Iterator[str | None]:
    """The file's text if no live process locks it, else None."""
    try:
        fh = path.open("r")
    except OSError:
        yield None
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield None
            return
        if os.fstat(fh.fileno()).st_nlink == 0:
            # Its process finished between our open and our lock: it removes the file, then lets go of the
            # lock. A finished release, not a crashed one.
            yield None
            return
        yield fh.read()
