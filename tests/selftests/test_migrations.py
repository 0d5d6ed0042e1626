"""Migration files in Supabase's layout, and pushing them with the real Supabase CLI to a real Postgres."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from gates.config import Config
from gates.core.errors import GatesError, UsageError
from gates.database.cluster import LocalCluster
from gates.database.migrations import (
    AppliedMigration,
    MigrationFile,
    applied_migrations,
    created_tables,
    local_migrations,
    push,
    supabase_bin,
)
from tests.selftests.pgfixtures import write_migrations

CANARY = "canary-pw-Zm93q"

GOOD = {
    "20240101000000_campaigns.sql": "create table public.campaigns (id bigint primary key);\n"
    "alter table public.campaigns enable row level security;\n",
    "20240102000000_tiles.sql": "create table if not exists tiles (name text primary key);\n",
}
BROKEN = {
    "20240103000000_broken.sql": "create table public.half_done (id int);\nselect * from no_such_table;\n",
}


def _with_password(url: str, password: str = CANARY) -> str:
    return url.replace("postgres@", f"postgres:{password}@", 1)


def _files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select tablename from pg_tables where schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


# -- local files


def test_local_migrations_are_sorted_and_other_names_ignored(tmp_path: Path) -> None:
    """Only <digits>_<name>.sql files count, in version order, with version and name split as the CLI does."""
    folder = write_migrations(
        tmp_path,
        {"20240102_second.sql": "", "20240101_first_one.sql": "", "README.md": "", "init.sql": "", "1.sql": ""},
    )
    (folder / "20240103_a_folder.sql").mkdir()
    files = local_migrations(folder)
    assert files == [
        MigrationFile("20240101", "first_one", folder / "20240101_first_one.sql"),
        MigrationFile("20240102", "second", folder / "20240102_second.sql"),
    ]


def test_a_missing_migrations_folder_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    """local_migrations of a folder that does not exist raises UsageError with the folder's path."""
    with pytest.raises(UsageError, match=str(tmp_path / "nope")):
        local_migrations(tmp_path / "nope")


def test_two_files_with_one_version_are_a_usage_error(tmp_path: Path) -> None:
    """Two files sharing a version are refused, both named, since the history keys on the version."""
    folder = write_migrations(tmp_path, {"1_a.sql": "", "1_b.sql": ""})
    with pytest.raises(UsageError, match=r"1_a\.sql and 1_b\.sql share version 1"):
        local_migrations(folder)


def test_created_tables_reads_create_drop_and_rename(tmp_path: Path) -> None:
    """created_tables finds created tables (default schema public, quoted names kept) minus those dropped or renamed later."""
    folder = write_migrations(
        tmp_path,
        {
            "1_create.sql": """
                create table Campaigns (id int);
                CREATE TABLE IF NOT EXISTS "public"."DashTiles" (name text);
                create unlogged table analytics.events (id int);
                create temp table scratch (id int);
                -- create table commented_out (id int);
                /* create table also_commented (id int); */
                insert into notes values ('create table in_a_string (id int)');
                create table old_name (id int);
                create table doomed (id int);
            """,
            "2_change.sql": """
                drop table if exists doomed, never_made;
                alter table if exists public.old_name rename to new_name;
            """,
        },
    )
    assert created_tables(local_migrations(folder)) == [
        "public.campaigns",
        "public.DashTiles",
        "analytics.events",
        "public.new_name",
    ]


# -- the Supabase CLI


def test_supabase_bin_is_the_projects_cli_unless_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SUPABASE_BIN the CLI npm installed is used; a SUPABASE_BIN that is not executable is an error."""
    monkeypatch.delenv("SUPABASE_BIN", raising=False)
    assert supabase_bin().endswith("node_modules/.bin/supabase")
    monkeypatch.setenv("SUPABASE_BIN", "/nonexistent/supabase")
    with pytest.raises(GatesError, match=r"\$SUPABASE_BIN = '/nonexistent/supabase': not an executable"):
        supabase_bin()


def test_push_applies_and_records_migrations(pg_database: str, tmp_path: Path) -> None:
    """push applies every file, records version, name and statements, writes nothing into the app folder, and a second push has nothing to do."""
    app = tmp_path / "app"
    write_migrations(app, GOOD)
    before = _files_in(app)

    result = push(pg_database, app, tmp_path / "push.log")

    assert result.returncode == 0
    assert {"campaigns", "tiles"} <= _tables(pg_database)
    with psycopg.connect(pg_database) as conn:
        applied = applied_migrations(conn)
    assert applied == [
        AppliedMigration(
            "20240101000000",
            "campaigns",
            (
                "create table public.campaigns (id bigint primary key)",
                "alter table public.campaigns enable row level security",
            ),
        ),
        AppliedMigration("20240102000000", "tiles", ("create table if not exists tiles (name text primary key)",)),
    ]
    assert _files_in(app) == before
    assert "Finished supabase db push" in (tmp_path / "push.log").read_text()
    assert '"upToDate":true' in push(pg_database, app, None).stdout


def test_a_failing_migration_raises_naming_its_file_and_earlier_files_stay(pg_database: str, tmp_path: Path) -> None:
    """When a file's second statement fails, push raises naming that file; earlier files stay applied, that one not at all."""
    app = tmp_path / "app"
    write_migrations(app, {**GOOD, **BROKEN})

    with pytest.raises(GatesError, match=r"at \S*20240103000000_broken\.sql") as caught:
        push(pg_database, app, None)

    assert "no_such_table" in str(caught.value)
    with psycopg.connect(pg_database) as conn:
        assert [m.version for m in applied_migrations(conn)] == ["20240101000000", "20240102000000"]
    tables = _tables(pg_database)
    assert {"campaigns", "tiles"} <= tables and "half_done" not in tables


