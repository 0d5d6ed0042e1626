"""Fixtures of real Postgres: one gates LocalCluster per test session (per xdist worker), fresh databases in it.

Also a helper that writes a Supabase migrations folder, for tests that push migrations.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from gates.core.errors import GatesError
from gates.database.cluster import LocalCluster
from tests.selftests.demo import free_port

_START_ATTEMPTS = 3


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A LocalCluster on a free port with its state in a temp dir, started once, stopped at the end."""
    state_dir = tmp_path_factory.mktemp("pg-state")
    cluster = _start(state_dir)
    try:
        yield cluster
    finally:
        cluster.stop()


def _start(state_dir: Path) -> LocalCluster:
    # A free port can be taken by someone else before postgres binds it: try another one.
    error: GatesError | None = None
    for _ in range(_START_ATTEMPTS):
        cluster = LocalCluster(state_dir, free_port())
        try:
            cluster.start()
            return cluster
        except GatesError as exc:
            error = exc
    assert error is not None
    raise error


@pytest.fixture
def pg_database(pg_cluster: LocalCluster) -> Iterator[str]:
    """The URL of a fresh, empty database (unique name) in the session's cluster; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = pg_cluster.ensure_database(name)
    yield url
    drop_database(pg_cluster, name)


def drop_database(cluster: LocalCluster, name: str) -> None:
    with psycopg.connect(cluster.url("postgres"), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def write_migrations(app_source: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (file name -> SQL) into ``app_source/supabase/migrations``; return that folder."""
    folder = app_source / "supabase" / "migrations"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder
