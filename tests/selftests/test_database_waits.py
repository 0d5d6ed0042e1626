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


# -- the release steps' own sessions: `gates migrate` and `gates deploy` against a held history lock

MIGRATE_DB = "GATES_WAITS_DB"


def _migrated_site(tmp_path: Path, url: str, lock_timeout: float, app: dict[str, str] | None = None) -> Path:
    """A staging-only config of the demo on ``url``, its migrations pushed once (the history exists), and one
    more migration pending, bounded by ``lock_timeout``."""
    import shutil

    from gates.sandbox import write_config
    from tests.selftests.demo import DEMO, gates

    source = tmp_path / "app"
    shutil.copytree(DEMO, source, ignore=shutil.ignore_patterns("__pycache__", "faults.json"))
    config = write_config(
        tmp_path / "site", source=source, app=app, environments={"staging": {"database_url_env": MIGRATE_DB}},
        database={"lock_timeout": lock_timeout},
    )  # fmt: skip
    first = gates("migrate", "--env", "staging", config=config, env={MIGRATE_DB: url}, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    (source / "supabase" / "migrations" / "20990101000000_later.sql").write_text("create table later (id int);\n")
    return config


@pytest.mark.parametrize(
    "mode, where",
    [("access exclusive", "reading the migration history: lock_timeout (4s) cancelled the statement"),
     ("exclusive", "supabase db push failed")],
)  # fmt: skip
def test_gates_migrate_against_a_held_history_lock_fails_naming_it_and_its_holder(pg_database, tmp_path, mode, where):
    """A session holds the migration history locked: `gates migrate` ends within lock_timeout (exit 1) naming the
    table and the holder's pid, name and query, and its progress line says what it waits on meanwhile. EXCLUSIVE
    lets the history be read, so the wait is the Supabase CLI's own: the bound reaches the CLI's sessions too."""
    from tests.selftests.demo import gates

    config = _migrated_site(tmp_path, pg_database, lock_timeout=4)
    with psycopg.connect(pg_database, autocommit=True, application_name="the holder") as holder:
        holder.execute("begin")
        holder.execute(f"lock table {HISTORY} in {mode} mode")
        pid = holder.info.backend_pid
        result = gates("migrate", "--env", "staging", config=config, env={MIGRATE_DB: pg_database}, timeout=120)
        holder.execute("rollback")
    assert result.returncode == 1, result.stdout + result.stderr
    (error,) = result.stderr.strip().splitlines()
    assert where in error and f"{HISTORY} (" in error, error
    assert f"held by pid {pid}, the holder: 'lock table {HISTORY} in {mode} mode'" in error, error
    waits = [line for line in result.stdout.splitlines() if "migrate staging:" in line and "waiting on" in line]
    assert waits and f"waiting on {HISTORY}" in waits[0] and f"held by pid {pid}, the holder" in waits[0], result.stdout
