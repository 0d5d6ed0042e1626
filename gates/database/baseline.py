"""Supabase's baseline: what a Supabase project has before its first migration, for gates' local cluster.

Ordinary Supabase migrations reference ``auth.users``, call ``auth.uid()`` / ``auth.jwt()`` in policies
and grant to ``anon`` / ``authenticated``; without these they fail locally for reasons that are not
the app's. ``install`` is idempotent and never replaces what a database already has (a schema restored
from a real project keeps its own ``auth.users`` and functions): it only adds what is missing.
What is and is not emulated is documented in docs/supabase-baseline.md.
"""

from __future__ import annotations

from typing import Any

import psycopg

# The roles PostgREST switches to (NOLOGIN, as on Supabase); ``authenticator`` is the one it logs in as.
API_ROLES = ("anon", "authenticated", "service_role")
LOGIN_ROLE = "authenticator"

ROLES_SQL = """
do $$
declare r text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if not exists (select from pg_roles where rolname = r) then
      execute format('create role %I nologin noinherit', r);
    end if;
  end loop;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
  alter role service_role bypassrls;
  grant anon, authenticated, service_role to authenticator;
end $$
"""


# Supabase's own bodies: the claims PostgREST sets per request (``request.jwt.claims``, and the older
# one-setting-per-claim form); null outside a request.
def _claim_function(name: str, claim: str, returns: str) -> str:
    return f"""create function auth.{name}() returns {returns} language sql stable as $f$
        select coalesce(
          nullif(current_setting('request.jwt.claim.{claim}', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> '{claim}')
        )::{returns} $f$"""


_FUNCTIONS = {
    "auth.uid()": _claim_function("uid", "sub", "uuid"),
    "auth.role()": _claim_function("role", "role", "text"),
    "auth.email()": _claim_function("email", "email", "text"),
    "auth.jwt()": """create function auth.jwt() returns jsonb language sql stable as $f$
        select coalesce(
          nullif(current_setting('request.jwt.claim', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')
        )::jsonb $f$""",
}

_AUTH_USERS = """create table if not exists auth.users (
    instance_id uuid,
    id uuid primary key,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    phone text,
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    is_super_admin boolean,
    is_anonymous boolean not null default false,
    created_at timestamptz,
    updated_at timestamptz,
    deleted_at timestamptz
)"""

# Extensions Supabase preinstalls in ``extensions`` that migrations call (uuid_generate_v4, digest...),
# each only where this Postgres ships it.
_EXTENSIONS = ("pgcrypto", "uuid-ossp")


def _function_sql(signature: str, create: str) -> str:
    return f"do $do$ begin if to_regprocedure('{signature}') is null then execute $x${create}$x$; end if; end $do$"


def _extension_sql(name: str) -> str:
    return (
        f"do $do$ begin if exists (select from pg_available_extensions where name = '{name}') "
        f"""then create extension if not exists "{name}" with schema extensions; end if; end $do$"""
    )


DATABASE_SQL: tuple[str, ...] = (
    "create schema if not exists auth",
    "create schema if not exists extensions",
    # Supabase's default [api] schemas are public and graphql_public (pg_graphql itself is not emulated).
    "create schema if not exists graphql_public",
    _AUTH_USERS,
    *(_function_sql(sig, body) for sig, body in _FUNCTIONS.items()),
    *(_extension_sql(name) for name in _EXTENSIONS),
    "grant usage on schema public, auth, extensions, graphql_public to anon, authenticated, service_role",
    "grant execute on all functions in schema auth to anon, authenticated, service_role",
    # On Supabase a new table in public is readable and writable by anon: exactly why RLS must be on.
    # Without these grants the advisors (and the RLS behaviour check) would see nothing exposed.
    "alter default privileges in schema public grant all on tables to anon, authenticated, service_role",
    "alter default privileges in schema public grant all on sequences to anon, authenticated, service_role",
    "alter default privileges in schema public grant all on functions to anon, authenticated, service_role",
)


def install(conn: psycopg.Connection[Any]) -> None:
    """Add what is missing of the baseline to ``conn``'s database (roles are cluster-wide); idempotent."""
    conn.execute(ROLES_SQL)
    for statement in DATABASE_SQL:
        conn.execute(statement)
