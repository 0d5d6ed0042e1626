"""A fixed set of schemas that fooled the database gate, each with the verdict every database check must give.

Run against the real Postgres the tests start (one database per scenario, Supabase's baseline in it), through
the checks the database molecules call, as the staging gate calls them (writes tried, schema public).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql
import pytest

from gates.checks.database import rls_enabled
from gates.checks.rls_behaviour import rls_behaviour
from gates.checks.security import always_true_policies
from gates.core.measurement import Measurement
from tests.selftests.dbmolecules import run_molecules

BEHAVIOUR = "test_anon_reads_and_writes_only_the_public_tables"

# A table the way it should be, so that no scenario is "nothing to verify".
HEALTHY = """
create table public.notes (id bigint generated always as identity primary key, owner uuid not null, body text);
alter table public.notes enable row level security;
create policy notes_own on public.notes for select to authenticated using ((select auth.uid()) = owner);
create policy notes_add on public.notes for insert to authenticated with check ((select auth.uid()) = owner);
"""

PRIVATE_ROWS = """
create table public.salaries (who text not null, amount bigint not null check (amount >= 1000));
alter table public.salaries enable row level security;
create policy salaries_own on public.salaries for select to authenticated using (false);
insert into public.salaries values ('ann', 5000), ('bob', 7000);
"""


def _behaviour(conn: psycopg.Connection[Any]) -> Measurement:
    return rls_behaviour(conn, ["public"], [], writes=True)


def _rls(conn: psycopg.Connection[Any]) -> Measurement:
    return rls_enabled(conn, ["public"])


def _policies(conn: psycopg.Connection[Any]) -> Measurement:
    return always_true_policies(conn, ["public"])


CHECKS = {"behaviour": _behaviour, "rls": _rls, "policies": _policies}

# name -> (SQL on top of HEALTHY, {check: None to pass, or a line its problems must hold})
SCENARIOS: dict[str, tuple[str, dict[str, str | None]]] = {
    "partitioned table, no default partition, RLS on": (
        "create table public.events (at date not null, what text) partition by range (at);"
        "create table public.events_2025 partition of public.events for values from ('2025-01-01') to ('2026-01-01');"
        "alter table public.events enable row level security; alter table public.events_2025 enable row level security;"
        "create policy own on public.events for select to authenticated using (false);"
        "create policy own on public.events_2025 for select to authenticated using (false);",
        {"behaviour": None, "rls": None, "policies": None},
    ),
    "partitioned table, no default partition, RLS off on the parent": (
        "create table public.events (at date not null, what text) partition by list (what);"
        "create table public.events_a partition of public.events for values in ('a', 'b');"
        "alter table public.events_a enable row level security;"
        "create policy own on public.events_a for select to authenticated using (false);",
        {
            "behaviour": "public.events (partitioned table): anon can insert: allowed",
            "rls": "public.events: RLS disabled",
            "policies": None,
        },
    ),
    "a BEFORE INSERT trigger that raises": (
        "create function public.no_writes() returns trigger language plpgsql set search_path = ''"
        " as $$ begin raise exception 'writes are closed'; end $$;"
        "create trigger closed before insert on public.notes for each row execute function public.no_writes();",
        {
            "behaviour": "public.notes: could not verify that anon cannot insert: the probe's row failed for a reason"
            " that is not RLS or a privilege: writes are closed (SQLSTATE P0001)",
            "rls": None,
            "policies": None,
        },
    ),
    "NOT NULL columns without default, RLS off": (
        "create table public.open_log (id bigint primary key, at timestamptz not null, note varchar(4) not null,"
        " kind text not null check (kind in ('info', 'warn')))",
        {
            "behaviour": "public.open_log: anon can insert: allowed",
            "rls": "public.open_log: RLS disabled",
            "policies": None,
        },
    ),
    "NOT NULL foreign key to a user, RLS off": (
        "insert into auth.users (id) values (gen_random_uuid());"
        "create table public.profiles (id bigint generated always as identity primary key,"
        " user_id uuid not null references auth.users (id), name text not null)",
        {
            "behaviour": "public.profiles: anon can insert: allowed",
            "rls": "public.profiles: RLS disabled",
            "policies": None,
        },
    ),
    "NOT NULL foreign key to an empty table, RLS off": (
        "create table public.teams (id bigint primary key);"
        "create table public.members (team bigint not null references public.teams (id));"
        "alter table public.teams enable row level security;"
        "create policy own on public.teams for select to authenticated using (false);",
        {
            "behaviour": "public.members: could not verify that anon cannot insert: the probe's row failed for a reason"
            ' that is not RLS or a privilege: insert or update on table "members" violates foreign key constraint',
            "rls": "public.members: RLS disabled",
            "policies": None,
        },
    ),
    "NOT NULL and CHECK columns, RLS on": (
        PRIVATE_ROWS,
        {"behaviour": None, "rls": None, "policies": None},
    ),
    "with check (msg is not null)": (
        "create table public.msgs (id bigint generated always as identity primary key, msg text);"
        "alter table public.msgs enable row level security;"
        "create policy p on public.msgs for insert to anon with check (msg is not null);",
        {
            "behaviour": "public.msgs: anon can insert: allowed",
            "rls": None,
            "policies": "public.msgs: policy p (INSERT to anon) lets anon write rows not tied to the caller:"
            " WITH CHECK (msg IS NOT NULL)",
        },
    ),
    "materialized view over a private table": (
        PRIVATE_ROWS + "create materialized view public.salary_list as select who, amount from public.salaries;",
        {
            "behaviour": "public.salary_list (materialized view): anon can read rows (2 row(s))",
            "rls": None,
            "policies": None,
        },
    ),
    "foreign table": (
        "create extension file_fdw; create server files foreign data wrapper file_fdw;"
        "create foreign table public.host_users (line text) server files options (filename '/etc/passwd');"
        "grant select on public.host_users to anon, authenticated;",
        {"behaviour": "public.host_users (foreign table): anon can read rows", "rls": None, "policies": None},
    ),
    "security_invoker view over auth.users": (
        "create view public.member_emails with (security_invoker = on) as select id, email from auth.users;",
        {"behaviour": None, "rls": None, "policies": None},
    ),
    "security definer view over auth.users": (
        "create view public.member_emails as select id, email from auth.users;",
        {
            "behaviour": None,
            "rls": "public.member_emails: view exposes auth.users to anon, authenticated",
            "policies": None,
        },
    ),
    "pg_stat_statements in public": (
        "create extension pg_stat_statements with schema public",
        {"behaviour": None, "rls": None, "policies": None},
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_each_scenario_gets_its_verdict_from_every_database_check(pg_database: str, scenario: str) -> None:
    """Each scenario passes the checks that should pass it and fails the others with the line that names the cause."""
    statements, expected = SCENARIOS[scenario]
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute((HEALTHY + statements).encode())
        for check, line in expected.items():
            m = CHECKS[check](conn)
            if line is None:
                assert m.ok, f"{check}: {m.explain()}"
            else:
                assert not m.ok and any(line in p for p in m.problems), f"{check}: {m.explain()}"


# Every way a column draws from a sequence, with rows already in, and tables the probe cannot write to.
SEQUENCED = """
create table public.orders (id bigint generated always as identity primary key, owner uuid, total bigint not null);
create table public.tickets (id serial primary key, code int not null default nextval('public.orders_id_seq'));
create table public.audit (n bigint generated by default as identity, at timestamptz not null default now());
create table public.parts (id bigserial, at date not null) partition by range (at);
create table public.parts_2025 partition of public.parts for values from ('2025-01-01') to ('2026-01-01');
alter table public.orders enable row level security;
create policy own on public.orders for all to authenticated using ((select auth.uid()) = owner)
  with check ((select auth.uid()) = owner);
