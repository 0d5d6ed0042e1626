"""The database molecules Supabase reviewers care about, each run by name against a database broken on purpose.

Each test builds the schema that used to get past the gate, expects the named molecule to fail naming
the object, then fixes it and expects the molecule to pass.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

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


def test_an_always_true_write_policy_fails_naming_table_and_policy(pg_database: str, tmp_path: Path) -> None:
    """`with check (true)` on INSERT for anon fails naming table and policy; a SELECT `using (true)` is only listed
    unless select_true_fail is set and the table is not in public_tables; a WITH CHECK that names nothing of the
    caller fails with its expression outside public_tables; a check tied to auth.uid() fixes the write."""
    name = "test_no_policy_opens_every_row_to_the_api"
    _sql(pg_database, TABLE)
    _sql(pg_database, "create policy notes_read_all on public.notes for select to anon using (true)")
    assert run_molecule(tmp_path, pg_database, name) == "passed"
    strict = {"select_true_fail": True}
    message = run_molecule(tmp_path, pg_database, name, database=strict)
    assert "public.notes: policy notes_read_all (SELECT to anon) has USING (true)" in message
    assert run_molecule(tmp_path, pg_database, name, database={**strict, "public_tables": ["notes"]}) == "passed"
    _sql(pg_database, "create policy notes_insert on public.notes for insert to anon, authenticated with check (true)")
    message = run_molecule(tmp_path, pg_database, name)
    assert "public.notes: policy notes_insert (INSERT to anon, authenticated) has WITH CHECK always true" in message
    _sql(pg_database, "alter policy notes_insert on public.notes with check (body is not null)")
    message = run_molecule(tmp_path, pg_database, name)
    assert (
        "public.notes: policy notes_insert (INSERT to anon, authenticated) lets anon, authenticated write rows not"
        " tied to the caller: WITH CHECK (body IS NOT NULL)"
    ) in message
    assert run_molecule(tmp_path, pg_database, name, database={"public_tables": ["notes"]}) == "passed"
    _sql(
        pg_database,
        "alter policy notes_insert on public.notes with check ((select auth.uid()) = owner)",
    )
    assert run_molecule(tmp_path, pg_database, name) == "passed"


RLS = "test_every_exposed_table_has_rls_enabled"


def test_a_policy_on_a_table_without_rls_in_a_private_schema_fails_naming_it(pg_database: str, tmp_path: Path) -> None:
    """Policies on an RLS-disabled table fail the RLS molecule in any schema, not only exposed ones."""
    _sql(pg_database, TABLE + "create schema private; create table private.keys (id int);")
    _sql(pg_database, "create policy keys_own on private.keys for select to authenticated using (true)")
    message = run_molecule(tmp_path, pg_database, RLS)
    assert "private.keys: RLS disabled, yet 1 policy(ies) defined (they have no effect)" in message
    _sql(pg_database, "alter table private.keys enable row level security")
    assert run_molecule(tmp_path, pg_database, RLS) == "passed"


def test_extension_objects_are_not_the_apps_but_views_on_auth_users_and_partitioned_parents_are(
    pg_database: str, tmp_path: Path
) -> None:
    """pg_stat_statements' views in public raise no alarm; a security_invoker view over auth.users is judged by
    reading it as each API role: passed while anon gets permission denied on auth.users, failed naming it once
    anon can read auth.users (until revoked); a partitioned parent without RLS fails naming it though its
    partitions have RLS."""
    _sql(pg_database, TABLE + "create extension pg_stat_statements with schema public")
    assert run_molecule(tmp_path, pg_database, RLS) == "passed"
    _sql(
        pg_database,
        "create view public.member_emails with (security_invoker = on) as select id, email from auth.users",
    )
    assert run_molecule(tmp_path, pg_database, RLS) == "passed"
    _sql(pg_database, "grant select on auth.users to anon")
    assert "public.member_emails: view exposes auth.users to anon" in run_molecule(tmp_path, pg_database, RLS)
    _sql(pg_database, "revoke select on public.member_emails from anon, authenticated")
    _sql(
        pg_database,
        "create table public.events (at date not null, what text) partition by range (at);"
        "create table public.events_2025 partition of public.events for values from ('2025-01-01') to ('2026-01-01');"
        "alter table public.events_2025 enable row level security;"
        "create policy own on public.events_2025 for select to authenticated using (false);",
    )
    message = run_molecule(tmp_path, pg_database, RLS)
    assert "public.events: RLS disabled" in message and "events_2025" not in message
    _sql(
        pg_database,
        "alter table public.events enable row level security;"
        "create policy own on public.events for select to authenticated using (false);",
    )
    assert run_molecule(tmp_path, pg_database, RLS) == "passed"


ADVISORS = "test_supabase_advisors_report_nothing_at_the_configured_level"
API_SCHEMA = """
create schema api;
grant usage on schema api to anon, authenticated;
create table api.orders (id bigint primary key);
grant select on api.orders to anon, authenticated;
"""


def test_a_schema_exposed_only_in_supabase_config_toml_is_checked_by_both_molecules(
    pg_database: str, tmp_path: Path
) -> None:
    """A schema exposed in supabase/config.toml [api] schemas is checked by the RLS molecule and by the advisors
    (run with the same schemas); [app] exposed_schemas overrides the file."""
    from tests.selftests.dbmolecules import app_with_migrations

    _sql(pg_database, TABLE + API_SCHEMA)
    source = app_with_migrations(tmp_path / "exposing")
    (source / "supabase" / "config.toml").write_text('[api]\nschemas = ["public", "graphql_public", "api"]\n')
    assert "api.orders: RLS disabled" in run_molecule(tmp_path, pg_database, RLS, source=source)
    message = run_molecule(tmp_path, pg_database, ADVISORS, source=source)
    assert "ERROR rls_disabled_in_public: Table `api.orders`" in message
    overridden = {"exposed_schemas": ["public"]}
    assert run_molecule(tmp_path, pg_database, RLS, source=source, app=overridden) == "passed"
    assert run_molecule(tmp_path, pg_database, ADVISORS, source=source, app=overridden) == "passed"


def test_advisors_that_cannot_see_an_exposed_schema_fail_closed_unless_waived(pg_database: str, tmp_path: Path) -> None:
    """Where anon and authenticated hold no privilege on public (not Supabase's defaults), the advisors molecule
    fails saying the advisors could not see what Supabase would expose; a reason in advisors_blind_ok waives it."""
    _sql(pg_database, TABLE + "revoke usage on schema public from public, anon, authenticated")
    message = run_molecule(tmp_path, pg_database, ADVISORS)
    assert "schema public: anon has no privilege on it" in message
    assert "the advisors could not see what Supabase would expose there" in message
    waived = {"advisors_blind_ok": "the API is switched off for this project"}
    assert run_molecule(tmp_path, pg_database, ADVISORS, database=waived) == "passed"


BEHAVIOUR = "test_anon_reads_and_writes_only_the_public_tables"
OWN_ROWS = """
create table public.orders (id bigint generated always as identity primary key, owner uuid, total bigint);
alter table public.orders enable row level security;
create policy own_orders on public.orders for select to authenticated using ((select auth.uid()) = owner);
create policy own_insert on public.orders for insert to authenticated with check ((select auth.uid()) = owner);
insert into public.orders (owner, total) values (gen_random_uuid(), 10), (gen_random_uuid(), 20);
"""


def test_rls_proven_by_behaviour_names_table_role_and_action(pg_database: str, tmp_path: Path) -> None:
    """A table anon can read rows of fails naming table, role and action; so does one anon can insert into on
    staging; production only reads (the insert goes unseen there); public_tables and a proper policy pass;
    nothing the probes did stays in the database."""
    _sql(pg_database, OWN_ROWS)
    assert run_molecule(tmp_path, pg_database, BEHAVIOUR) == "passed"
    _sql(pg_database, "create policy leak on public.orders for select to anon using (total > 0)")
    message = run_molecule(tmp_path, pg_database, BEHAVIOUR)
    assert "public.orders: anon can read rows (2 row(s)) and it is not in [database] public_tables" in message
    assert run_molecule(tmp_path, pg_database, BEHAVIOUR, database={"public_tables": ["public.orders"]}) == "passed"
    _sql(pg_database, "drop policy leak on public.orders")
    _sql(pg_database, "create policy anyone on public.orders for insert to anon with check (total > 0)")
    message = run_molecule(tmp_path, pg_database, BEHAVIOUR)
    assert "public.orders: anon can insert: allowed" in message
    assert run_molecule(tmp_path, pg_database, BEHAVIOUR, env="production") == "passed"  # read-only: no write tried
    _sql(pg_database, "drop policy anyone on public.orders")
    _sql(pg_database, "create table public.open_log (id bigint primary key, note text not null)")
    message = run_molecule(tmp_path, pg_database, BEHAVIOUR)
    assert "public.open_log: anon can insert: allowed;" in message  # the probe's row fills the NOT NULL column
    _sql(pg_database, "alter table public.open_log enable row level security")
    assert run_molecule(tmp_path, pg_database, BEHAVIOUR) == "passed"
    with psycopg.connect(pg_database) as conn:
        assert conn.execute("select count(*) from public.orders").fetchone() == (2,)


def test_rls_behaviour_on_a_locked_table_fails_naming_it_and_goes_on(pg_database: str, tmp_path: Path) -> None:
    """A table another session holds an ACCESS EXCLUSIVE lock on is 'could not tell' (a lock timeout) in the RLS
    behaviour molecule, which fails closed naming it, and still judges the other tables; never a wait on the lock."""
    _sql(
        pg_database,
        OWN_ROWS
        + "create table public.busy (id bigint primary key); alter table public.busy enable row level security;",
    )
    with psycopg.connect(pg_database) as holder:
        holder.execute("lock table public.busy in access exclusive mode")
        message = run_molecule(tmp_path, pg_database, BEHAVIOUR)
    assert "public.busy: anon reads: could not tell: canceling statement due to lock timeout" in message
    assert "public.orders" not in message
    assert run_molecule(tmp_path, pg_database, BEHAVIOUR) == "passed"


ADVISORS = "test_supabase_advisors_report_nothing_at_the_configured_level"


def test_the_advisors_molecule_without_the_cli_fails_naming_it_never_a_traceback(
    pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Supabase CLI that cannot be found is a failed advisors molecule whose message names the tool and how to
    install it, not an error with a traceback: nothing was verified."""
    _sql(pg_database, TABLE)
    monkeypatch.setenv("SUPABASE_BIN", str(tmp_path / "no-such-supabase"))
    message = run_molecule(tmp_path, pg_database, ADVISORS)
    assert message.startswith("Failed: advisors: FAILED"), message
    assert "supabase db advisors could not run:" in message and "no-such-supabase" in message
    assert "nothing was verified" in message and "Traceback" not in message


def test_rls_behaviour_fails_closed_when_the_gate_cannot_act_as_the_api_roles(pg_database: str, tmp_path: Path) -> None:
    """A gate's role that is not a member of anon cannot run PostgREST's requests: the RLS behaviour molecule fails
    naming the role and the fix, rather than passing having proven nothing."""
    _sql(pg_database, OWN_ROWS + "create role gates_outsider login; grant usage on schema public to gates_outsider;")
    try:
        outsider = pg_database.replace("postgres@", "gates_outsider@", 1)
        assert outsider != pg_database
        message = run_molecule(tmp_path, outsider, BEHAVIOUR)
        assert "cannot act as anon (is the gate's role a member of it?)" in message, message
    finally:
        _sql(pg_database, "drop owned by gates_outsider; drop role gates_outsider;")
