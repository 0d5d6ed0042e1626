"""The gate's database session is bounded: a locked table or a stuck query is a failed check naming what it
waited on, within ``[database] lock_timeout`` / ``statement_timeout``, never a gate that hangs."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from gates.checks.database import migrations_applied
from gates.config import parse
from gates.database import gate_connection
from gates.database.migrations import MigrationFile

HISTORY = "supabase_migrations.schema_migrations"


def _config(tmp_path: Path, **database: float):
    data = {"app": {"name": "a"}, "environments": {"staging": {"platform": "local", "url": "http://127.0.0.1:1"}},
            "database": database}  # fmt: skip
    return parse(data, tmp_path / "gates.toml")


def test_a_locked_migrations_table_fails_the_check_naming_the_table(pg_database, tmp_path):
    """Another session holds ACCESS EXCLUSIVE on the migration history: the migrations check fails after
    lock_timeout, naming the table, the lock and the session holding it."""
    config = _config(tmp_path, lock_timeout=0.5)
    files = [MigrationFile("20250101000000", "init", tmp_path / "20250101000000_init.sql")]
    with psycopg.connect(pg_database, autocommit=True) as holder:
        holder.execute(f"create schema supabase_migrations; create table {HISTORY} (version text primary key, name text)")
        holder.execute(f"insert into {HISTORY} values ('20250101000000', 'init')")
        with gate_connection(pg_database, config.environment("staging"), config) as conn:
            assert migrations_applied(conn, files).ok
            with holder.transaction():
                holder.execute(f"lock table {HISTORY} in access exclusive mode")
                judged = migrations_applied(conn, files)
            assert not judged.ok
            text = judged.explain()
            assert "lock_timeout (500ms) cancelled the statement: waited on supabase_migrations.schema_migrations" in text
            assert "AccessExclusiveLock held by pid" in text and "lock table" in text
            assert migrations_applied(conn, files).ok, "the session stays usable once the lock is gone"


def test_a_stuck_query_is_cancelled_by_statement_timeout(pg_database, tmp_path):
    """A statement running past statement_timeout is cancelled with a message naming the bound and the statement."""
    config = _config(tmp_path, statement_timeout=0.3)
    with gate_connection(pg_database, config.environment("staging"), config) as conn:
        with pytest.raises(psycopg.errors.QueryCanceled, match=r"statement_timeout \(300ms\) cancelled the statement: .*pg_sleep"):
            conn.execute("select pg_sleep(30)")
        assert conn.execute("show lock_timeout").fetchone() == ("5s",)


@pytest.mark.parametrize("key, value", [("lock_timeout", 0), ("statement_timeout", -1), ("statement_timeout", 3600)])
def test_a_bad_database_bound_is_a_config_error_naming_the_key(tmp_path, key, value):
    """Each bound must be positive and at most ten minutes."""
    from gates.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"database\.{key}: expected seconds in \(0, 600\]"):
        _config(tmp_path, **{key: value})