insert into public.orders (owner, total) values (gen_random_uuid(), 10), (gen_random_uuid(), 20);
insert into public.tickets default values;
insert into public.parts (at) values ('2025-03-01');
"""
_STATE_SQL = """
select 'relation', format('%s %s.%s %s %s', c.oid, n.nspname, c.relname, c.relkind, c.relrowsecurity)
from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname not like 'pg\\_%%'
union all select 'policy', format('%s %s %s', polrelid, polname, polcmd) from pg_policy
union all select 'function', p.oid::regprocedure::text from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace where n.nspname not like 'pg\\_%%' and n.nspname <> 'information_schema'
union all select 'role', rolname::text from pg_roles
order by 1, 2
"""


def _state(url: str) -> dict[str, Any]:
    """The catalog, every table's rows and every sequence's (last_value, is_called) of a database."""
    with psycopg.connect(url, autocommit=True) as conn:
        state: dict[str, Any] = {"catalog": conn.execute(_STATE_SQL).fetchall()}
        for schema, name, kind in conn.execute(
            "select n.nspname, c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where c.relkind in ('r', 'S') and n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema'"
        ).fetchall():
            relation = psycopg.sql.Identifier(schema, name)
            query = "select last_value, is_called from {}" if kind == "S" else "select t::text from {} t order by 1"
            state[f"{schema}.{name}"] = conn.execute(psycopg.sql.SQL(query).format(relation)).fetchall()
    return state


def test_a_gate_leaves_the_database_as_it_found_it_sequences_included(pg_database: str, tmp_path: Path) -> None:
    """Every database molecule of the staging gate (inserts tried as anon and as a user) run against tables whose
    columns draw from identity, serial, bigserial and nextval defaults: the catalog, every row and every sequence's
    last_value and is_called are the same after the gate as before."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute((HEALTHY + SEQUENCED).encode())
    before = _state(pg_database)
    results, output = run_molecules(tmp_path, pg_database, "test_database")
    assert BEHAVIOUR in results and len(results) >= 8, output
    assert "public.audit: anon can insert: allowed" in results[BEHAVIOUR]  # the inserts were tried
    assert _state(pg_database) == before
