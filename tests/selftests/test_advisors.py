"""Supabase's advisors run by the real CLI against a real database: quiet when healthy, loud on a fault, closed on errors."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from gates.checks.advisors import advisors, judge_advisors, prefetch, read_only_url, read_run
from gates.core.errors import GatesError
from gates.database.migrations import push
from tests.selftests.pgfixtures import write_migrations

HEALTHY = """
create table public.notes (id bigint primary key);
alter table public.notes enable row level security;
create policy notes_read on public.notes for select to anon using (true);
"""
# What `supabase db advisors --output-format json` printed (exit 0) when a lint query failed.
ERROR_REPORT = {
    "target": {"kind": "db-url", "host": "127.0.0.1", "port": 5432},
    "_tag": "Error",
    "error": {"code": "DbQueryError", "message": 'ERROR: role "anon" does not exist (SQLSTATE 42704)'},
}


def test_advisors_pass_on_a_healthy_database_and_name_a_security_definer_view(pg_database: str) -> None:
    """No ERROR on a table with RLS and a policy; a security-definer view is then named with its remediation link."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(HEALTHY)
        healthy = advisors(pg_database)
        conn.execute("create view public.note_ids as select id from public.notes")
        broken = advisors(pg_database)
    assert healthy.ok, healthy.explain()
    assert not broken.ok
    (problem,) = broken.problems
    assert problem.startswith("ERROR security_definer_view: View `public.note_ids`")
    assert (
        "remediation: https://supabase.com/docs/guides/database/database-linter?lint=0010_security_definer_view"
        in problem
    )


def test_a_lower_level_reports_more(pg_database: str) -> None:
    """At level info, an RLS table without policy (an INFO lint) fails naming the table; at error it passes."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(
            "create table public.locked (id bigint primary key); alter table public.locked enable row level security"
        )
    assert advisors(pg_database, "error").ok
    info = advisors(pg_database, "info")
    assert any(p.startswith("INFO rls_enabled_no_policy: Table `public.locked`") for p in info.problems), info.problems


def test_the_cli_error_json_with_exit_0_fails_closed() -> None:
    """The CLI's error report fails the advisors molecule even with exit 0, naming the error."""
    m = judge_advisors(json.dumps(ERROR_REPORT), 0, "error", "supabase db advisors")
    assert not m.ok
    assert list(m.problems) == [
        'the advisors CLI reported an error (DbQueryError, exit 0): ERROR: role "anon" does not exist (SQLSTATE 42704)'
    ]
    assert not judge_advisors("", 0, "error", "x").ok  # no report at all: nothing was verified


def test_the_real_cli_error_report_fails(pg_database: str) -> None:
    """The real CLI against a database that does not exist prints its error JSON; the molecule fails naming it."""
    m = advisors(pg_database.rsplit("/", 1)[0] + "/no_such_database")
    assert not m.ok and "the advisors CLI reported an error (DbConnectError" in m.problems[0]
    assert "no_such_database" in m.problems[0]


def test_on_production_the_cli_session_is_read_only(pg_database: str, tmp_path: Path) -> None:
    """The read-only URL the production advisors use still lints, and the CLI's session through it refuses writes."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(HEALTHY)
    assert advisors(pg_database, read_only=True).ok
    write_migrations(tmp_path, {"1_write.sql": "create table public.written (id bigint primary key);\n"})
    with pytest.raises(GatesError, match="read-only transaction"):
        push(read_only_url(pg_database), tmp_path, None)


def test_a_prefetched_run_is_judged_like_a_direct_one_and_fails_closed(pg_database: str, tmp_path: Path) -> None:
    """The run the pipeline starts beside the gate gives the molecule's verdict: quiet on a healthy database,
    the CLI's error on a missing one, and the database password masked in the file."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(HEALTHY)
    # The local cluster trusts its users, so a password in the URL is accepted and must never be written.
    with_password = pg_database.replace("postgres@", "postgres:canary-advisors-pw@", 1)
    assert "canary-advisors-pw" in with_password
    prefetch(with_password, tmp_path / "healthy.json")
    assert advisors(with_password, prefetched=tmp_path / "healthy.json").ok
    assert "canary-advisors-pw" not in (tmp_path / "healthy.json").read_text()
    missing = pg_database.rsplit("/", 1)[0] + "/no_such_database"
    prefetch(missing, tmp_path / "missing.json")
    m = advisors(missing, prefetched=tmp_path / "missing.json")
    assert not m.ok and "the advisors CLI reported an error (DbConnectError" in m.problems[0]
    assert not list(tmp_path.glob("*.partial")), "a run is left whole or not at all"


def test_a_prefetched_run_that_never_comes_or_is_not_one_fails_naming_the_file(tmp_path: Path) -> None:
    """Waiting for a run is bounded and names the file; a file that is not a run is an error naming it."""
    with pytest.raises(GatesError, match=r"never\.json"):
        read_run(tmp_path / "never.json", timeout=0.2)
    (tmp_path / "garbage.json").write_text("{")
    with pytest.raises(GatesError, match=r"garbage\.json: not an advisors run"):
        read_run(tmp_path / "garbage.json")
