"""What the API roles can do beyond row level security: SECURITY DEFINER functions, always-true policies.

Both read the catalog only (a production gate connects read-only) and ignore objects an extension
owns (``pg_depend.deptype = 'e'``): they are not the app's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gates.checks.database import NOT_EXTENSION_OWNED, qualified_name, query_failed
from gates.core.measurement import Measurement

# psycopg is imported where a database is asked: every gate's collection imports this module (through gates'
# molecules), and psycopg is about 70 ms of CPU, paid by every gate that asks no database.
if TYPE_CHECKING:
    import psycopg

API_ROLES = ("anon", "authenticated")

# Who may execute each function: the API roles that exist and hold EXECUTE (PUBLIC counts, as
# has_function_privilege sees it), and whether PUBLIC itself holds it (Postgres' default for a new function).
_DEFINER_SQL = f"""
select n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
       array(select r.rolname::text from pg_roles r
             where r.rolname = any(%s) and has_function_privilege(r.oid, p.oid, 'EXECUTE') order by 1),
       exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
               where a.grantee = 0 and a.privilege_type = 'EXECUTE'),
       exists (select 1 from unnest(coalesce(p.proconfig, '{{}}')) c where c like 'search_path=%%')
from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where p.prosecdef and n.nspname = any(%s)
  and {NOT_EXTENSION_OWNED.format(catalog="'pg_proc'", oid="p.oid")}
order by 1, 2, 3
"""


def definer_functions_pinned(conn: psycopg.Connection[Any], schemas: Sequence[str]) -> Measurement:
    """Every SECURITY DEFINER function in an exposed schema that anon or authenticated can execute pins
    ``search_path``: otherwise a caller's objects can shadow what it calls, with its owner's rights."""
    import psycopg

    name = "security definer functions"
    question = (
        f"every SECURITY DEFINER function the API roles can execute in {', '.join(schemas) or '-'} pins search_path"
    )
    source = "pg_proc.prosecdef, proconfig and has_function_privilege(anon/authenticated) in schema(s) " + ", ".join(
        schemas
    )
    expected = "0 executable by anon/authenticated without a pinned search_path"
    try:
        rows = conn.execute(_DEFINER_SQL, (list(API_ROLES), list(schemas))).fetchall()
    except psycopg.Error as exc:
        return query_failed(conn, exc, name, question, source, expected)
    problems: list[str] = []
    details: list[dict[str, Any]] = []
    for schema, fn, args, grantees, public, pinned in rows:
        who = ", ".join(grantees) + (" (through PUBLIC)" if public else "")
        details.append(
            {"function": f"{schema}.{fn}({args})", "executable by": who or "-", "search_path pinned": pinned}
        )
        if grantees and not pinned:
            problems.append(
                f"{schema}.{fn}({args}): SECURITY DEFINER without a pinned search_path, executable by {who}"
                " (add `set search_path = ''`, or revoke execute from public, anon, authenticated)"
            )
    return Measurement(
        name=name,
        question=question,
        observed=f"{len(problems)} unpinned and executable, of {len(rows)} SECURITY DEFINER function(s)",
        expected=expected,
        ok=not problems,
        source=source,
        details=details,
        problems=problems,
    )


_COMMANDS = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "*": "ALL"}
_ALWAYS_TRUE = ("true", "(true)", "1=1", "(1=1)")
# What ties a written row to the caller: the JWT's user or role (Supabase's helpers, or the claims PostgREST sets).
CALLER = (
    "auth.uid()",
    "auth.jwt()",
    "auth.role()",
    "auth.email()",
    "current_user",
    "session_user",
    "request.jwt.claim",
)
# Permissive policies of RLS-enabled tables that apply to anon, authenticated or PUBLIC (polroles {0}).
_POLICIES_SQL = f"""
select n.nspname, c.relname, p.polname, p.polcmd::text,
       array(select case when r = 0 then 'PUBLIC' else r::regrole::text end from unnest(p.polroles) r order by 1),
       lower(regexp_replace(coalesce(pg_get_expr(p.polqual, p.polrelid), ''), '\\s', '', 'g')),
       lower(regexp_replace(coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''), '\\s', '', 'g')),
       coalesce(pg_get_expr(p.polwithcheck, p.polrelid), pg_get_expr(p.polqual, p.polrelid), '')
