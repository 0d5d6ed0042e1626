"""gates' own schema in an environment's database: the release lock's holders and the release ledger.

Like ``supabase_migrations`` (the Supabase CLI's history), ``gates`` belongs to the tool, not to the
app: it is never one of the API's exposed schemas, its tables have RLS on with no policy, and
PUBLIC, ``anon`` and ``authenticated`` hold no privilege on it. Created idempotently by whichever
gates command first needs it, under a transaction-level advisory lock so two machines creating it
at once do not collide.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING, Any

from gates.config import Config, DatabaseConfig
from gates.core.errors import ConfigError
from gates.core.redact import redact

if TYPE_CHECKING:
    import psycopg

SCHEMA = "gates"
API_ROLES = ("anon", "authenticated")

# Server-side keepalives: a holder whose machine vanishes (no FIN ever sent) is noticed by the server
# within about a minute and its session (with its advisory lock) ends. Any user may set these.
# idle_session_timeout=0 (Postgres 14+): the lock's session is idle for the whole release and must not
# be cut. Set after connecting, not as startup options, which some poolers refuse. Its statements and
# lock waits are bounded by [database] (see connect).
_SESSION_SETTINGS = (
    ("tcp_keepalives_idle", "30"),
    ("tcp_keepalives_interval", "10"),
    ("tcp_keepalives_count", "3"),
    ("idle_session_timeout", "0"),
)

_DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.locks (
        key bigint primary key,
        app text not null,
        env text not null,
        holder text not null,
        machine text not null,
        pid integer not null,
        record text not null default '',
        command text not null default '',
        started_at timestamptz not null default now(),
        backend_pid integer not null default pg_backend_pid()
    )""",
    f"""create table if not exists {SCHEMA}.releases (
        id bigint generated always as identity primary key,
        app text not null,
        env text not null,
        kind text not null,
        record text not null default '',
        outcome text not null,
        reason text not null default '',
        started_at timestamptz,
        ended_at timestamptz,
        commit text not null default '',
        release_before integer,
        release_after integer,
        serving integer,
        signed_by text not null default '',
        evidence text not null default '',
        holder text not null default '',
        machine text not null default '',
        steps jsonb not null default '[]',
        releases jsonb not null default '{{}}',
        rollback jsonb,
        written_at timestamptz not null default now()
    )""",
    f"create index if not exists releases_app_env on {SCHEMA}.releases (app, env, id desc)",
    # Added after the table's first version: a ledger written by an older gates gains it in place.
    f"alter table {SCHEMA}.releases add column if not exists builds jsonb not null default '{{}}'",
    f"alter table {SCHEMA}.locks enable row level security",
    f"alter table {SCHEMA}.releases enable row level security",
    f"revoke all on schema {SCHEMA} from public",
    f"revoke all on all tables in schema {SCHEMA} from public",
    f"revoke all on all sequences in schema {SCHEMA} from public",
)


def check_not_exposed(config: Config) -> None:
    """ConfigError when the API would expose gates' schema: it holds who releases what, for gates alone."""
    from gates.database.exposed import exposed_schemas, supabase_config

    if SCHEMA in exposed_schemas(config).schemas:
        # Exposed by gates' config when it names the schemas, else by the app's supabase/config.toml.
        where = (
            (config.path, "app.exposed_schemas")
            if config.app.exposed_schemas
            else (supabase_config(config), "api.schemas")
        )
        raise ConfigError(
            *where,
            f"schema {SCHEMA!r} is gates' own (the release lock and ledger): it must not be exposed through the API",
        )


def said(exc: BaseException) -> str:
    """The first line of an error from the database or the network, secrets masked."""
    text = str(exc).strip()
    return redact(text.splitlines()[0] if text else type(exc).__name__)


def key_of(*parts: str) -> int:
    """A stable signed 64-bit advisory lock key for ``parts`` (the same on every machine and Python)."""
    digest = hashlib.sha256("\0".join(("gates", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_SCHEMA_KEY = key_of("schema")


def connect(url: str, purpose: str, waits: DatabaseConfig | None = None) -> psycopg.Connection[Any]:
    """An autocommit session to ``url`` with keepalives on, named in ``pg_stat_activity`` by ``purpose``; its
    lock waits and statements bounded by ``waits`` (``[database] lock_timeout``, ``step_statement_timeout``),
    a cancelled statement's error naming the lock and its holder."""
    # Imported here, where a session starts, not with the module: `gates rollback` imports this module, and
    # psycopg is a good part of its start-up, paid only where the environment's database holds its lock or ledger.
    import psycopg

    from gates.database.waits import BoundedCursor, connect_timeout, set_bounds

    bounds = waits or DatabaseConfig()
    conn = psycopg.connect(
        url,
        autocommit=True,
        connect_timeout=connect_timeout(bounds),
        keepalives=1,
        keepalives_idle=30,
        keepalives_interval=10,
        keepalives_count=3,
        application_name=purpose[:63],
        cursor_factory=BoundedCursor,
    )
    for name, value in _SESSION_SETTINGS:
        # A server too old for a setting (UndefinedObject): the others still hold.
        with contextlib.suppress(psycopg.errors.UndefinedObject):
            conn.execute("select set_config(%s, %s, false)", (name, value))
    set_bounds(conn, bounds.lock_timeout, bounds.step_statement_timeout)
    return conn


def ensure(conn: psycopg.Connection[Any]) -> None:
    """Create the schema and its tables when missing, and (re)state that the API roles cannot use them."""
    from psycopg import sql  # loaded with the session by ``connect``: see there

    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_SCHEMA_KEY,))
        for statement in _DDL:
            conn.execute(statement)
        roles = conn.execute("select rolname from pg_roles where rolname = any(%s)", (list(API_ROLES),)).fetchall()
        for (role,) in roles:  # Supabase's API roles, where they exist (a plain Postgres has none)
            for what in (f"schema {SCHEMA}", f"all tables in schema {SCHEMA}", f"all sequences in schema {SCHEMA}"):
                conn.execute(sql.SQL("revoke all on {} from {}").format(sql.SQL(what), sql.Identifier(role)))