def test_applied_migrations_of_a_database_without_history_is_empty(pg_database: str) -> None:
    """A database the CLI never migrated has no history table, and applied_migrations says [] instead of raising."""
    with psycopg.connect(pg_database) as conn:
        assert applied_migrations(conn) == []


def test_the_password_of_the_url_never_leaves_push(pg_database: str, tmp_path: Path) -> None:
    """A canary password in the DB URL appears neither in push's error, nor its log, nor its returned result."""
    app = tmp_path / "app"
    write_migrations(app, GOOD)
    log = tmp_path / "push.log"
    url = _with_password(pg_database)  # the cluster trusts local connections: the password is carried, not checked

    result = push(url, app, log)
    assert CANARY not in repr(result) and CANARY not in result.command

    write_migrations(app, BROKEN)
    with pytest.raises(GatesError) as failed:
        push(url, app, log)
    unreachable = _with_password(pg_database.rsplit("/", 1)[0] + "/no_such_database")
    with pytest.raises(GatesError) as refused:
        push(unreachable, app, log)

    for error in (failed.value, refused.value):
        assert CANARY not in str(error) and CANARY not in repr(error.args)
    text = log.read_text()
    assert CANARY not in text
    assert "--remote=postgresql://postgres:***@" in text and "no_such_database" in text


def _config_on(cluster: LocalCluster, tmp_path: Path, app: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """A config whose local cluster (the rehearsal's scratch server) is the session's running one."""
    from gates import config as config_mod
    from tests.selftests.demo import write_config

    monkeypatch.setenv("GATES_STATE_DIR", str(cluster.state_dir))
    path = write_config(tmp_path / "cfg", source=app, environments={"staging": {}}, postgres_port=cluster.port)
    return config_mod.load(path)


def test_migrate_names_the_failing_file_and_statement_and_what_stayed(
    pg_cluster: LocalCluster, pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that applies to the rehearsal's empty copy but fails on the target's rows (a CHECK existing rows break):
    migrate raises naming file and statement, and which files stayed applied."""
    from gates.release.migrating import migrate

    app = tmp_path / "app"
    write_migrations(app, GOOD)
    push(pg_database, app, None)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("insert into public.campaigns values (-1)")
    write_migrations(
        app,
        {
            "20240103000000_fine.sql": "create table public.fine (id int);\n",
            "20240104000000_positive.sql": "create table public.half_done (id int);\n"
            "alter table public.campaigns add constraint positive check (id > 0);\n",
        },
    )
    cfg = _config_on(pg_cluster, tmp_path, app, monkeypatch)

    with pytest.raises(GatesError) as caught:
        migrate(cfg, pg_database, tmp_path / "migrate.log")

    message = str(caught.value)
    assert "20240104000000_positive.sql, statement 2: alter table public.campaigns add constraint positive" in message
    assert message.endswith(
        "applied in this run and kept: 20240103000000_fine.sql; not applied: 20240104000000_positive.sql"
    )
    assert "half_done" not in _tables(pg_database)


def test_migrate_refuses_a_set_that_cannot_apply_whole_naming_every_failing_file(
    pg_cluster: LocalCluster, pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two of three pending files fail on a copy of the schema: `gates migrate` names both with statement and error
    and applies nothing (not even the good file before them); fixed, the whole set applies."""
    from gates.release.migrating import migrate

    app = tmp_path / "app"
    write_migrations(
        app, {**GOOD, **BROKEN, "20240104000000_typo.sql": "alter table public.campain add column x int;\n"}
    )
    cfg = _config_on(pg_cluster, tmp_path, app, monkeypatch)

    with pytest.raises(GatesError) as caught:
        migrate(cfg, pg_database, tmp_path / "migrate.log")

    message = str(caught.value)
    assert message.startswith("refusing to migrate: 2 of 4 pending file(s) fail on a copy of its schema;"), message
    assert "nothing was applied" in message
    assert "20240103000000_broken.sql: statement 2 of 2 failed: select * from no_such_table:" in message
    assert (
        '20240104000000_typo.sql: statement 1 of 1 failed: alter table public.campain add column x int: relation "public.campain" does not exist'
        in message
    )
    assert _tables(pg_database) == set()
    with psycopg.connect(pg_database) as conn:
        assert applied_migrations(conn) == []
    (app / "supabase" / "migrations" / "20240103000000_broken.sql").write_text(
        "create table public.half_done (id int);\n"
    )
    (app / "supabase" / "migrations" / "20240104000000_typo.sql").write_text(
        "alter table public.campaigns add column x int;\n"
    )
    assert migrate(cfg, pg_database, tmp_path / "migrate.log").startswith("applied 4 migration(s)")
