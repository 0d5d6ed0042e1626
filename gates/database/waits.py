"""Bounded database sessions, and what they wait on: the lock and its holder, named.

Every session gates opens on an environment's database (a gate's checks, the migrate step's history read
and the Supabase CLI's push, the migration rehearsal's reads and dump, backups, the ledger, the release
lock) carries ``lock_timeout`` and a statement timeout from ``[database]``, so a table someone holds locked
ends the step as failed within the bound instead of hanging it. The same query names the holder wherever a wait is told: in a cancelled
statement's error (``held_locks``), and on the progress line while the wait goes on (``LockWatch``).
"""

from __future__ import annotations

import contextlib
import math
import weakref
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from gates.config import DatabaseConfig

# The name the Supabase CLI's sessions give themselves (3.1.0 drives Postgres through @effect/sql-pg, which
# sets application_name in its startup packet and so overrides one passed in the URL's options).
SUPABASE_CLI_SESSION = "@effect/sql-pg"
PROBE_TIMEOUT = 5  # seconds: connecting and asking pg_stat_activity, for a progress line that is a courtesy

# Relations other sessions hold a lock on that blocks reading (ACCESS EXCLUSIVE) or writing, with who holds it.
_LOCKS_HELD = """
select n.nspname || '.' || c.relname, l.mode, l.pid, coalesce(a.application_name, ''), coalesce(a.query, '')
from pg_locks l
join pg_class c on c.oid = l.relation
join pg_namespace n on n.oid = c.relnamespace
left join pg_stat_activity a on a.pid = l.pid
where l.granted and l.locktype = 'relation' and l.pid <> pg_backend_pid()
  and l.database = (select oid from pg_database where datname = current_database())
  and l.mode in ('AccessExclusiveLock', 'ExclusiveLock', 'ShareRowExclusiveLock', 'ShareLock')
order by l.mode = 'AccessExclusiveLock' desc, 1
"""

# Sessions of this database named ``like`` any of the patterns that wait on a relation's lock now: the
# relation, the mode wanted, for how long, and the sessions holding it (pid, name, query).
_WAITING = """
select n.nspname || '.' || c.relname, w.mode, extract(epoch from now() - a.query_start)::float,
       coalesce((select string_agg(format('pid %%s, %%s: %%L', b.pid, coalesce(nullif(b.application_name, ''),
                 'unnamed'), left(regexp_replace(b.query, '\\s+', ' ', 'g'), 80)), '; ')
                 from pg_stat_activity b where b.pid = any(pg_blocking_pids(a.pid))), 'a session that has ended')
from pg_stat_activity a
join pg_locks w on w.pid = a.pid and not w.granted and w.locktype = 'relation'
join pg_class c on c.oid = w.relation
join pg_namespace n on n.oid = c.relnamespace
where a.datname = current_database() and a.wait_event_type = 'Lock' and a.application_name like any(%s)
order by 3 desc
"""