from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any(%s) and c.relrowsecurity and p.polpermissive
  and exists (select 1 from unnest(p.polroles) r where r = 0 or r::regrole::text = any(%s))
  and {NOT_EXTENSION_OWNED.format(catalog="'pg_class'", oid="c.oid")}
order by 1, 2, 3
"""


def always_true_policies(
    conn: psycopg.Connection[Any],
    schemas: Sequence[str],
    *,
    select_fails: bool = False,
    public_tables: Sequence[str] = (),
) -> Measurement:
    """No policy for anon, authenticated or PUBLIC lets them write any row: a USING or WITH CHECK that is
    constant true on INSERT, UPDATE, DELETE or ALL fails, naming table and policy; so does an INSERT, UPDATE
    or ALL policy whose WITH CHECK (USING, where it has none) names nothing of the caller (``CALLER``), with
    its expression, on a table outside ``public_tables``: ``with check (msg is not null)`` lets anyone write
    any message. A SELECT policy ``using (true)`` is often meant (public reads): it is listed, and fails
    only with ``select_fails`` on a table outside ``public_tables``."""
    import psycopg

    name = "always-true policies"
    question = (
        f"no policy lets anon, authenticated or PUBLIC write every row, or rows not tied to the caller, in"
        f" {', '.join(schemas) or '-'}"
    )
    source = "pg_policy (polcmd, polroles, polqual, polwithcheck) of RLS tables in schema(s) " + ", ".join(schemas)
    expected = "0 always-true write policies, 0 write policies not tied to the caller" + (
        " and 0 always-true reads outside public_tables" if select_fails else ""
    )
    try:
        rows = conn.execute(_POLICIES_SQL, (list(schemas), list(API_ROLES))).fetchall()
    except psycopg.Error as exc:
        return query_failed(conn, exc, name, question, source, expected)
    public = {qualified_name(t) for t in public_tables}
    problems: list[str] = []
    details: list[dict[str, Any]] = []
    for schema, table, policy, cmd, roles, qual, check, written in rows:
        command = _COMMANDS.get(cmd, cmd)
        using_true = qual in _ALWAYS_TRUE or (not qual and command in ("UPDATE", "DELETE", "ALL"))
        check_true = check in _ALWAYS_TRUE or (
            not check and (command == "INSERT" or (command in ("UPDATE", "ALL") and using_true))
        )
        if command == "SELECT":
            if not using_true:
                continue
            what = "USING (true)"
            fails = select_fails and f"{schema}.{table}" not in public
        elif using_true or check_true:
            what = (
                " and ".join(w for w, on in (("USING", using_true), ("WITH CHECK", check_true)) if on) + " always true"
            )
            fails = True
        elif command in ("INSERT", "UPDATE", "ALL") and not any(c in (check or qual) for c in CALLER):
            if f"{schema}.{table}" in public:
                continue
            who = ", ".join(roles)
            details.append({"table": f"{schema}.{table}", "policy": policy, "command": command, "roles": who,
                            "not tied to the caller": f"WITH CHECK {written}", "fails": True})  # fmt: skip
            problems.append(
                f"{schema}.{table}: policy {policy} ({command} to {who}) lets {who} write rows not tied to the caller:"
                f" WITH CHECK {written} names none of {', '.join(CALLER[:4])}, current_user (tie the row to"
                " auth.uid(), or list the table in [database] public_tables)"
            )
            continue
        else:
            continue
        who = ", ".join(roles)
        details.append(
            {
                "table": f"{schema}.{table}",
                "policy": policy,
                "command": command,
                "roles": who,
                "always true": what,
                "fails": fails,
            }
        )
        if fails:
            problems.append(
                f"{schema}.{table}: policy {policy} ({command} to {who}) has {what}: every row is open to {who}"
            )
    reads = sum(1 for d in details if d["command"] == "SELECT")
    untied = sum(1 for d in details if "not tied to the caller" in d)
    return Measurement(
        name=name,
        question=question,
        observed=f"{len(details) - reads - untied} always-true write policy(ies), {reads} always-true read"
        f" policy(ies), {untied} write policy(ies) not tied to the caller",
        expected=expected,
        ok=not problems,
        source=source,
        details=details,
        problems=problems,
    )
