"""The local Postgres cluster gates starts and stops itself: real initdb, pg_ctl and psycopg."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import psycopg
import pytest

from gates.core.errors import GatesError, UsageError
from gates.database.cluster import SUPABASE_ROLES, LocalCluster
from tests.selftests.demo import free_port


def _children_of(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (a postmaster's backends and helpers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _pid_exists(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _bindable_by_a_server(port: int) -> bool:
    """Whether a server (SO_REUSEADDR, as postgres binds) can listen on ``port``; TIME_WAIT leftovers do not count."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
        return True


def test_start_is_idempotent(pg_cluster: LocalCluster) -> None:
    """Starting a running cluster again keeps the same postmaster and changes nothing."""
    before = json.loads(pg_cluster.state_file.read_text())["pid"]
    pg_cluster.start()
    assert pg_cluster.running()
    assert json.loads(pg_cluster.state_file.read_text())["pid"] == before


def test_state_file_says_where_the_cluster_is(pg_cluster: LocalCluster) -> None:
    """postgres.json in the state dir records port, data dir and postmaster pid, and the data dir is in /tmp."""
    state = json.loads(pg_cluster.state_file.read_text())
    assert state["port"] == pg_cluster.port
    assert Path(state["data_dir"]) == pg_cluster.data_dir
    assert pg_cluster.data_dir.parent.parent == Path("/tmp") and (pg_cluster.data_dir / "PG_VERSION").is_file()
    assert _pid_exists(state["pid"])


def test_supabase_roles_exist_and_cannot_log_in(pg_cluster: LocalCluster) -> None:
    """The cluster has the Supabase roles anon, authenticated and service_role, all NOLOGIN."""
    with psycopg.connect(pg_cluster.url("postgres")) as conn:
        rows = conn.execute(
            "select rolname, rolcanlogin from pg_roles where rolname = any(%s) order by 1", (list(SUPABASE_ROLES),)
        ).fetchall()
    assert rows == [(role, False) for role in sorted(SUPABASE_ROLES)]


def test_a_new_database_looks_like_a_supabase_project(pg_database: str) -> None:
    """A new database has the auth and extensions schemas, auth.uid() returning null, and the API roles' grants."""
    with psycopg.connect(pg_database) as conn:
        assert conn.execute("select auth.uid()").fetchone() == (None,)
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace").fetchall()}
        assert {"auth", "extensions", "public"} <= schemas
        usage = conn.execute(
            "select bool_and(has_schema_privilege(r, 'public', 'usage')) from unnest(%s::text[]) r",
            (list(SUPABASE_ROLES),),
        ).fetchone()
        assert usage == (True,)
        # As on Supabase, a new table in public is readable by anon: the reason RLS must be on.
        conn.execute("create table public.fresh (id int)")
        assert conn.execute("select has_table_privilege('anon', 'public.fresh', 'select')").fetchone() == (True,)


SUPABASE_MIGRATION = """
create table public.profiles (
    id uuid primary key references auth.users (id) on delete cascade,
    email text default auth.email(),
    created_at timestamptz default now()
);
alter table public.profiles enable row level security;
create policy own_profile on public.profiles for all to authenticated
    using ((select auth.uid()) = id) with check ((select auth.uid()) = id);
create policy admins on public.profiles for select to authenticated using (auth.jwt() ->> 'user_role' = 'admin');
create policy service on public.profiles for all to service_role using (auth.role() = 'service_role');
create or replace function public.new_id() returns uuid language sql as $$ select extensions.gen_random_bytes(16)::text::uuid $$;
grant select on public.profiles to anon;
"""


