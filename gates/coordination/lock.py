"""One release at a time per environment: a lock file naming its holder, and the lock in its database.

``<state_dir>/<env>/release.lock`` holds an exclusive ``flock`` for as long as a gates command
(deploy, rollback, migrate, restore) works on the environment, and a JSON line naming the holder
(pid, host, command, started_at, record id). The kernel drops a flock when its process dies, so
a lock whose file still names a holder while nobody holds the flock was left by a killed process:
it is reported as stale and taken over. A lock held by a live process is refused at once (no
waiting: a release takes minutes), naming the holder.

The file lock is machine-local (it guards this machine's state of the local platform). An
environment with a database of its own (``database_url_env``) is also locked in that database
(gates/coordination/dblock.py), which every machine releasing it reaches: a second release from another machine
is refused naming the holder, and a killed holder's session frees it by itself. An environment
without one keeps the file lock alone, and ``scope`` says so.
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

from gates.config import Config, Environment
from gates.coordination import ledger
from gates.coordination.dblock import DatabaseLock, Holder, LockHeld, machine, user
from gates.coordination.schema import check_not_exposed
from gates.core.redact import redact

__all__ = ["Holder", "LockHeld", "ReleaseLock", "lock_path", "lock_scope"]


def lock_path(config: Config, env: str) -> Path:
    return config.state_dir / env / "release.lock"


def lock_scope(env: Environment) -> str:
    """Where the environment's release lock is held: ``database``, or why only on this machine."""
    if env.database_url_env:
        return "database"
    if env.uses_local_cluster:
        return "this machine only: its database is gates' local cluster on this machine"
    return "this machine only: it has no database to hold the lock (database_url_env)"


class ReleaseLock:
    """The locks of several environments, taken all or none (in name order, so two takers cannot deadlock)."""

    def __init__(self, config: Config, envs: Sequence[str], argv: Sequence[str] | None = None) -> None:
        self.config = config
        self.paths = {env: lock_path(config, env) for env in sorted(set(envs))}
        self.me = Holder(
            pid=os.getpid(),
            host=socket.gethostname(),
            command=redact(shlex.join(["gates", *(sys.argv[1:] if argv is None else argv)])),
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        self.stale: list[str] = []  # one line per stale lock taken over (a file, or a row in a database)
        # env -> where its lock is held ("database", or "this machine only: <why>")
        self.scope = {env: lock_scope(config.environment(env)) for env in self.paths}
        self._files: dict[str, IO[str]] = {}
        self._databases: list[DatabaseLock] = []

    def acquire(self) -> None:
        """Take every lock, this machine's files first; LockHeld naming the holder (and nothing kept) when one
        is held by a live process, here or, through the environment's database, on any machine."""
        try:
            for env, path in self.paths.items():
                self._take(env, path)
            for env, scope in self.scope.items():
                if scope == "database":
                    self._take_in_database(env)
        except BaseException:
            self.release()
            raise

    def set_record(self, record_id: str) -> None:
        """Name the release's record in every lock, so a refused caller knows where to look."""
        self.me = dataclasses.replace(self.me, record=record_id)
        for fh in self._files.values():
            _write(fh, self.me)
        for db in self._databases:
            db.set_record(record_id)

    def machine_only(self) -> list[str]:
        """One line per environment whose lock this machine alone sees, saying why."""
        return [f"{env}: release lock held on {scope}" for env, scope in self.scope.items() if scope != "database"]

    def release(self) -> None:
        for db in reversed(self._databases):
            db.release()
        self._databases.clear()
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

    def _take_in_database(self, env: str) -> None:
        from gates.database import database_url

        check_not_exposed(self.config)
        me = self.me
        holder = dataclasses.replace(me, user=user(), machine=machine())
        url = database_url(self.config, self.config.environment(env))
        db = DatabaseLock(url, self.config.app.name, env, holder, self.config.database)
        db.acquire()
        self._databases.append(db)
        if db.replaced is not None:
            self.stale.append(f"{env}: database lock row of {db.replaced.describe()} (its session is gone) replaced")
            if self.config.record.ledger:  # the dead holder could not say how it ended: say it for it
                ledger.write(
                    self.config, self.config.environment(env), ledger.lost_entry(self.config, env, db.replaced)
                )


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