def milliseconds(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def _shown(seconds: float) -> str:
    """A bound as Postgres's SHOW says it: whole seconds in s, else ms."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


# The bounds set on each open session: a statement cancelled inside a transaction leaves it aborted, where
# not even SHOW answers, yet the error must still name its bound.
_BOUNDS: weakref.WeakKeyDictionary[psycopg.Connection[Any], dict[str, str]] = weakref.WeakKeyDictionary()


def connect_timeout(waits: DatabaseConfig) -> int:
    """How long a session of gates may take to connect: as long as one of its statements may run (``[database]
    statement_timeout``), in the whole seconds libpq takes, at least the 2 s it enforces (a shorter one it reads as
    2, and an error naming the bound must name the one applied)."""
    return max(2, math.ceil(waits.statement_timeout))


def set_bounds(conn: psycopg.Connection[Any], lock_timeout: float, statement_timeout: float) -> None:
    """Bound every later statement of ``conn``. SET rather than startup options: poolers (Supabase's among
    them) may drop those."""
    _BOUNDS[conn] = {"lock_timeout": _shown(lock_timeout), "statement_timeout": _shown(statement_timeout)}
    for name, seconds in (("lock_timeout", lock_timeout), ("statement_timeout", statement_timeout)):
        conn.execute(
            sql.SQL("select set_config({}, {}, false)").format(sql.Literal(name), sql.Literal(milliseconds(seconds)))
        )


def step_session(url: str, purpose: str, waits: DatabaseConfig) -> psycopg.Connection[Any]:
    """An autocommit session of a release step, named ``purpose`` in pg_stat_activity, bounded by ``[database]
    lock_timeout`` and ``step_statement_timeout``; a cancelled statement's error names the lock and its holder."""
    conn = psycopg.connect(
        url, autocommit=True, connect_timeout=connect_timeout(waits), application_name=purpose[:63],
        cursor_factory=BoundedCursor,
    )  # fmt: skip
    set_bounds(conn, waits.lock_timeout, waits.step_statement_timeout)
    return conn


def with_bounds(url: str, waits: DatabaseConfig) -> str:
    """``url`` with ``options=-c lock_timeout=.. -c statement_timeout=..`` added (kept after any options it has):
    for clients that take neither PGOPTIONS nor a SET, such as the Supabase CLI, which honours the URL's options
    (and, being a startup setting, they survive the ``RESET ALL`` it runs between migration files)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    bounds = f"-c lock_timeout={milliseconds(waits.lock_timeout)} -c statement_timeout={milliseconds(waits.step_statement_timeout)}"
    had = " ".join(v for k, v in query if k == "options")
    query = [(k, v) for k, v in query if k != "options"] + [("options", f"{had} {bounds}".strip())]
    # %20, not '+', for spaces: the URL is read by libpq-style parsers.
    encoded = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
    return urlunsplit(parts._replace(query=encoded))


def pg_options(waits: DatabaseConfig) -> dict[str, str]:
    """PGOPTIONS bounding the sessions of libpq clients (pg_dump, pg_restore): the lock wait, and each statement."""
    return {
        "PGOPTIONS": f"-c lock_timeout={milliseconds(waits.lock_timeout)} "
        f"-c statement_timeout={milliseconds(waits.step_statement_timeout)}"
    }


_CANCELLED = (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled)


class BoundedCursor(psycopg.Cursor[Any]):
    """A cursor whose statement cancelled by ``lock_timeout`` or ``statement_timeout`` raises the same error
    class with a message naming the bound and the relation it waited on with its holder (``held_locks``), so a
    check that reports ``query failed: <message>`` says what blocked it."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> BoundedCursor:
        try:
            super().execute(query, params, **kwargs)
        except _CANCELLED as exc:
            raise type(exc)(self._explain(exc, query)) from None  # the message names the bound and the holder
        return self

    def _explain(self, exc: psycopg.Error, query: Any) -> str:
        bound = "lock_timeout" if isinstance(exc, psycopg.errors.LockNotAvailable) else "statement_timeout"
        text = query.as_string(self.connection) if isinstance(query, sql.Composable) else str(query)
        conn = self.connection
        setting = _BOUNDS.get(conn, {}).get(bound, "")
        waited = ""
        with contextlib.suppress(psycopg.Error):
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                # The aborted transaction answers nothing: ask from a session of its own.
                url = make_conninfo(conn.info.dsn, password=conn.info.password or None)
                waited = held_locks_at(url, text)
            else:
                waited = held_locks(conn, text)
        statement = " ".join(text.split())[:120]
        return f"{bound} ({setting or 'set'}) cancelled the statement: {waited or 'the statement did not finish'}; statement: {statement}"


def held_locks(conn: psycopg.Connection[Any], statement: str = "") -> str:
    """Text "waited on <relation> (<mode> held by pid N, <name>: '<query>')" for the locks other sessions hold on
    the relations ``statement`` names (none named, a view or a function, or no statement: every such lock);
    "" when nothing is held (the holder let go meanwhile)."""
    held = psycopg.Cursor(conn).execute(_LOCKS_HELD).fetchall()
    words = " ".join(statement.lower().replace('"', "").split())
    named = [h for h in held if h[0].lower() in words or h[0].split(".", 1)[1].lower() in words] or held
    if not named:
        return ""
    return "waited on " + "; ".join(
        f"{rel} ({mode} held by pid {pid}, {app or 'unnamed'}: {' '.join(q.split())[:80]!r})"
        for rel, mode, pid, app, q in named[:3]
    )


def held_locks_at(url: str, statement: str = "") -> str:
    """``held_locks`` asked from a session of its own (the one that waited may be gone: a CLI that exited)."""
    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(url, autocommit=True, connect_timeout=PROBE_TIMEOUT) as conn,
    ):
        set_bounds(conn, PROBE_TIMEOUT, PROBE_TIMEOUT)
        return held_locks(conn, statement)
    return ""


class LockWatch:
    """What the sessions named like ``names`` (SQL ``like`` patterns) wait on in the database at ``url``, asked
    at each beat of a progress line (``Reporter.waiting(..., detail=watch.detail)``); ``last`` keeps the newest
    wait seen, for the error once the bound ends it."""

    def __init__(self, url: str, names: tuple[str, ...], waits: DatabaseConfig) -> None:
        self.url, self.names, self.waits = url, names, waits
        self.last = ""

    def detail(self) -> str:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=PROBE_TIMEOUT) as conn:
            set_bounds(conn, PROBE_TIMEOUT, PROBE_TIMEOUT)
            rows = conn.execute(_WAITING, (list(self.names),)).fetchall()
        if not rows:
            return ""
        rel, mode, seconds, holders = rows[0]
        self.last = f"waiting on {rel} ({mode} wanted) held by {holders}"
        return f"{self.last}; {seconds:.0f}s of lock_timeout {self.waits.lock_timeout:g}s"
