"""Databases of environments: the local cluster, migrations, backups."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import psycopg
from psycopg import sql

from gates.config import Config, DatabaseConfig, Environment
from gates.errors import ConfigError


def database_url(config: Config, env: Environment) -> str:
    """The URL of an environment's database: its named env var, or the local cluster's database."""
    if env.database_url_env:
        value = os.environ.get(env.database_url_env)
        if not value:
            raise ConfigError(
                config.path,
                f"environments.{env.name}.database_url_env",
                f"environment variable {env.database_url_env} is not set",
            )
        return value
    if not env.uses_local_cluster:
        raise ConfigError(
            config.path, f"environments.{env.name}.database_url_env", "required outside the local platform"
        )
    from gates.database.cluster import LocalCluster

    return LocalCluster.for_config(config).url(local_database_name(env))


def local_database_name(env: Environment) -> str:
    return f"gates_{env.name}".replace("-", "_")


def has_database(env: Environment) -> bool:
    """Whether the environment has a database: one it names, or gates' local cluster for a local one."""
    return env.has_database


def uses_local_cluster(env: Environment) -> bool:
    return env.uses_local_cluster


def prepare_database(config: Config, env: Environment) -> str:
    """Make sure the environment's database exists (starting the local cluster if it is one); return its URL."""
    if not uses_local_cluster(env):
        return database_url(config, env)
    from gates.database.cluster import LocalCluster

    cluster = LocalCluster.for_config(config)
    cluster.start()
    return cluster.ensure_database(local_database_name(env))


def gate_connection(url: str, env: Environment, config: Config | None = None) -> psycopg.Connection[Any]:
    """The connection a gate's checks use: autocommit, every statement bounded, read-only by default on production.

    ``statement_timeout`` and ``lock_timeout`` (``[database]``) make a locked table or a stuck query a failed
    check naming what it waited on (see ``BoundedCursor``), never a gate that hangs.
    ``default_transaction_read_only`` stops accidents, not attackers (a session may turn it off):
    the real boundary is a SELECT-only role in the URL the environment names.
    """
    waits = config.database if config is not None else DatabaseConfig()
    options = "-c default_transaction_read_only=on" if env.is_production else ""
    conn = psycopg.connect(url, autocommit=True, connect_timeout=10, options=options, cursor_factory=BoundedCursor)
    # SET rather than startup options: poolers (Supabase's among them) may drop those.
    for name in ("statement_timeout", "lock_timeout"):
        conn.execute(sql.SQL("select set_config({}, {}, false)").format(
            sql.Literal(name), sql.Literal(f"{round(getattr(waits, name) * 1000)}ms")))  # fmt: skip
    return conn


_CANCELLED = (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled)

# Relations other sessions hold a lock on that blocks reading (ACCESS EXCLUSIVE) or writing, with who holds it.
_LOCKS_HELD = """
select n.nspname || '.' || c.relname, l.mode, l.pid, coalesce(a.query, '')
from pg_locks l
join pg_class c on c.oid = l.relation
join pg_namespace n on n.oid = c.relnamespace
left join pg_stat_activity a on a.pid = l.pid
where l.granted and l.locktype = 'relation' and l.pid <> pg_backend_pid()
  and l.database = (select oid from pg_database where datname = current_database())
  and l.mode in ('AccessExclusiveLock', 'ExclusiveLock', 'ShareRowExclusiveLock', 'ShareLock')
order by l.mode = 'AccessExclusiveLock' desc, 1
"""


class BoundedCursor(psycopg.Cursor[Any]):
    """A cursor whose statement cancelled by ``lock_timeout`` or ``statement_timeout`` raises the same error
    class with a message naming the bound and the relation it waited on (from pg_locks), so a check that
    reports ``query failed: <message>`` says what blocked it."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> BoundedCursor:
        try:
            super().execute(query, params, **kwargs)
        except _CANCELLED as exc:
            raise type(exc)(self._explain(exc, query)) from exc
        return self

    def _explain(self, exc: psycopg.Error, query: Any) -> str:
        bound = "lock_timeout" if isinstance(exc, psycopg.errors.LockNotAvailable) else "statement_timeout"
        text = query.as_string(self.connection) if isinstance(query, sql.Composable) else str(query)
        setting = ""
        waited = "the statement did not finish"
        with contextlib.suppress(psycopg.Error):
            setting = str(self.connection.execute(sql.SQL("show {}").format(sql.Identifier(bound))).fetchone()[0])  # type: ignore[index]
            held = psycopg.Cursor(self.connection).execute(_LOCKS_HELD).fetchall()
            words = " ".join(text.lower().replace('"', "").split())
            # The relations the statement names; none named (a view, a function): every lock held meanwhile.
            named = [h for h in held if h[0].lower() in words or h[0].split(".", 1)[1].lower() in words] or held
            if named:
                waited = "waited on " + "; ".join(
                    f"{rel} ({mode} held by pid {pid}: {' '.join(q.split())[:80]!r})" for rel, mode, pid, q in named[:3]
                )
        statement = " ".join(text.split())[:120]
        return f"{bound} ({setting or 'set'}) cancelled the statement: {waited}; statement: {statement}"
