"""The database checks against a real database migrated by the real Supabase CLI, healthy and then broken on purpose.

The migrations are pushed once per module into a template database; every test gets its own
copy of it (CREATE DATABASE ... TEMPLATE), so a test may break its copy freely.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from gates.checks.database import (
    migrations_applied,
    migrations_unchanged,
    no_unknown_migrations,
    rls_enabled,
    tables_exist,
)
from gates.config import Environment
from gates.core.measurement import Measurement
from gates.database import gate_connection
from gates.database.cluster import LocalCluster
from gates.database.migrations import MigrationFile, created_tables, local_migrations, push
from tests.selftests.pgfixtures import drop_database, write_migrations

MIGRATIONS = {
    "20250101000000_ad_campaigns.sql": """
        create table public.ad_campaigns (id bigint primary key, name text not null);
        alter table public.ad_campaigns enable row level security;
        create policy ad_campaigns_read on public.ad_campaigns for select to anon using (true);
    """,
    "20250102000000_tiles.sql": """
        create table if not exists "public"."dashboard_tiles" (name text primary key);
        alter table public.dashboard_tiles enable row level security;
        -- a comment the CLI may keep or drop: the edited-file check must not care
        create policy tiles_read on public.dashboard_tiles for select to anon using (true);
    """,
}
Db = tuple[psycopg.Connection[tuple[object, ...]], list[MigrationFile]]


@pytest.fixture(scope="module")
def healthy_template(pg_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A database migrated with the CLI (the template of every test's copy) and its migrations folder."""
    name = f"tmpl_{uuid.uuid4().hex[:12]}"
    folder = write_migrations(tmp_path_factory.mktemp("checks-app"), MIGRATIONS)
    push(pg_cluster.ensure_database(name), folder.parent.parent, None)
    yield name, folder
    drop_database(pg_cluster, name)


@pytest.fixture
def db(pg_cluster: LocalCluster, healthy_template: tuple[str, Path]) -> Iterator[Db]:
    """An autocommit connection to a fresh copy of the healthy database, and the app's migration files."""
    template, folder = healthy_template
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(template)))
    conn = psycopg.connect(pg_cluster.url(name), autocommit=True)
    try:
        yield conn, local_migrations(folder)
    finally:
        conn.close()
        drop_database(pg_cluster, name)


def _failed(m: Measurement) -> str:
    assert not m.ok, m.explain()
    return "\n".join(m.problems)


def test_every_check_passes_on_a_healthy_database(db: Db) -> None:
    """On a database the CLI migrated from the app's files, all four checks pass."""
    conn, files = db
    for m in (
        migrations_applied(conn, files),
        no_unknown_migrations(conn, files),
        tables_exist(conn, created_tables(files)),
        rls_enabled(conn, ["public"]),
        migrations_unchanged(conn, files),
    ):
        assert m.ok, m.explain()
        assert m.problems == () and m.source
    assert tables_exist(conn, created_tables(files)).observed == "2 of 2 exist"


def test_checks_pass_on_a_read_only_connection(pg_cluster: LocalCluster, db: Db) -> None:
    """The checks only read: they pass on a session with default_transaction_read_only, as production gates use."""
    conn, files = db
    dbname = conn.info.dbname
    options = "-c default_transaction_read_only=on"
    with psycopg.connect(pg_cluster.url(dbname), options=options) as ro:
        assert migrations_applied(ro, files).ok and no_unknown_migrations(ro, files).ok
        assert tables_exist(ro, created_tables(files)).ok and rls_enabled(ro, ["public"]).ok


def test_a_missing_migration_fails_naming_the_file(db: Db) -> None:
    """A local file whose version is not in the history makes migrations_applied fail, naming that file."""
    conn, files = db
    conn.execute("delete from supabase_migrations.schema_migrations where version = '20250102000000'")
    m = migrations_applied(conn, files)
    assert _failed(m) == "20250102000000_tiles.sql: not applied (version 20250102000000 is not in the history)"
    assert m.observed == "1 of 2 applied"


def test_a_database_without_history_fails_every_file(pg_database: str, db: Db) -> None:
    """A database without supabase_migrations fails migrations_applied for every file (fail closed)."""
    _, files = db
    with psycopg.connect(pg_database) as conn:
        problems = _failed(migrations_applied(conn, files))
    assert "20250101000000_ad_campaigns.sql: not applied" in problems
    assert "20250102000000_tiles.sql: not applied" in problems and "records no migrations" in problems


def test_no_migration_files_fails(db: Db) -> None:
    """With no local migration files read, migrations_applied fails: nothing was verified."""
    conn, _ = db
    assert "nothing was verified" in _failed(migrations_applied(conn, []))


def test_an_unknown_applied_version_fails_naming_it(db: Db) -> None:
    """A version in the history without a local file makes no_unknown_migrations fail, naming the version."""
    conn, files = db
    conn.execute(
        "insert into supabase_migrations.schema_migrations (version, name, statements)"
        " values ('20990101000000', 'hotfix_from_laptop', '{}')"
    )
    m = no_unknown_migrations(conn, files)
    assert _failed(m) == "version 20990101000000 (hotfix_from_laptop): applied, but no local file has it"
    assert m.observed == "1 unknown of 3 applied"


def test_a_missing_table_fails_naming_it(db: Db) -> None:
    """A table the migrations create but the database lacks makes tables_exist fail, naming schema.table."""
    conn, files = db
    conn.execute("drop table public.dashboard_tiles")
    assert _failed(tables_exist(conn, created_tables(files))) == "public.dashboard_tiles: missing"


