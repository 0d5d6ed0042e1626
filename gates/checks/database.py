"""Database checks: the migration history against the files, the tables, row level security.

Each takes an open psycopg connection and plain arguments, runs SELECTs only
(a production gate connects read-only), and never raises for a verdict: a
query that fails is a failed Measurement saying so. Nothing to verify is a
failure too (fail closed).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gates.core.measurement import Measurement
from gates.database.migrations import HISTORY_TABLE, MigrationFile, applied_migrations

# psycopg is imported where a database is asked: every gate's collection imports this module (through gates'
# molecules), and psycopg is about 70 ms of CPU, paid by every gate that asks no database.
if TYPE_CHECKING:
    import psycopg

_HISTORY_SQL = f"select version, name from {HISTORY_TABLE}"
_TABLES_SQL = """
select e.schema, e.name, c.relkind::text
from unnest(%s::text[], %s::text[]) with ordinality as e(schema, name, i)
left join pg_namespace n on n.nspname = e.schema
left join pg_class c on c.relnamespace = n.oid and c.relname = e.name
order by e.i
"""
_SCHEMAS_SQL = "select nspname from pg_namespace where nspname = any(%s)"
# Objects an extension owns (pg_stat_statements' views in public, say) are not the app's.
NOT_EXTENSION_OWNED = """not exists (
    select 1 from pg_depend d where d.classid = {catalog}::regclass and d.objid = {oid} and d.deptype = 'e')"""
_APP_RELATION = NOT_EXTENSION_OWNED.format(catalog="'pg_class'", oid="c.oid")
# Tables of the exposed schemas, partitioned parents included (Supabase's linter skips them, yet the
# API reads through them), and tables with policies but RLS off in ANY schema (the policies do nothing).
_RLS_SQL = f"""
select n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity,
       (select count(*) from pg_policy p where p.polrelid = c.oid), n.nspname = any(%s)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and {_APP_RELATION}
  and (n.nspname = any(%s)
       or (not c.relrowsecurity and exists (select 1 from pg_policy p where p.polrelid = c.oid)
           and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%%'))
order by 1, 2
"""
_VIEWS_SQL = f"""
select n.nspname, c.relname
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any(%s) and c.relkind = 'v' and {_APP_RELATION}
  and not exists (
    select 1 from unnest(coalesce(c.reloptions, '{{}}')) o
    where lower(o) in ('security_invoker=true', 'security_invoker=on', 'security_invoker=1', 'security_invoker=yes')
  )
order by 1, 2
"""
# Views and materialized views of the exposed schemas built on auth.users that anon or authenticated can read.
_AUTH_USERS_SQL = f"""
select distinct n.nspname, c.relname, c.relkind::text,
       array(select r.rolname::text from pg_roles r where r.rolname in ('anon', 'authenticated')
             and has_table_privilege(r.oid, c.oid, 'SELECT') order by 1)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
join pg_rewrite w on w.ev_class = c.oid
join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = w.oid
where n.nspname = any(%s) and c.relkind in ('v', 'm') and {_APP_RELATION}
  and d.refclassid = 'pg_class'::regclass and d.refobjid = to_regclass('auth.users')
order by 1, 2
"""
_TABLE_KINDS = {"r": "table", "p": "partitioned table"}
_OTHER_KINDS = {"v": "view", "m": "materialized view", "f": "foreign table", "S": "sequence", "i": "index"}


def migrations_applied(conn: psycopg.Connection[Any], files: Sequence[MigrationFile]) -> Measurement:
    """Every local migration file's version is recorded in the database's migration history."""
    import psycopg

    name, question = "migrations applied", f"every local migration file is recorded as applied in {HISTORY_TABLE}"
    source = f"{_HISTORY_SQL} vs {_folder(files)}"
    try:
        applied = {m.version for m in applied_migrations(conn)}
    except psycopg.Error as exc:
        return query_failed(conn, exc, name, question, source, f"all {len(files)} applied")
    missing = [f for f in files if f.version not in applied]
    problems = [f"{f.filename}: not applied (version {f.version} is not in the history)" for f in missing]
    if not files:
        problems.append("no migration files were read: nothing was verified")
    if not applied:
        problems.append(f"the database records no migrations ({HISTORY_TABLE} is missing or empty)")
    return Measurement(
        name=name,
        question=question,
        observed=f"{len(files) - len(missing)} of {len(files)} applied",
        expected=f"all {len(files)} applied",
        ok=not problems,
        source=source,
        details=[{"file": f.filename, "version": f.version, "applied": f.version in applied} for f in files],
        problems=problems,
    )


def no_unknown_migrations(conn: psycopg.Connection[Any], files: Sequence[MigrationFile]) -> Measurement:
    """No version in the history lacks a local file (drift: applied from elsewhere, or a file removed)."""
    import psycopg

    name, question = "no unknown migrations", "every migration the database records has a local file"
    source = f"{_HISTORY_SQL} vs {_folder(files)}"
    try:
        applied = applied_migrations(conn)
    except psycopg.Error as exc:
        return query_failed(conn, exc, name, question, source, "0 unknown")
    local = {f.version for f in files}
    unknown = [m for m in applied if m.version not in local]
    return Measurement(
        name=name,
        question=question,
        observed=f"{len(unknown)} unknown of {len(applied)} applied",
        expected="0 unknown",
        ok=not unknown,
        source=source,
        details=[{"version": m.version, "name": m.name, "local file": m.version in local} for m in applied],
        problems=[f"version {m.version} ({m.name or 'no name'}): applied, but no local file has it" for m in unknown],
    )


def tables_exist(conn: psycopg.Connection[Any], expected: Sequence[str]) -> Measurement:
    """Each ``schema.table`` (default schema public) exists as a table; an empty list fails."""
    import psycopg

    name, question = "tables exist", "every expected table exists"
    wanted = list(dict.fromkeys(_split(t) for t in expected))
    source = f"pg_class/pg_namespace lookup of {', '.join(f'{s}.{t}' for s, t in wanted) or 'no tables'}"
    try:
        rows = conn.execute(_TABLES_SQL, ([s for s, _ in wanted], [t for _, t in wanted])).fetchall()
    except psycopg.Error as exc:
        return query_failed(conn, exc, name, question, source, f"{len(wanted)} tables")
    problems: list[str] = []
    details: list[dict[str, Any]] = []
    for schema, table, kind in rows:
        details.append({"table": f"{schema}.{table}", "kind": kind_of(kind)})
        if kind is None:
            problems.append(f"{schema}.{table}: missing")
        elif kind not in _TABLE_KINDS:
            problems.append(f"{schema}.{table}: is a {kind_of(kind)}, not a table")
    if not wanted:
        problems.append("no tables expected: nothing was verified (were the migrations read?)")
    return Measurement(
        name=name,
        question=question,
        observed=f"{sum(1 for r in rows if r[2] in _TABLE_KINDS)} of {len(wanted)} exist",
        expected=f"all {len(wanted)} exist" if wanted else "at least one table to verify",
        ok=not problems,
        source=source,
        details=details,
        problems=problems,
    )


def migrations_unchanged(conn: psycopg.Connection[Any], files: Sequence[MigrationFile]) -> Measurement:
    """No applied file was edited afterwards: the statements the history stores match the file's text.

    The CLI compares versions only, so an edited file goes unnoticed by it. Both sides are compared
    with comments, semicolons and whitespace removed (the CLI stores statements without them).
    """
    import psycopg

    name, question = "migrations unchanged", "every applied migration file still holds the statements that were applied"
    source = f"select version, statements from {HISTORY_TABLE} vs {_folder(files)}"
    try:
        applied = {m.version: m for m in applied_migrations(conn)}
    except psycopg.Error as exc:
        return query_failed(conn, exc, name, question, source, "0 edited")
    problems: list[str] = []
    details: list[dict[str, Any]] = []
    compared = 0
    for f in files:
        stored = applied.get(f.version)
        if stored is None:
            continue  # not applied: migrations_applied says so
        text = _normalized(f.path.read_text(errors="replace"))
        if not stored.statements and text:
            problems.append(f"{f.filename}: the history stores no statements, so it cannot be compared (fail closed)")
            state = "unknown"
        elif _normalized("\n".join(stored.statements)) != text:
            problems.append(
                f"{f.filename}: edited after it was applied (version {f.version}; file differs from the history)"
            )
            state = "edited"
        else:
            state = "unchanged"
        compared += 1
        details.append({"file": f.filename, "version": f.version, "state": state})
    if not compared:
        problems.append("no applied migration file to compare: nothing was verified")
    return Measurement(
        name=name,
        question=question,
        observed=f"{sum(1 for d in details if d['state'] == 'edited')} edited of {compared} applied",
        expected="0 edited",
        ok=not problems,
        source=source,
        details=details,
        problems=problems,
    )


def rls_enabled(conn: psycopg.Connection[Any], schemas: Sequence[str]) -> Measurement:
    """Row level security holds in the named schemas: each table has RLS and a policy, and views run as the caller.

    Each table or view is named with what is wrong with it: RLS disabled; RLS with no policy (nobody but
    the owner can read it, usually a forgotten policy); policies on a table with RLS off, in any schema
    (they do nothing); a view without ``security_invoker`` (it runs with its owner's rights and bypasses
    RLS); a view or materialized view over ``auth.users`` the API roles can read. Objects an extension
    owns are not the app's and are left out.
    """
    import psycopg

    name, question = "RLS enabled", f"row level security holds on every table and view in {', '.join(schemas) or '-'}"
    source = (
        "pg_class.relrowsecurity, pg_policy, view reloptions (security_invoker) and views on auth.users "
        f"for relations in schema(s) {', '.join(schemas)}, and policies on RLS-disabled tables in any schema"
    )
    expected = f"RLS and a policy on every table, security_invoker on every view, in {len(schemas)} schema(s)"
    try:
        found = {row[0] for row in conn.execute(_SCHEMAS_SQL, (list(schemas),)).fetchall()}
        rows = conn.execute(_RLS_SQL, (list(schemas), list(schemas))).fetchall()
        views = conn.execute(_VIEWS_SQL, (list(schemas),)).fetchall()
        on_auth_users = conn.execute(_AUTH_USERS_SQL, (list(schemas),)).fetchall()
    except psycopg.Error as exc:
        return query_failed(conn, exc, name, question, source, expected)
    problems: list[str] = []
    if not schemas:
        problems.append("no schemas named: nothing was verified")
    problems += [f"schema {schema}: does not exist" for schema in schemas if schema not in found]
    exposed = [r for r in rows if r[5]]
    if found and not exposed:
        problems.append(f"schema(s) {', '.join(s for s in schemas if s in found)}: no tables, nothing to verify")
    for schema, table, rls, _, policies, _ in rows:
        if not rls and policies:
            problems.append(f"{schema}.{table}: RLS disabled, yet {policies} policy(ies) defined (they have no effect)")
        elif not rls:
            problems.append(f"{schema}.{table}: RLS disabled")
        elif not policies:
            problems.append(f"{schema}.{table}: RLS enabled but no policy")
    problems += [
        f"{schema}.{view}: view is security definer (no security_invoker): it bypasses RLS" for schema, view in views
    ]
    # Privileges on the view are not enough: a security_invoker view needs them on auth.users too. Judged by reading.
    on_auth_users = [(s, v, k, _readers(conn, s, v, granted)) for s, v, k, granted in on_auth_users]
    problems += [
        f"{schema}.{view}: {kind_of(kind)} exposes auth.users to {', '.join(readers)}"
        for schema, view, kind, readers in on_auth_users
        if readers
    ]
    enabled = sum(1 for r in exposed if r[2])
    return Measurement(
        name=name,
        question=question,
        observed=f"{enabled} of {len(exposed)} tables with RLS; {len(views)} security-definer view(s)",
        expected=expected,
        ok=not problems,
        source=source,
        details=[
            {"table": f"{s}.{t}", "rls": bool(rls), "forced": bool(forced), "policies": int(policies)}
            for s, t, rls, forced, policies, _ in rows
        ]
        + [{"view": f"{s}.{v}", "security_invoker": False} for s, v in views]
        + [{"view": f"{s}.{v}", "on auth.users": True, "readable by": ", ".join(r)} for s, v, _, r in on_auth_users],
        problems=problems,
    )


def _readers(conn: psycopg.Connection[Any], schema: str, view: str, granted: Sequence[str]) -> list[str]:
    """Which of the roles ``granted`` SELECT on a view over auth.users can actually read it: a ``select`` as each,
    rolled back. A role the gate cannot act as counts as a reader (fail closed), and so does any error but a
    missing privilege, said with it."""
    import psycopg
    from psycopg import sql

    readers: list[str] = []
    for role in granted:
        try:
            with conn.transaction(force_rollback=True):
                conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
                try:
                    conn.execute(
                        sql.SQL("select 1 from {}.{} limit 1").format(sql.Identifier(schema), sql.Identifier(view))
                    )
                except psycopg.errors.InsufficientPrivilege:
                    continue
                except psycopg.Error as exc:
                    readers.append(f"{role} (could not tell: {_first_line(exc)})")
                    continue
            readers.append(role)
        except psycopg.Error as exc:
            readers.append(f"{role} (by its privileges: the gate cannot act as it: {_first_line(exc)})")
    return readers


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'", re.DOTALL)


def _normalized(sql_text: str) -> str:
    """SQL without comments, semicolons and whitespace differences; string literals kept verbatim."""
    text = _SQL_COMMENT.sub(lambda m: m.group(0) if m.group(0).startswith("'") else " ", sql_text)
    return " ".join(text.replace(";", " ").split())


def qualified_name(table: str) -> str:
    """``schema.table`` of a configured table name (default schema public)."""
    return ".".join(_split(table))


def _split(name: str) -> tuple[str, str]:
    schema, dot, table = name.partition(".")
    return (schema, table) if dot else ("public", name)


def kind_of(relkind: str | None) -> str:
    if relkind is None:
        return "missing"
    return _TABLE_KINDS.get(relkind) or _OTHER_KINDS.get(relkind, f"relation of kind {relkind}")


def _folder(files: Sequence[MigrationFile]) -> str:
    folders = sorted({str(f.path.parent) for f in files})
    return ", ".join(folders) if folders else "no migration files"


def query_failed(
    conn: psycopg.Connection[Any], exc: psycopg.Error, name: str, question: str, source: str, expected: str
) -> Measurement:
    """The verdict when the database could not be asked: failed, saying why."""
    import psycopg

    if not conn.autocommit and not conn.closed:
        # Leave the connection usable for the next check rather than stuck in an aborted transaction.
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return Measurement(
        name=name,
        question=question,
        observed="query failed",
        expected=expected,
        ok=False,
        source=source,
        problems=[f"query failed: {reason}"],
    )
