"""The database molecules Supabase reviewers care about, each run by name against a database broken on purpose.

Each test builds the schema that used to get past the gate, expects the named molecule to fail naming
the object, then fixes it and expects the molecule to pass.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.selftests.dbmolecules import run_molecule

TABLE = """
create table public.notes (id bigint primary key, owner uuid default auth.uid(), body text);
alter table public.notes enable row level security;
create policy notes_own on public.notes for select to authenticated using ((select auth.uid()) = owner);
"""


def _sql(url: str, statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statements)


def test_an_unpinned_security_definer_function_anon_can_call_fails_naming_it(pg_database: str, tmp_path: Path) -> None:
    """A SECURITY DEFINER function in public, executable by anon through PUBLIC's default grant, without a pinned
    search_path fails the molecule naming function and grantees; pinning search_path fixes it."""
    name = "test_security_definer_functions_the_api_can_call_pin_search_path"
    _sql(pg_database, TABLE)
    _sql(
        pg_database,
        "create function public.note_count() returns bigint language sql security definer"
        " as $$ select count(*) from public.notes $$",
    )
    message = run_molecule(tmp_path, pg_database, name)
    assert "public.note_count(): SECURITY DEFINER without a pinned search_path" in message
    assert "executable by anon, authenticated (through PUBLIC)" in message
    _sql(pg_database, "alter function public.note_count() set search_path = ''")
    assert run_molecule(tmp_path, pg_database, name) == "passed"
