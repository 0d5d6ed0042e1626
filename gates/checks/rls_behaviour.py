"""Row level security proven by behaviour: what anon and a signed-in user can actually read and write.

For each relation anon could reach in the exposed schemas (tables, partitioned tables, materialized views,
foreign tables), as ``anon`` (no user) and as ``authenticated`` with a random user id, with the JWT claims
set the way PostgREST sets them (``set local role``, ``set_config('request.jwt.claims', ..., true)``), in
one server-side pass inside a transaction that is always rolled back: how many rows each can read and,
where writes are allowed (staging), whether an INSERT into a table gets past privileges and policies.
Only Postgres' own refusal (SQLSTATE 42501: a privilege, or ``new row violates row-level security
policy``) counts as "denied"; any other error means the probe could not decide (fail closed). The row
tried is built by ``probe_rows`` so that it leaves no trace, sequences included. Nothing is ever
committed; on production no write is attempted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gates.checks.database import NOT_EXTENSION_OWNED, kind_of, qualified_name, query_failed
from gates.checks.probe_rows import insert_statements
from gates.core.measurement import Measurement

# psycopg is imported where a database is asked: every gate's collection imports this module (through gates'
# molecules), and psycopg is about 70 ms of CPU, paid by every gate that asks no database.
if TYPE_CHECKING:
    import psycopg

NAME = "RLS behaviour"
# Reading is counted up to this many rows: enough to say "can read rows", bounded on big tables.
READ_LIMIT = 1000
# The whole probe is one statement on the server: bounded as a whole; a locked table is named, not waited on.
_TIMEOUT = "60s"
_LOCK_TIMEOUT = "2s"
_INPUT, _OUTPUT = "gates.rls_probe", "gates.rls_result"
_TABLES_SQL = f"""
select c.oid::bigint, n.nspname, c.relname, c.relkind::text
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'm', 'f') and n.nspname = any(%s)
  and {NOT_EXTENSION_OWNED.format(catalog="'pg_class'", oid="c.oid")}
order by 2, 3
"""
# Why one DO block: a table costs 4 transactions of 8 round trips each from the client (about 6 s on 1,000
# tables); run on the server, each try is a PL/pgSQL exception block -- the same subtransaction a savepoint
# is -- under the same `set local role` and claims PostgREST uses. A row that got in is always undone: the
# block raises GTS01 after a successful insert, which rolls the subtransaction back.
_PROBE = f"""
do $gates$
declare
  probe jsonb := current_setting('{_INPUT}')::jsonb;
  results jsonb := '{{}}'::jsonb;
  who jsonb;
  t jsonb;
  n bigint;
  reads jsonb[];
  inserts text[];
begin
  for who in select * from jsonb_array_elements(probe->'roles') loop
    perform set_config('request.jwt.claims', (who->'claims')::text, true);
    begin
      execute format('set local role %I', who->>'role');
    exception when others then
      perform set_config('{_OUTPUT}', jsonb_build_object('unusable',
        format('cannot act as %s (is the gate''s role a member of it?): %s', who->>'role', sqlerrm))::text, true);
      return;
    end;
    reads := '{{}}';
    inserts := '{{}}';
    for t in select * from jsonb_array_elements(probe->'tables') loop
      begin
        execute format('select count(*) from (select 1 from %I.%I limit {READ_LIMIT}) s', t->>'schema', t->>'table')
          into n;
        reads := reads || to_jsonb(n);
      exception
        when insufficient_privilege then reads := reads || to_jsonb('no privilege'::text);
        when others then reads := reads || to_jsonb('could not tell: ' || sqlerrm);
      end;
      if (probe->>'writes')::boolean and t->>'insert' is null then
        inserts := inserts || 'not tried: not a table'::text;
      elsif (probe->>'writes')::boolean then
        begin
          execute t->>'insert';
          raise exception using errcode = 'GTS01';
        exception
          when sqlstate 'GTS01' then inserts := inserts || 'allowed'::text;
          -- 42501 is both a missing privilege and `new row violates row-level security policy`.
          when insufficient_privilege then inserts := inserts || ('denied: ' || sqlerrm);
          when others then inserts := inserts || ('could not tell: ' || sqlerrm || ' (SQLSTATE ' || sqlstate || ')');
        end;
      end if;
    end loop;
    reset role;
    results := results || jsonb_build_object(who->>'role',
      jsonb_build_object('reads', to_jsonb(reads), 'inserts', to_jsonb(inserts)));
  end loop;
  perform set_config('{_OUTPUT}', jsonb_build_object('roles', results)::text, true);