def test_a_view_in_place_of_a_table_fails(db: Db) -> None:
    """An expected table that is a view fails tables_exist, saying what it is instead."""
    conn, _ = db
    conn.execute("create view public.tiles_view as select * from public.dashboard_tiles")
    assert _failed(tables_exist(conn, ["public.tiles_view"])) == "public.tiles_view: is a view, not a table"


def test_an_empty_list_of_tables_fails(db: Db) -> None:
    """tables_exist with nothing expected fails (fail closed: the migrations were not read)."""
    conn, _ = db
    assert "nothing was verified" in _failed(tables_exist(conn, []))


def test_rls_off_on_one_table_fails_naming_it(db: Db) -> None:
    """One table with RLS disabled makes rls_enabled fail with exactly `public.<table>: RLS disabled`."""
    conn, _ = db
    conn.execute("alter table public.ad_campaigns disable row level security")
    m = rls_enabled(conn, ["public"])
    assert _failed(m) == "public.ad_campaigns: RLS disabled, yet 1 policy(ies) defined (they have no effect)"
    assert m.observed.startswith("1 of 2 tables with RLS")
    assert {d["table"]: d["rls"] for d in m.details} == {"public.ad_campaigns": False, "public.dashboard_tiles": True}


def test_rls_of_a_schema_that_does_not_exist_fails(db: Db) -> None:
    """Naming a schema that does not exist fails rls_enabled instead of finding nothing to complain about."""
    conn, _ = db
    assert _failed(rls_enabled(conn, ["public", "api"])) == "schema api: does not exist"


def test_rls_of_a_schema_without_tables_fails(db: Db) -> None:
    """A named schema with zero tables fails rls_enabled (fail closed: nothing was checked there)."""
    conn, _ = db
    conn.execute("create schema empty_api")
    assert _failed(rls_enabled(conn, ["empty_api"])) == "schema(s) empty_api: no tables, nothing to verify"


def test_a_failed_query_is_a_failed_measurement(db: Db) -> None:
    """When the database cannot answer, each check returns a failed Measurement saying so instead of raising."""
    conn, files = db
    conn.close()
    for m in (
        migrations_applied(conn, files),
        no_unknown_migrations(conn, files),
        tables_exist(conn, ["public.ad_campaigns"]),
        rls_enabled(conn, ["public"]),
        migrations_unchanged(conn, files),
    ):
        assert not m.ok and m.observed == "query failed"
        assert m.problems[0].startswith("query failed: ")


def test_a_table_without_rls_fails_naming_it(db: Db) -> None:
    """A new table without RLS (and without policies) fails rls_enabled: `public.<table>: RLS disabled`."""
    conn, _ = db
    conn.execute("create table public.open_notes (id bigint primary key)")
    assert _failed(rls_enabled(conn, ["public"])) == "public.open_notes: RLS disabled"


def test_rls_on_with_no_policy_fails_naming_the_table(db: Db) -> None:
    """A table with RLS enabled but no policy fails rls_enabled naming it (nobody but its owner can read it)."""
    conn, _ = db
    conn.execute("drop policy tiles_read on public.dashboard_tiles")
    assert _failed(rls_enabled(conn, ["public"])) == "public.dashboard_tiles: RLS enabled but no policy"


def test_a_security_definer_view_fails_naming_it(db: Db) -> None:
    """A view without security_invoker fails rls_enabled naming the view; with security_invoker it passes."""
    conn, _ = db
    conn.execute("create view public.campaign_names as select name from public.ad_campaigns")
    assert _failed(rls_enabled(conn, ["public"])) == (
        "public.campaign_names: view is security definer (no security_invoker): it bypasses RLS"
    )
    conn.execute("alter view public.campaign_names set (security_invoker = on)")
    assert rls_enabled(conn, ["public"]).ok


def test_a_migration_file_edited_after_it_was_applied_fails_naming_it(db: Db, tmp_path: Path) -> None:
    """A file whose text no longer matches the statements the history stores fails migrations_unchanged, named."""
    conn, files = db
    edited = tmp_path / files[0].filename
    edited.write_text(files[0].path.read_text().replace("name text not null", "name text"))
    changed = [MigrationFile(files[0].version, files[0].name, edited), *files[1:]]
    m = migrations_unchanged(conn, changed)
    assert _failed(m) == (
        "20250101000000_ad_campaigns.sql: edited after it was applied (version 20250101000000; file differs from the history)"
    )
    assert m.observed == "1 edited of 2 applied"
    # Whitespace and comments alone are no edit.
    edited.write_text("-- reformatted\n" + "  ".join(files[0].path.read_text().split()))
    assert migrations_unchanged(conn, [MigrationFile(files[0].version, files[0].name, edited)]).ok


def test_a_write_through_the_production_gate_connection_is_refused(pg_cluster: LocalCluster, db: Db) -> None:
    """The connection a production gate uses refuses writes (read-only transactions); staging's does not."""
    conn, _ = db
    url = pg_cluster.url(conn.info.dbname)
    production = Environment(name="production", platform="local", url="http://127.0.0.1:1")
    with gate_connection(url, production) as ro, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        ro.execute("create table public.written_by_a_gate (id int)")
    staging = Environment(name="staging", platform="local", url="http://127.0.0.1:1")
    with gate_connection(url, staging) as rw:
        rw.execute("create table public.written_by_a_gate (id int)")
