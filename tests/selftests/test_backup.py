"""Backups taken with pg_dump and proven by a scratch restore; bad dumps refused; `gates backup` and `gates restore`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import psycopg
import pytest

from gates.core.errors import GatesError
from gates.database.backup import take_backup, verify_backup
from gates.database.cluster import LocalCluster
from tests.selftests.demo import gates, write_config

SCHEMA = """
create table public.orders (id bigint primary key, total bigint not null);
insert into public.orders select g, g * 100 from generate_series(1, 25) g;
create schema analytics;
create table analytics.events (id bigint primary key);
insert into analytics.events values (1), (2);
"""
DB_ENV = "GATES_SELFTEST_BACKUP_DB"
CANARY = "canary-pw-Bk42x"


@pytest.fixture
def source(pg_database: str) -> str:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(SCHEMA)
    return pg_database


def test_a_backup_is_restored_and_compared_before_it_counts(source: str, pg_cluster: LocalCluster, tmp_path: Path) -> None:
    """take_backup dumps, restores into a scratch database and compares: path, size, sha256, server version, counts; the URL's password stays out of the log."""
    with_password = source.replace("postgres@", f"postgres:{CANARY}@", 1)  # trust auth: carried, not checked
    backup = take_backup(with_password, tmp_path / "b.dump", pg_cluster.url("postgres"), tmp_path / "backup.log")
    assert CANARY not in (tmp_path / "backup.log").read_text() and "pg_dump" in (tmp_path / "backup.log").read_text()
    data = (tmp_path / "b.dump").read_bytes()
    assert backup.verified and backup.bytes == len(data) > 0
    assert backup.sha256 == hashlib.sha256(data).hexdigest()
    # Three tables: the two of the test and auth.users of the Supabase baseline (empty).
    assert backup.server_version.startswith("15") and (backup.tables, backup.rows) == (3, 27)
    with psycopg.connect(pg_cluster.url("postgres")) as conn:  # the scratch database is gone again
        assert conn.execute("select count(*) from pg_database where datname like 'gates_scratch_%'").fetchone() == (0,)


def test_an_empty_backup_file_fails(pg_cluster: LocalCluster, tmp_path: Path) -> None:
    """An empty dump (what `supabase db dump` writes without Docker) fails, naming the file."""
    empty = tmp_path / "empty.dump"
    empty.write_bytes(b"")
    with pytest.raises(GatesError, match=rf"backup {empty}: empty or missing file"):
        verify_backup(empty, {"public.orders": 25}, "15", pg_cluster.url("postgres"))


def test_a_corrupted_backup_file_fails(source: str, pg_cluster: LocalCluster, tmp_path: Path) -> None:
    """A dump cut in half fails: it does not restore, and the error names the file and pg_restore's complaint."""
    dump = tmp_path / "b.dump"
    take_backup(source, dump, pg_cluster.url("postgres"))
    data = dump.read_bytes()
    dump.write_bytes(data[: len(data) // 2])
    with pytest.raises(GatesError, match=rf"backup {dump}: does not restore \(pg_restore exit 1\)"):
        verify_backup(dump, {"public.orders": 25, "analytics.events": 2}, "15", pg_cluster.url("postgres"))


def test_a_backup_that_differs_from_the_source_fails_naming_the_table(
    source: str, pg_cluster: LocalCluster, tmp_path: Path
) -> None:
    """A restore whose row counts differ from the source's fails, naming the table and both counts."""
    dump = tmp_path / "b.dump"
    take_backup(source, dump, pg_cluster.url("postgres"))
    counts = {"public.orders": 26, "analytics.events": 2}  # the source as it was when the dump was meant to be taken
    with pytest.raises(GatesError, match=r"public\.orders: 26 rows in the source, 25 restored"):
        verify_backup(dump, counts, "15", pg_cluster.url("postgres"))


def test_gates_backup_then_restore_brings_the_rows_back(source: str, tmp_path: Path) -> None:
    """`gates backup --env production` writes a proven dump; `gates restore ... --yes` puts deleted rows back."""
    config = write_config(tmp_path, environments={"production": {"database_url_env": DB_ENV}})
    env = {DB_ENV: source}
    try:
        taken = gates("backup", "--env", "production", config=config, env=env)
        assert taken.returncode == 0, taken.stdout + taken.stderr
        (dump,) = (tmp_path / "state" / "production" / "backups").glob("*.dump")
        assert json.loads(dump.with_suffix(".json").read_text())["verified"] is True
        assert "restored and compared: 3 tables, 27 rows" in taken.stdout
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute("delete from public.orders where id > 5")
        refused = gates("restore", "--env", "production", "--backup", str(dump), config=config, env=env)
        assert refused.returncode == 2 and "--yes" in refused.stderr
        restored = gates("restore", "--env", "production", "--backup", str(dump), "--yes", config=config, env=env)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        with psycopg.connect(source) as conn:
            assert conn.execute("select count(*) from public.orders").fetchone() == (25,)
    finally:
        gates("down", config=config)


def test_production_is_not_migrated_without_a_proven_backup_from_this_release(source: str, tmp_path: Path) -> None:
    """The pipeline's production migrate step refuses to run when this release took no proven backup of production."""
    import os

    from gates import config as config_mod
    from gates.evidence.record import Record
    from gates.release import Context, Step, execute
    from gates.release.migrate import migrate_step

    config = write_config(tmp_path, environments={"production": {"database_url_env": DB_ENV}})
    os.environ[DB_ENV] = source
    try:
        ctx = Context(config=config_mod.load(config), record=Record(tmp_path / "deploys"))
        assert not execute(ctx, [Step("migrate", "production", migrate_step)])
    finally:
        del os.environ[DB_ENV]
    (step,) = ctx.record.steps
    assert step.outcome == "failed"
    assert step.detail == "refusing to migrate production: no proven backup of it was taken in this release"
