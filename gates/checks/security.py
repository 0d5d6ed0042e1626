"""What the API roles can do beyond row level security: SECURITY DEFINER functions, always-true policies.

Both read the catalog only (a production gate connects read-only) and ignore objects an extension
owns (``pg_depend.deptype = 'e'``): they are not the app's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from gates.checks.database import query_failed
from gates.measurement import Measurement

API_ROLES = ("anon", "authenticated")
NOT_EXTENSION_OWNED = """not exists (
    select 1 from pg_depend d where d.classid = {catalog}::regclass and d.objid = {oid} and d.deptype = 'e')"""

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
