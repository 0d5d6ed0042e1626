"""gates flags every table Supabase's advisors flag at ERROR for RLS, over 50 random schemas.

A seeded generator writes 50 small app schemas (tables with and without RLS, policies for anon,
authenticated and PUBLIC, revoked grants, plain and security_invoker views, views on auth.users,
partitioned tables, a non-exposed schema, pg_stat_statements in public), ten per database; the real
`supabase db advisors` runs once per database; every ERROR finding's object must be named by gates'
own database checks. One exception, the linter's false alarm: `auth_users_exposed` on a view the API
roles cannot actually read (a security_invoker view, where reading it is `permission denied for table
users`); gates judges such views by reading them, and the test proves each such view unreadable.
"""

from __future__ import annotations

import random

import psycopg
import psycopg.sql
import pytest

from gates.checks.advisors import parse_report, run_advisors
from gates.checks.database import rls_enabled
from gates.checks.rls_behaviour import rls_behaviour
from gates.checks.security import always_true_policies, definer_functions_pinned

SEED = 20251129
SCHEMAS = 50
PER_DATABASE = 10
RLS_ERRORS = {
    "rls_disabled_in_public",
    "policy_exists_rls_disabled",
    "security_definer_view",
    "auth_users_exposed",
    "sensitive_columns_exposed",
    "rls_references_user_metadata",
}
COMMANDS = ("select", "insert", "update", "delete", "all")
ROLES = ("anon", "authenticated", "public", "anon, authenticated")
EXPRESSIONS = ("true", "(select auth.uid()) = owner", "owner is not null")


def _policy(rng: random.Random, table: str, name: str) -> str:
    cmd, roles, expr = rng.choice(COMMANDS), rng.choice(ROLES), rng.choice(EXPRESSIONS)
    clause = {"select": f"using ({expr})", "delete": f"using ({expr})", "insert": f"with check ({expr})"}.get(
        cmd, f"using ({expr}) with check ({rng.choice(EXPRESSIONS)})"
    )
    return f"create policy {name} on {table} for {cmd} to {roles} {clause}"


def app_schema(rng: random.Random, p: str) -> list[str]:
    """One random app schema, its objects prefixed ``p``."""
    sql: list[str] = []
    tables = [f"public.{p}_t{j}" for j in range(rng.randint(1, 3))]
    for j, table in enumerate(tables):
        partitioned = rng.random() < 0.15
        if partitioned:
            sql += [
                f"create table {table} (id bigint, owner uuid, at date not null) partition by range (at)",
                f"create table {table}_2025 partition of {table} for values from ('2025-01-01') to ('2026-01-01')",
            ]
        else:
            sql.append(
                f"create table {table} (id bigint generated always as identity primary key, owner uuid, note text)"
            )
        if rng.random() < 0.6:
            sql.append(f"alter table {table} enable row level security")
        sql += [_policy(rng, table, f"{p}_t{j}_p{k}") for k in range(rng.choice((0, 1, 1, 2)))]
        grants = rng.random()
        if grants < 0.2:
            sql.append(f"revoke all on {table} from anon, authenticated")
        elif grants < 0.35:
            sql.append(f"revoke select on {table} from anon")
        if rng.random() < 0.5:
            rows = (
                "(owner, at) values (gen_random_uuid(), '2025-06-01'), (null, '2025-06-02')"
                if partitioned
                else "(owner) values (gen_random_uuid()), (null)"
            )
            sql.append(f"insert into {table} {rows}")
    if rng.random() < 0.4:
        invoker = " with (security_invoker = on)" if rng.random() < 0.5 else ""
        sql.append(f"create view public.{p}_v{invoker} as select id from {tables[0]}")
    if rng.random() < 0.2:
        invoker = " with (security_invoker = on)" if rng.random() < 0.5 else ""
        sql.append(f"create view public.{p}_users{invoker} as select id, email from auth.users")
        if rng.random() < 0.3:
            sql.append(f"revoke all on public.{p}_users from anon, authenticated")
    if rng.random() < 0.5:
        sql.append(f"create table private.{p}_keys (id bigint primary key, owner uuid, secret text)")
        if rng.random() < 0.5:
            sql.append(f"alter table private.{p}_keys enable row level security")
        if rng.random() < 0.5:
            sql.append(_policy(rng, f"private.{p}_keys", f"{p}_keys_p"))
    return sql


def _gates_problems(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    schemas = ["public"]
    measurements = (
        rls_enabled(conn, schemas),
        definer_functions_pinned(conn, schemas),
        always_true_policies(conn, schemas),
        rls_behaviour(conn, schemas, [], writes=True),
    )
    return [p for m in measurements for p in m.problems]


@pytest.mark.parametrize("batch", range(SCHEMAS // PER_DATABASE))
def test_gates_flags_every_table_the_advisors_flag_at_error(batch: int, pg_database: str) -> None:
    """For ten random schemas in one database, each object of an ERROR-level RLS finding of the advisors is
    named by gates' checks (and the generator does produce such findings)."""
    rng = random.Random(SEED + batch)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("create schema private")
        conn.execute("create extension if not exists pg_stat_statements with schema public")
        for i in range(PER_DATABASE):
            for statement in app_schema(rng, f"s{batch}_{i}"):
                conn.execute(statement.encode())
        problems = _gates_problems(conn)
    run = run_advisors(pg_database)
    report = parse_report(run.stdout)
    assert report is not None and "results" in report, run.stdout
    errors = [r for r in report["results"] if r.get("level") == "ERROR" and r.get("name") in RLS_ERRORS]
    assert errors, "the generator produced no ERROR finding: the comparison proved nothing"
    missed = [
        r
        for r in errors
        if not any(p.startswith(f"{r['metadata']['schema']}.{r['metadata']['name']}:") for p in problems)
    ]
    with psycopg.connect(pg_database, autocommit=True) as conn:
        missed = [
            r
            for r in missed
            if r["name"] != "auth_users_exposed" or _readable(conn, r["metadata"]["schema"], r["metadata"]["name"])
        ]
    assert not missed, "\n".join(f"{r['name']}: {r['metadata']['schema']}.{r['metadata']['name']}" for r in missed)


def _readable(conn: psycopg.Connection[tuple[object, ...]], schema: str, name: str) -> bool:
    """Whether anon or authenticated can read ``schema.name`` (a select as each, rolled back)."""
    for role in ("anon", "authenticated"):
        try:
            with conn.transaction(force_rollback=True):
                conn.execute(psycopg.sql.SQL("set local role {}").format(psycopg.sql.Identifier(role)))
                conn.execute(psycopg.sql.SQL("select 1 from {} limit 1").format(psycopg.sql.Identifier(schema, name)))
            return True
        except psycopg.errors.InsufficientPrivilege:
            continue
    return False
