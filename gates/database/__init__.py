"""Databases of environments: the local cluster, migrations, backups."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from gates.config import Config, DatabaseConfig, Environment
from gates.core.errors import ConfigError

# psycopg (with gates.database.waits, which needs it) is imported where a connection is made: the rest of this
# module (an environment's database URL) is asked by a rollback before its switch and by a gate's collection,
# and psycopg is about 70 ms of CPU (a second at a load of 13).
if TYPE_CHECKING:
    import psycopg

__all__ = [
    "database_url", "gate_connection", "has_database", "local_database_name", "prepare_database",
    "uses_local_cluster",
]  # fmt: skip


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
    import psycopg

    from gates.database.waits import BoundedCursor, connect_timeout, set_bounds

    waits = config.database if config is not None else DatabaseConfig()
    options = "-c default_transaction_read_only=on" if env.is_production else ""
    conn = psycopg.connect(
        url, autocommit=True, connect_timeout=connect_timeout(waits), options=options, cursor_factory=BoundedCursor
    )
    set_bounds(conn, waits.lock_timeout, waits.statement_timeout)
    return conn