def test_the_baseline_is_supabases(pg_database: str, tmp_path: Path) -> None:
    """A new database has authenticator (login, member of the API roles), auth.users, auth.uid/role/email/jwt
    reading PostgREST's claims, the extensions schema; an ordinary Supabase migration pushes cleanly."""
    from gates.database.migrations import push
    from tests.selftests.pgfixtures import write_migrations

    with psycopg.connect(pg_database, autocommit=True) as conn:
        assert conn.execute(
            "select rolcanlogin, array(select b.rolname from pg_auth_members m join pg_roles b on b.oid = m.roleid"
            " where m.member = r.oid order by 1) from pg_roles r where rolname = 'authenticator'"
        ).fetchone() == (True, ["anon", "authenticated", "service_role"])
        claims = '{"sub": "8d0f7a4e-3a52-4a8e-9a62-3a2b1d1e2f10", "role": "authenticated", "email": "a@b.c"}'
        with conn.transaction(force_rollback=True):
            conn.execute("set local role authenticated")
            conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
            row = conn.execute("select auth.uid()::text, auth.role(), auth.email(), auth.jwt() ->> 'email'").fetchone()
        assert row == ("8d0f7a4e-3a52-4a8e-9a62-3a2b1d1e2f10", "authenticated", "a@b.c", "a@b.c")
        assert conn.execute("select auth.role(), auth.jwt()").fetchone() == (None, None)
        assert conn.execute("select to_regclass('auth.users') is not null, to_regnamespace('extensions') is not null").fetchone() == (True, True)
        assert conn.execute("select has_table_privilege('anon', 'auth.users', 'select')").fetchone() == (False,)
    write_migrations(tmp_path, {"20250101000000_profiles.sql": SUPABASE_MIGRATION})
    push(pg_database, tmp_path, None)


def test_the_baseline_is_installed_idempotently_and_keeps_what_exists(pg_cluster: LocalCluster) -> None:
    """ensure_database installs the baseline into a database made without it, adds only what is missing,
    and a second time changes nothing (a restored project's own auth.uid() stays)."""
    from tests.selftests.pgfixtures import drop_database

    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as admin:
        admin.execute("drop database if exists bare_db with (force)")
        admin.execute("create database bare_db template template0")
    try:
        with psycopg.connect(pg_cluster.url("bare_db"), autocommit=True) as conn:
            conn.execute("create schema auth")
            conn.execute("create function auth.uid() returns uuid language sql as $$ select null::uuid $$")
        pg_cluster.ensure_database("bare_db")
        pg_cluster.ensure_database("bare_db")
        with psycopg.connect(pg_cluster.url("bare_db")) as conn:
            body = conn.execute("select prosrc from pg_proc where oid = 'auth.uid()'::regprocedure").fetchone()
            assert body == (" select null::uuid ",)
            assert conn.execute("select to_regprocedure('auth.jwt()') is not null, to_regclass('auth.users') is not null").fetchone() == (True, True)
    finally:
        drop_database(pg_cluster, "bare_db")


def test_ensure_database_is_idempotent(pg_cluster: LocalCluster) -> None:
    """ensure_database creates a missing database once and returns the same URL every time."""
    first = pg_cluster.ensure_database("ensure_twice")
    assert first == pg_cluster.ensure_database("ensure_twice") == pg_cluster.url("ensure_twice")
    assert first == f"postgresql://postgres@127.0.0.1:{pg_cluster.port}/ensure_twice"
    with psycopg.connect(first) as conn:
        assert conn.execute("select current_database()").fetchone() == ("ensure_twice",)


def test_an_unusable_database_name_is_a_usage_error(pg_cluster: LocalCluster) -> None:
    """A database name that is not a plain identifier is refused before any SQL runs."""
    with pytest.raises(UsageError, match="not a usable database name"):
        pg_cluster.ensure_database("x; drop database postgres")


def test_stop_frees_the_port_and_leaves_no_process(tmp_path: Path) -> None:
    """stop() ends the postmaster and all its children, frees the port, deletes the data, and can be repeated."""
    state_dir = tmp_path / "private" / "state"
    state_dir.parent.mkdir()
    os.chmod(state_dir.parent, 0o700)  # the data dir must not depend on the state dir being reachable
    cluster = LocalCluster(state_dir, free_port())
    cluster.start()
    pid = json.loads(cluster.state_file.read_text())["pid"]
    assert _children_of(pid) and _listening(cluster.port)

    cluster.stop()

    assert not cluster.running() and not _pid_exists(pid) and _children_of(pid) == []
    assert not _listening(cluster.port) and _bindable_by_a_server(cluster.port)
    assert not cluster.base_dir.exists() and not cluster.state_file.exists()
    cluster.stop()  # idempotent
    assert not cluster.running()


def test_a_failed_start_raises_with_the_server_log(pg_cluster: LocalCluster, tmp_path: Path) -> None:
    """Starting a cluster on a port already in use raises GatesError carrying the tail of the server log."""
    cluster = LocalCluster(tmp_path / "state", pg_cluster.port)
    try:
        with pytest.raises(GatesError, match=f"did not start on 127.0.0.1:{pg_cluster.port}") as caught:
            cluster.start()
        assert "server log" in str(caught.value) and "could not" in str(caught.value)
        assert not cluster.running()
    finally:
        cluster.stop()
    assert not cluster.base_dir.exists()
