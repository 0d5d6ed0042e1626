"""The release lock of an environment, held in its database so that every machine sees it.

A dedicated session takes ``pg_try_advisory_lock(key)``, the key derived from the app's and the
environment's names, and keeps it for as long as the release runs; a row of ``gates.locks`` names
the holder (user@host, machine, pid, record id, command, start). A second taker, from any machine,
is refused at once naming the holder from that row. Postgres ends the session of a holder that
dies (its socket closes; keepalives catch a machine that vanished), and the advisory lock goes with
it: there is no stale lock to take over. A row whose advisory lock is free was left by such a
holder: it is replaced, and the caller is told.

Session-level advisory locks need a session that stays one connection: point ``database_url_env``
at a direct (or session-mode pooler) URL, not a transaction-mode pooler.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import socket
from typing import TYPE_CHECKING, Any

from gates.config import DatabaseConfig
from gates.coordination.schema import SCHEMA, connect, ensure, key_of, said
from gates.core.errors import GatesError

if TYPE_CHECKING:
    import psycopg  # at run time imported where a session is used: gates.coordination.schema.connect says why


class LockHeld(GatesError):
    """Another live gates process works on the environment: exit 1, nothing done."""


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds (or held) an environment's lock: in a lock file, or in the row of ``gates.locks``."""

    pid: int
    host: str
    command: str
    started_at: str
    record: str = ""
    user: str = ""
    machine: str = ""  # the host and the CI run it serves, where there is one

    def describe(self) -> str:
        user = f"{self.user}@{self.host} " if self.user else ""
        record = f", record {self.record}" if self.record else ""
        return f"{user}pid {self.pid} on {self.machine or self.host} since {self.started_at}{record}: {self.command}"


_COLUMNS = "holder, machine, pid, command, started_at::text, record"


def who() -> tuple[str, str]:
    """(user@host, machine): how a lock's row and a ledger entry name who acted, and where."""
    return f"{user()}@{socket.gethostname()}", machine()


def machine() -> str:
    """This machine's name, with the CI run it serves when there is one (another runner is another machine)."""
    run = os.environ.get("GITHUB_RUN_ID", "")
    if run:
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        return f"{socket.gethostname()} ({server}/{os.environ.get('GITHUB_REPOSITORY', '?')}/actions/runs/{run})"
    return socket.gethostname()


def user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid without a passwd entry
        return f"uid {os.getuid()}"


class DatabaseLock:
    """One environment's lock in its database: ``acquire`` (LockHeld naming the holder), ``release``."""

    def __init__(self, url: str, app: str, env: str, holder: Holder, waits: DatabaseConfig | None = None) -> None:
        self.url, self.app, self.env, self.holder, self.waits = url, app, env, holder, waits
        self.key = key_of("release lock", app, env)
        self.replaced: Holder | None = None  # a row left by a holder whose session is gone
        self._conn: psycopg.Connection[Any] | None = None

    def acquire(self) -> None:
        import psycopg

        try:
            conn = connect(self.url, f"gates lock {self.app}/{self.env} pid {self.holder.pid}", self.waits)
        except psycopg.Error as exc:
            raise LockHeld(f"{self.env}: cannot take the release lock in its database: {said(exc)}") from None
        try:
            ensure(conn)
            (got,) = conn.execute("select pg_try_advisory_lock(%s)", (self.key,)).fetchone() or (False,)
            if not got:
                who = self._holder(conn)
                raise LockHeld(
                    f"{self.env}: another release holds the lock in the environment's database ({who}). "
                    "Wait for it to finish, or stop that process (Ctrl-C / SIGTERM releases the lock; "
                    "a killed holder's session ends and frees it)"
                )
            self.replaced = self._row(conn)
            self._write(conn)
        except psycopg.Error as exc:
            conn.close()
            raise LockHeld(f"{self.env}: cannot take the release lock in its database: {said(exc)}") from None
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def set_record(self, record: str) -> None:
        self.holder = dataclasses.replace(self.holder, record=record)
        if self._conn is None:
            return
        import psycopg

        try:
            self._conn.execute(
                f"update {SCHEMA}.locks set record = %s where key = %s and backend_pid = pg_backend_pid()",
                (record, self.key),
            )
        except psycopg.Error as exc:  # the session (and with it the lock) is gone: go no further
            raise LockHeld(f"{self.env}: lost the release lock in its database: {said(exc)}") from None

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        import psycopg

        try:
            conn.execute(f"delete from {SCHEMA}.locks where key = %s and backend_pid = pg_backend_pid()", (self.key,))
            conn.execute("select pg_advisory_unlock(%s)", (self.key,))
        except psycopg.Error:
            pass  # closing the session below frees the advisory lock anyway; a left row is replaced next time
        finally:
            conn.close()

    def _row(self, conn: psycopg.Connection[Any]) -> Holder | None:
        row = conn.execute(f"select {_COLUMNS} from {SCHEMA}.locks where key = %s", (self.key,)).fetchone()
        if row is None:
            return None
        holder, machine, pid, command, started_at, record = row
        # The row's holder is user@host: split at the last @ (a user name may hold one, a host name may not).
        user, _, host = str(holder).rpartition("@")
        return Holder(pid, host, command, started_at, record, user, machine)

    def _holder(self, conn: psycopg.Connection[Any]) -> str:
        """The holder as its row names it; else the session holding the advisory lock, from pg_stat_activity."""
        holder = self._row(conn)
        if holder is not None:
            return holder.describe()
        session = conn.execute(
            "select a.application_name, coalesce(host(a.client_addr), 'local'), a.backend_start::text "
            "from pg_locks l join pg_stat_activity a on a.pid = l.pid "
            "where l.locktype = 'advisory' and l.granted and l.objsubid = 1 "
            "and ((l.classid::bigint << 32) | l.objid::bigint) = %s",
            (self.key,),
        ).fetchone()
        if session is None:
            return "a session that has just ended"
        name, client, since = session
        return f"a session that has not written its name yet: {name or 'unnamed'} from {client} since {since}"

    def _write(self, conn: psycopg.Connection[Any]) -> None:
        c = self.holder
        conn.execute(
            f"insert into {SCHEMA}.locks (key, app, env, holder, machine, pid, record, command, started_at) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s) on conflict (key) do update set "
            "app = excluded.app, env = excluded.env, holder = excluded.holder, machine = excluded.machine, "
            "pid = excluded.pid, record = excluded.record, command = excluded.command, "
            "started_at = excluded.started_at, backend_pid = pg_backend_pid()",
            (self.key, self.app, self.env, f"{c.user}@{c.host}", c.machine, c.pid, c.record, c.command, c.started_at),
        )
