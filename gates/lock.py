"""One release at a time per environment: a lock file naming its holder.

``<state_dir>/<env>/release.lock`` holds an exclusive ``flock`` for as long as a gates command
(deploy, rollback, migrate, restore) works on the environment, and a JSON line naming the holder
(pid, host, command, started_at, record id). The kernel drops a flock when its process dies, so
a lock whose file still names a holder while nobody holds the flock was left by a killed process:
it is reported as stale and taken over. A lock held by a live process is refused at once (no
waiting: a release takes minutes), naming the holder.

The lock is machine-local: two machines deploying the same Fly app do not see each other's lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import shlex
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from gates.config import Config
from gates.errors import GatesError
from gates.redact import redact


class LockHeld(GatesError):
    """Another live gates process works on the environment: exit 1, nothing done."""


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds (or held) an environment's lock."""

    pid: int
    host: str
    command: str
    started_at: str
    record: str = ""

    def describe(self) -> str:
        record = f", record {self.record}" if self.record else ""
        return f"pid {self.pid} on {self.host} since {self.started_at}{record}: {self.command}"


def lock_path(config: Config, env: str) -> Path:
    return config.state_dir / env / "release.lock"


class ReleaseLock:
    """The locks of several environments, taken all or none (in name order, so two takers cannot deadlock)."""

    def __init__(self, config: Config, envs: Sequence[str], argv: Sequence[str] | None = None) -> None:
        self.paths = {env: lock_path(config, env) for env in sorted(set(envs))}
        self.me = Holder(
            pid=os.getpid(),
            host=socket.gethostname(),
            command=redact(shlex.join(["gates", *(sys.argv[1:] if argv is None else argv)])),
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        self.stale: list[str] = []  # one line per stale lock taken over
        self._files: dict[str, IO[str]] = {}

    def acquire(self) -> None:
        """Take every lock; LockHeld naming the holder (and nothing kept) when one is held by a live process."""
        try:
            for env, path in self.paths.items():
                self._take(env, path)
        except BaseException:
            self.release()
            raise

    def set_record(self, record_id: str) -> None:
        """Name the release's record in every lock file, so a refused caller knows where to look."""
        self.me = dataclasses.replace(self.me, record=record_id)
        for fh in self._files.values():
            _write(fh, self.me)

    def release(self) -> None:
        for fh in self._files.values():
            with contextlib.suppress(OSError):
                fh.seek(0)
                fh.truncate()  # an empty file is a free lock left cleanly
                fh.flush()
                fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()
        self._files.clear()

    def __enter__(self) -> ReleaseLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _take(self, env: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fh)
            fh.close()
            who = holder.describe() if holder else "a process that has not written its name yet"
            raise LockHeld(
                f"{env}: another release holds the lock ({who}); lock file {path}. "
                "Wait for it to finish, or stop that process (Ctrl-C / SIGTERM releases the lock)"
            ) from None
        previous = _read(fh)
        if previous is not None:
            # The kernel released the flock of a holder that died without cleaning up.
            state = "not running" if not _alive(previous.pid) else "running but no longer holding it"
            self.stale.append(f"{env}: stale lock of {previous.describe()} ({state}) taken over")
        _write(fh, self.me)
        self._files[env] = fh


def _read(fh: IO[str]) -> Holder | None:
    fh.seek(0)
    text = fh.read().strip()
    if not text:
        return None
    try:
        data: Any = json.loads(text)
        return Holder(**data)
    except (ValueError, TypeError):
        return Holder(pid=0, host="?", command=f"unreadable lock content {text[:80]!r}", started_at="?")


def _write(fh: IO[str], holder: Holder) -> None:
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps(dataclasses.asdict(holder)) + "\n")
    fh.flush()


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
