"""The migration rehearsal in preflight: pending files applied to a scratch copy of the target's schema.

Every failing file is named with its statement and error in one run; folder problems (shared versions,
names the CLI skips, files older than the newest applied one) fail the same molecule, one line each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from gates.checks.migration_safety import migration_rehearsal
from gates.database.cluster import LocalCluster
from gates.database.migrations import push
from gates.database.rehearsal import rehearse_pending
from tests.selftests.dbmolecules import app_with_migrations, run_molecule
from tests.selftests.demo import gates, write_config

NAME = "test_pending_migrations_apply_to_a_copy_of_the_target"
APPLIED = {
    "20250101000000_notes.sql": "create table public.notes (id bigint primary key, owner uuid references auth.users (id));\n"
    "alter table public.notes enable row level security;\n",
    "20250110000000_tags.sql": "create table public.tags (name text primary key);\n",
}
PENDING = {
    "20250201000000_ok.sql": "alter table public.notes add column body text;\n"
    "create policy own on public.notes for select to authenticated using ((select auth.uid()) = owner);\n",
    "20250202000000_typo.sql": "alter table public.notes add column title text;\nalter table public.nots add column x int;\n",
    "20250203000000_later_ok.sql": "create index notes_body on public.notes (body);\n",
    "20250204000000_bad_type.sql": "alter table public.tags alter column name type integer using name::integer;\n"
    "select 1;\nselect from ;\n",
}
FOLDER_FAULTS = {
    "20250105000000_late.sql": "create table public.late (id int);\n",  # older than the newest applied
    "20250205000000_a.sql": "select 1;\n",
    "20250205000000_b.sql": "select 2;\n",
    "init.sql": "select 3;\n",
}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'").fetchall()}


def test_every_failing_pending_file_is_named_in_one_run(
    pg_cluster: LocalCluster, pg_database: str, tmp_path: Path
) -> None:
    """Two of four pending files fail: both are named with statement and error, the others apply; the target is
    untouched; shared versions, a name the CLI skips and an out-of-order file add a line each; fixed, it passes."""
    source = app_with_migrations(tmp_path / "app", APPLIED)
    push(pg_database, source, None)
    app_with_migrations(source, {**PENDING, **FOLDER_FAULTS})
    before = _tables(pg_database)
    message = run_molecule(
        tmp_path, pg_database, NAME, env="production", marker="preflight", source=source, cluster=pg_cluster
    )
    assert (
        "20250202000000_typo.sql: statement 2 of 2 failed: alter table public.nots add column x int: "
        'relation "public.nots" does not exist'
    ) in message
    # Schema only: the cast of the (empty) copy succeeds; the statement that cannot parse fails.
    assert "20250204000000_bad_type.sql: statement 3 of 3 failed: select from: syntax error at end of input" in message
    assert "20250201000000_ok.sql" not in message and "20250203000000_later_ok.sql" not in message
    assert "20250205000000_a.sql and 20250205000000_b.sql share version 20250205000000" in message
    assert "init.sql: not <digits>_<name>.sql, so `supabase db push` skips it" in message
    assert "20250105000000_late.sql: pending, but older than the newest applied version 20250110000000" in message
    assert _tables(pg_database) == before
    for name in [*FOLDER_FAULTS, "20250202000000_typo.sql", "20250204000000_bad_type.sql"]:
        (source / "supabase" / "migrations" / name).unlink()
    assert (
        run_molecule(
            tmp_path, pg_database, NAME, env="production", marker="preflight", source=source, cluster=pg_cluster
        )
        == "passed"
    )


def test_a_long_list_is_cut(pg_cluster: LocalCluster, pg_database: str, tmp_path: Path) -> None:
    """25 failing files: the message names 20 and says `and 5 more`; the details keep all 25."""
    source = app_with_migrations(
        tmp_path / "app", {f"{2025010100 + i}_f{i}.sql": f"select * from missing_{i};\n" for i in range(25)}
    )
    folder = source / "supabase" / "migrations"
    m = migration_rehearsal(rehearse_pending(pg_database, folder, pg_cluster), folder)
    assert not m.ok and len(m.problems) == 21 and m.problems[-1] == "and 5 more"
    assert m.observed.startswith("25 of 25 pending file(s) failed")
    assert sum(1 for d in m.details if d.get("applied") is False) == 25


def test_two_files_sharing_a_version_end_in_one_line_not_a_traceback(tmp_path: Path) -> None:
    """`gates migrate` with two files sharing a version exits 2 with one line naming both, no traceback."""
    source = app_with_migrations(tmp_path / "app", {"1_a.sql": "select 1;\n", "1_b.sql": "select 2;\n"})
    config = write_config(
        tmp_path, source=source, environments={"staging": {"database_url_env": "GATES_SELFTEST_NO_DB"}}
    )
    result = gates(
        "migrate", "--env", "staging", config=config, env={"GATES_SELFTEST_NO_DB": "postgresql://x@127.0.0.1:1/x"}
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "1_a.sql and 1_b.sql share version 1" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


SCHEMA = "test_the_schema_the_migrations_would_build_passes_the_database_checks"
HEALTHY = {
    "20250101000000_notes.sql": "create table public.notes (id bigint primary key, owner uuid);\n"
    "alter table public.notes enable row level security;\n"
    "create policy own on public.notes for select to authenticated using ((select auth.uid()) = owner);\n",
}
AFTER_A_BROKEN_FILE = {
    "20250301000000_broken.sql": "alter table public.nots add column x int;\n",
    "20250302000000_definer.sql": "create function public.grant_admin() returns void language sql security definer"
    " as $$ select 1 $$;\n"
    "create table public.leaky (id bigint primary key, secret text);\n",
}


def test_the_rehearsed_schema_is_gated_files_after_a_failing_one_included(
    pg_cluster: LocalCluster, pg_database: str, tmp_path: Path
) -> None:
    """A SECURITY DEFINER function anon can call and a table without RLS, created by a file after one that fails, are
    named by the preflight's rehearsed-schema molecule (the target never gets them: they would be judged too late);
    fixed, it passes, and the target is untouched."""
    source = app_with_migrations(tmp_path / "app", HEALTHY)
    push(pg_database, source, None)
    app_with_migrations(source, AFTER_A_BROKEN_FILE)
    before = _tables(pg_database)
    kwargs: dict[str, Any] = {"env": "production", "marker": "preflight", "source": source, "cluster": pg_cluster}
    message = run_molecule(tmp_path, pg_database, SCHEMA, **kwargs)
    assert "security definer functions: public.grant_admin(): SECURITY DEFINER without a pinned search_path" in message
    assert "RLS enabled: public.leaky: RLS disabled" in message
    assert "RLS behaviour: public.leaky: anon can read rows" not in message  # an empty copy: no rows to read
    assert "RLS behaviour: public.leaky: anon can insert: allowed" in message
    assert _tables(pg_database) == before
    (source / "supabase" / "migrations" / "20250301000000_broken.sql").write_text("select 1;\n")
    (source / "supabase" / "migrations" / "20250302000000_definer.sql").write_text(
        "create table public.sealed (id bigint primary key);\nalter table public.sealed enable row level security;\n"
        "create policy own on public.sealed for select to authenticated using (false);\n"
    )
    assert run_molecule(tmp_path, pg_database, SCHEMA, **kwargs) == "passed"