end
$gates$
"""


class _Unusable(Exception):
    """The gate's role cannot act as an API role: nothing can be proven (fail closed)."""


def rls_behaviour(
    conn: psycopg.Connection[Any], schemas: Sequence[str], public_tables: Sequence[str], *, writes: bool
) -> Measurement:
    """No table outside ``public_tables`` lets anon read a row or (with ``writes``) insert one; what anon and
    authenticated could do on every table is in the details."""
    import psycopg

    question = "anon can read or write no table but the public ones, as PostgREST would run its requests"
    actions = "read rows, insert a row" if writes else "read rows (read-only: no write attempted)"
    source = (
        f"one DO block, rolled back: per role, set local role anon|authenticated; set_config('request.jwt.claims', "
        f"...); per table in {', '.join(schemas) or '-'}, in its own subtransaction: {actions}"
    )
    expected = "anon reads and writes only [database] public_tables"
    try:
        tables = conn.execute(_TABLES_SQL, (list(schemas),)).fetchall()
        # Foreign tables are only read: a write would reach the server behind them.
        writable = [(oid, sc, tb) for oid, sc, tb, kind in tables if kind in ("r", "p")]
        inserts = insert_statements(conn, writable) if writes else {}
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
    probe = {
        "tables": [
            {
                "schema": sc,
                "table": tb,
                "name": f"{sc}.{tb}",
                "kind": kind_of(kind),
                "public": f"{sc}.{tb}" in public,
                "insert": inserts.get(oid),
            }
            for oid, sc, tb, kind in tables
        ],
        "roles": [{"role": role, "claims": jwt} for role, jwt in claims.items()],
        "writes": writes,
    }
    problems: list[str] = []
    details: list[dict[str, Any]] = []
    try:
        details = _run_probe(conn, probe) if tables else []
        for row in details:
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
    name = row["table"] if row["kind"] == "table" else f"{row['table']} ({row['kind']})"
    problems = [
        f"{name}: {key}: {value}"
        for key, value in row.items()
        if str(value).startswith("could not") and key.endswith("reads")
    ]
    if row["public"]:
        return problems
    reads = row["anon reads"]
    if isinstance(reads, int) and reads > 0:
        problems.append(f"{name}: anon can read rows ({_rows(reads)}) and it is not in [database] public_tables")
    inserted = str(row.get("anon inserts", ""))
    if writes and inserted == "allowed":
        problems.append(f"{name}: anon can insert: allowed; it is not in [database] public_tables")
    elif writes and inserted.startswith("could not tell: "):
        problems.append(
            f"{name}: could not verify that anon cannot insert: the probe's row failed for a reason that is not"
            f" RLS or a privilege: {inserted.removeprefix('could not tell: ')} (fail closed: not proven denied)"
        )
    return problems


def _run_probe(conn: psycopg.Connection[Any], probe: dict[str, Any]) -> list[dict[str, Any]]:
    """Every table's reads (and inserts) as each API role, in one transaction always rolled back."""
    import psycopg

    try:
        with conn.transaction(force_rollback=True):
            conn.execute(
                f"set local statement_timeout = '{_TIMEOUT}'; set local lock_timeout = '{_LOCK_TIMEOUT}'".encode()
            )
            conn.execute("select set_config(%s, %s, true)", (_INPUT, json.dumps(probe)))
            conn.execute(_PROBE.encode())
            row = conn.execute("select current_setting(%s)", (_OUTPUT,)).fetchone()
    except psycopg.Error as exc:
        raise _Unusable(f"could not tell: the probe as the API roles failed: {_first(exc)}") from None
    result = json.loads(row[0]) if row and row[0] else {}
    if "unusable" in result:
        raise _Unusable(str(result["unusable"]))
    if not isinstance(result.get("roles"), dict):  # fail closed: a probe that said nothing proved nothing
        raise _Unusable("could not tell: the probe as the API roles returned no result")
    rows: list[dict[str, Any]] = []
    for n, table in enumerate(probe["tables"]):
        row_of = {"table": table["name"], "kind": table["kind"], "public": table["public"]}
        for role, done in result["roles"].items():
            row_of[f"{role} reads"] = done["reads"][n]
            if probe["writes"]:
                row_of[f"{role} inserts"] = done["inserts"][n]
        rows.append(row_of)
    return rows


def _rows(count: int | str) -> str:
    return f"{READ_LIMIT}+ rows" if count == READ_LIMIT else f"{count} row(s)"


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
