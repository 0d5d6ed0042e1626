"""The Python demo's database health (/api/analytics/health) says whether the database is reachable, not whether the
machine is busy: it asks on a connection kept open between requests (a busy machine slows opening one, a backend
forked and a password exchanged, past the health's own connect bound), and a connection the server ended is
replaced by a new one, not answered with a 503. The demo is started by hand against a migrated Postgres."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg

from gates.core.procs import wait_until
from tests.selftests.demo import DEMO, running_demo

REQUESTS = 20


def _migrated(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        for migration in sorted((DEMO / "supabase" / "migrations").glob("*.sql")):
            conn.execute(migration.read_text().encode())
    return url


def _sessions(conn: psycopg.Connection) -> set[int]:
    """The demo's sessions on the test database: every other client backend on it."""
    rows = conn.execute(
        "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
        " and backend_type = 'client backend'"
    ).fetchall()
    return {int(pid) for (pid,) in rows}


def _health(url: str) -> tuple[int, str]:
    response = httpx.get(url + "/api/analytics/health", timeout=30)
    return response.status_code, response.json()["status"]


def test_the_demo_health_asks_on_a_kept_connection_and_replaces_one_the_server_ended(pg_database, tmp_path: Path):
    """20 health checks in a row answer ok over one database session (not 20 connects); after the server ends that
    session, the next check answers ok over a new one."""
    database = _migrated(pg_database)
    with running_demo(database, tmp_path / "demo.log") as url, psycopg.connect(database, autocommit=True) as watch:
        assert [_health(url) for _ in range(REQUESTS)] == [(200, "ok")] * REQUESTS
        (kept,) = _sessions(watch)
        watch.execute("select pg_terminate_backend(%s)", (kept,))
        wait_until(f"the demo's session (pid {kept}) to end", lambda: kept not in _sessions(watch), timeout=30)
        assert _health(url) == (200, "ok")
        (new,) = _sessions(watch)
        assert new != kept
