"""Row level security proven by behaviour: what anon and a signed-in user can actually read and write.

For each table of the exposed schemas, as ``anon`` (no user) and as ``authenticated`` with a random
user id, with the JWT claims set the way PostgREST sets them (``set local role``,
``set_config('request.jwt.claims', ..., true)``), inside a transaction that is always rolled back:
how many rows each can read and, where writes are allowed (staging), whether an INSERT gets past
privileges and policies. Nothing is ever committed; on production no write is attempted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import errors, sql

from gates.checks.database import NOT_EXTENSION_OWNED, qualified_name, query_failed
from gates.measurement import Measurement

NAME = "RLS behaviour"
# Reading is counted up to this many rows: enough to say "can read rows", bounded on big tables.
READ_LIMIT = 1000
_TIMEOUT = "10s"
_TABLES_SQL = f"""
select n.nspname, c.relname
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and n.nspname = any(%s)
  and {NOT_EXTENSION_OWNED.format(catalog="'pg_class'", oid="c.oid")}
order by 1, 2
"""


class _Unusable(Exception):
    """The gate's role cannot act as an API role: nothing can be proven (fail closed)."""


def rls_behaviour(
    conn: psycopg.Connection[Any], schemas: Sequence[str], public_tables: Sequence[str], *, writes: bool
) -> Measurement:
    """No table outside ``public_tables`` lets anon read a row or (with ``writes``) insert one; what anon and
    authenticated could do on every table is in the details."""
    question = "anon can read or write no table but the public ones, as PostgREST would run its requests"
    actions = "read rows, insert a row" if writes else "read rows (read-only: no write attempted)"
    source = (
        f"per table in {', '.join(schemas) or '-'}: begin; set local role anon|authenticated; "
        f"set_config('request.jwt.claims', ...); {actions}; rollback"
    )
    expected = "anon reads and writes only [database] public_tables"
    try:
        tables = conn.execute(_TABLES_SQL, (list(schemas),)).fetchall()
    except psycopg.Error as exc:
        return query_failed(conn, exc, NAME, question, source, expected)
    public = {qualified_name(t) for t in public_tables}
    user = str(uuid.uuid4())
    claims = {
        "anon": {"role": "anon"},
        "authenticated": {
            "sub": user,
            "role": "authenticated",
            "aud": "authenticated",
            "email": f"{user}@gates.invalid",
        },
    }
    problems: list[str] = []
    details: list[dict[str, Any]] = []
    try:
        for schema, table in tables:
            name = f"{schema}.{table}"
            row: dict[str, Any] = {"table": name, "public": name in public}
            for role, jwt in claims.items():
                row[f"{role} reads"] = _as_role(conn, role, jwt, _read, schema, table)
                if writes:
                    row[f"{role} inserts"] = _as_role(conn, role, jwt, _insert, schema, table)
            details.append(row)
            problems += _judge(row, writes)
    except _Unusable as exc:
        problems.append(str(exc))
    if not tables:
        problems.append(f"no tables in {', '.join(schemas) or 'no schema'}: nothing was proven")
    return Measurement(
        name=NAME,
        question=question,
        observed=f"{len(problems)} problem(s) over {len(tables)} table(s), as anon and as authenticated user {user}",
        expected=expected,
        ok=not problems,
        source=source,
        details=details,
        problems=problems,
    )


def _judge(row: dict[str, Any], writes: bool) -> list[str]:
    """What is wrong with one table's row of details: anon reading or writing a table that is not public,
    or a probe that could not tell (fail closed)."""
    name = row["table"]
    problems = [f"{name}: {key}: {value}" for key, value in row.items() if str(value).startswith("could not")]
    if row["public"]:
        return problems
    reads = row["anon reads"]
    if isinstance(reads, int) and reads > 0:
        problems.append(f"{name}: anon can read rows ({_rows(reads)}) and it is not in [database] public_tables")
    if writes and str(row["anon inserts"]).startswith("allowed"):
        problems.append(f"{name}: anon can insert: {row['anon inserts']}; it is not in [database] public_tables")
    return problems


def _as_role(
    conn: psycopg.Connection[Any],
    role: str,
    jwt: dict[str, Any],
    act: Callable[[psycopg.Connection[Any], str, str], int | str],
    schema: str,
    table: str,
) -> int | str:
    """Run ``act`` as ``role`` with the request's claims, in a transaction rolled back whatever happens."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(f"set local statement_timeout = '{_TIMEOUT}'".encode())
            try:
                conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
            except psycopg.Error as exc:
                raise _Unusable(f"cannot act as {role} (is the gate's role a member of it?): {_first(exc)}") from None
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(jwt),))
            return act(conn, schema, table)
    except psycopg.Error as exc:
        return f"could not tell: {_first(exc)}"


def _read(conn: psycopg.Connection[Any], schema: str, table: str) -> int | str:
    query = sql.SQL("select count(*) from (select 1 from {}.{} limit {}) s").format(
        sql.Identifier(schema), sql.Identifier(table), sql.Literal(READ_LIMIT)
    )
    try:
        with conn.transaction():
            row = conn.execute(query).fetchone()
    except errors.InsufficientPrivilege:
        return "no privilege"
    return int(row[0]) if row else 0


def _insert(conn: psycopg.Connection[Any], schema: str, table: str) -> str:
    """Whether a row gets past privileges and policies. The policies' WITH CHECK runs before the table's
    constraints, so a later error (a NOT NULL column, a foreign key) still means the policies let it in."""
    query = sql.SQL("insert into {}.{} default values").format(sql.Identifier(schema), sql.Identifier(table))
    try:
        with conn.transaction():
            conn.execute(query)
    except errors.InsufficientPrivilege as exc:
        return f"denied: {_first(exc)}"
    except psycopg.Error as exc:
        return f"allowed by privileges and policies (the row then failed: {_first(exc)})"
    return "allowed"


def _rows(count: int | str) -> str:
    return f"{READ_LIMIT}+ rows" if count == READ_LIMIT else f"{count} row(s)"


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
