"""The gate's database session is bounded: a locked table or a stuck query is a failed check naming what it
waited on, within ``[database] lock_timeout`` / ``statement_timeout``, never a gate that hangs."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gates.checks.database import migrations_applied
from gates.config import parse
from gates.database import gate_connection
from gates.database.migrations import MigrationFile

HISTORY = "supabase_migrations.schema_migrations"


def _config(tmp_path: Path, **database: float):
    data = {"app": {"name": "a"}, "environments": {"staging": {"platform": "local", "url": "http://127.0.0.1:1"}},
            "database": database}  # fmt: skip
    return parse(data, tmp_path / "gates.toml")


def test_a_locked_migrations_table_fails_the_check_naming_the_table(pg_database, tmp_path):
    """Another session holds ACCESS EXCLUSIVE on the migration history: the migrations check fails after
    lock_timeout, naming the table, the lock and the session holding it."""
    config = _config(tmp_path, lock_timeout=0.5)
    files = [MigrationFile("20250101000000", "init", tmp_path / "20250101000000_init.sql")]
    with psycopg.connect(pg_database, autocommit=True) as holder:
        holder.execute(f"create schema supabase_migrations; create table {HISTORY} (version text primary key, name text)")
        holder.execute(f"insert into {HISTORY} values ('20250101000000', 'init')")
        with gate_connection(pg_database, config.environment("staging"), config) as conn:
            assert migrations_applied(conn, files).ok
            with holder.transaction():
                holder.execute(f"lock table {HISTORY} in access exclusive mode")
                judged = migrations_applied(conn, files)
            assert not judged.ok
            text = judged.explain()
            assert "lock_timeout (500ms) cancelled the statement: waited on supabase_migrations.schema_migrations" in text
            assert "AccessExclusiveLock held by pid" in text and "lock table" in text
            assert migrations_applied(conn, files).ok, "the session stays usable once the lock is gone"


def test_a_stuck_query_is_cancelled_by_statement_timeout(pg_database, tmp_path):
    """A statement running past statement_timeout is cancelled with a message naming the bound and the statement."""
    config = _config(tmp_path, statement_timeout=0.3)
    with gate_connection(pg_database, config.environment("staging"), config) as conn:
        with pytest.raises(psycopg.errors.QueryCanceled, match=r"statement_timeout \(300ms\) cancelled the statement: .*pg_sleep"):
            conn.execute("select pg_sleep(30)")
        assert conn.execute("show lock_timeout").fetchone() == ("5s",)


def test_every_session_of_gates_connects_within_the_statement_timeout(pg_database, pg_cluster, tmp_path):
    """A gate's session, a release step's, the coordination schema's, the rehearsal's and the local cluster's own all
    wait to connect as long as a statement may run ([database] statement_timeout, 7.5 s: 8 whole seconds), not a
    fixed 10 s; a bound under libpq's 2 s minimum is said as the 2 s applied."""
    from gates.coordination.schema import connect
    from gates.database import rehearsal
    from gates.database.cluster import LocalCluster
    from gates.database.waits import connect_timeout, step_session

    config = _config(tmp_path, statement_timeout=7.5)
    waits = config.database
    cluster = LocalCluster(pg_cluster.state_dir, pg_cluster.port, waits)
    opened = [
        gate_connection(pg_database, config.environment("staging"), config),
        step_session(pg_database, "a step", waits),
        connect(pg_database, "coordination", waits),
        rehearsal._connect(pg_database, waits),
        cluster._connect("postgres"),
    ]
    for conn in opened:
        with conn:
            assert "connect_timeout=8" in conn.info.dsn.split(), conn.info.dsn
    assert connect_timeout(_config(tmp_path, statement_timeout=0.3).database) == 2


@pytest.mark.parametrize("key, value", [("lock_timeout", 0), ("statement_timeout", -1), ("statement_timeout", 3600)])
def test_a_bad_database_bound_is_a_config_error_naming_the_key(tmp_path, key, value):
    """Each bound must be positive and at most ten minutes."""
    from gates.core.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"database\.{key}: expected seconds in \(0, 600\]"):
        _config(tmp_path, **{key: value})


# -- the release steps' own sessions: `gates migrate` and `gates deploy` against a held history lock

MIGRATE_DB = "GATES_WAITS_DB"
REHEARSAL = "test_pending_migrations_apply_to_a_copy_of_the_target"


def _migrated_site(tmp_path: Path, url: str, lock_timeout: float, app: dict[str, str] | None = None) -> Path:
    """A staging-only config of the demo on ``url``, its migrations pushed once (the history exists), and one
    more migration pending, bounded by ``lock_timeout``."""
    import shutil

    from gates.bench.sandbox import write_config
    from tests.selftests.demo import DEMO, gates

    source = tmp_path / "app"
    shutil.copytree(DEMO, source, ignore=shutil.ignore_patterns("__pycache__", "faults.json"))
    config = write_config(
        tmp_path / "site", source=source, app=app, environments={"staging": {"database_url_env": MIGRATE_DB}},
        database={"lock_timeout": lock_timeout},
    )  # fmt: skip
    first = gates("migrate", "--env", "staging", config=config, env={MIGRATE_DB: url}, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    # A table the preflight's rehearsed-schema molecule passes: RLS on, with a policy.
    (source / "supabase" / "migrations" / "20990101000000_later.sql").write_text(
        "create table later (id bigint primary key);\nalter table later enable row level security;\n"
        "create policy later_own on later for select to authenticated using (false);\n"
    )
    return config


@pytest.mark.parametrize(
    "mode, where",
    [("access exclusive", "reading the migration history: lock_timeout (6s) cancelled the statement"),
     ("exclusive", "supabase db push failed")],
)  # fmt: skip
def test_gates_migrate_against_a_held_history_lock_fails_naming_it_and_its_holder(pg_database, tmp_path, mode, where):
    """A session holds the migration history locked: `gates migrate` ends within lock_timeout (exit 1) naming the
    table and the holder's pid, name and query, and its progress line says what it waits on meanwhile. EXCLUSIVE
    lets the history be read, so the wait is the Supabase CLI's own: the bound reaches the CLI's sessions too."""
    from tests.selftests.demo import gates

    config = _migrated_site(tmp_path, pg_database, lock_timeout=6)
    with psycopg.connect(pg_database, autocommit=True, application_name="the holder") as holder:
        holder.execute("begin")
        holder.execute(f"lock table {HISTORY} in {mode} mode")
        pid = holder.info.backend_pid
        result = gates("migrate", "--env", "staging", config=config, env={MIGRATE_DB: pg_database}, timeout=120)
        holder.execute("rollback")
    assert result.returncode == 1, result.stdout + result.stderr
    (error,) = result.stderr.strip().splitlines()
    assert where in error and f"{HISTORY} (" in error, error
    assert f"held by pid {pid}, the holder: 'lock table {HISTORY} in {mode} mode'" in error, error
    waits = [line for line in result.stdout.splitlines() if "migrate staging:" in line and "waiting on" in line]
    assert waits and f"waiting on {HISTORY}" in waits[0] and f"held by pid {pid}, the holder" in waits[0], result.stdout


def _told(events: Path) -> list[dict[str, Any]]:
    """The events a release has told so far (a line still being written is not one yet)."""
    told = []
    for line in events.read_text().splitlines() if events.exists() else []:
        with contextlib.suppress(ValueError):
            told.append(json.loads(line))
    return told


def _ended(events: Path, step: str) -> dict[str, Any] | None:
    return next((e for e in _told(events) if e["event"] == "step_ended" and e["step"] == step), None)


def _waiting_build(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """An app whose build says it started (``building``) and then waits (bounded) for the test's ``go``."""
    building, go = tmp_path / "building", tmp_path / "go"
    build = f"touch {building}; i=0; while [ ! -e {go} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done"
    return building, go, {"build": build, "start": "python -m uvicorn app:app --host $HOST --port $PORT"}


def test_gates_deploy_against_a_held_history_lock_fails_its_migrate_step_naming_the_holder(pg_database, tmp_path):
    """The lock is taken while the release builds, once the preflight beside the build has passed: its migrate step
    fails within lock_timeout naming the table and the holder, the progress line said what it waited on, and
    nothing after migrate ran."""
    from gates.core.procs import wait_until
    from tests.selftests.demo import gates
    from tests.selftests.releaseprocs import start_deploy, stop

    building, go, app = _waiting_build(tmp_path)
    config = _migrated_site(tmp_path, pg_database, lock_timeout=6, app=app)
    events = tmp_path / "events.jsonl"
    proc = start_deploy(config, tmp_path / "out", "--events", str(events), env={MIGRATE_DB: pg_database})
    try:
        with psycopg.connect(pg_database, autocommit=True, application_name="the holder") as holder:
            # The build waits for the lock: it is held before migrate starts, after the preflight read the history.
            wait_until(
                "the release's build to start and its preflight to end",
                lambda: (building.exists() and _ended(events, "preflight")) or proc.poll() is not None,
                timeout=240,
            )
            holder.execute("begin")
            holder.execute(f"lock table {HISTORY} in access exclusive mode")
            go.touch()
            pid = holder.info.backend_pid
            proc.wait(timeout=240)
            holder.execute("rollback")
    finally:
        stop(proc)
        gates("down", config=config)
    out = (tmp_path / "out" / "stdout").read_text()
    assert proc.returncode == 1, out + (tmp_path / "out" / "stderr").read_text()
    told = _told(events)
    assert _ended(events, "preflight")["outcome"] == "passed", out  # type: ignore[index]
    (ended,) = [e for e in told if e["event"] == "step_ended" and e["step"] == "migrate"]
    assert ended["outcome"] == "failed" and f"lock_timeout (6s) cancelled the statement: waited on {HISTORY}" in ended["detail"]
    assert f"held by pid {pid}, the holder: 'lock table {HISTORY} in access exclusive mode'" in ended["detail"]
    waits = [e for e in told if e["event"] == "progress" and e["what"] == "migrate staging" and "waiting on" in e["detail"]]
    assert waits and f"held by pid {pid}, the holder" in waits[0]["detail"], out
    assert "migrate staging: " in out and f"waiting on {HISTORY}" in out
    assert not [e for e in told if e["event"] == "step_started" and e["step"] in ("deploy", "gate")]


def test_gates_deploy_with_the_history_held_while_its_preflight_runs_beside_the_build_fails_the_preflight(
    pg_database, tmp_path
):
    """The history is held locked from before the release starts: the preflight, running beside the build, ends
    within lock_timeout failing its migration molecules (the rehearsal's read of the history included) naming the
    table and the holder, the build it ran beside ends, and nothing is migrated or deployed. A rehearsal whose
    history read waited for the holder kept the preflight, and the whole release, waiting on it: this test's
    bounded waits then end it as failed."""
    from xml.etree import ElementTree

    from gates.core.procs import wait_until
    from tests.selftests.demo import gates
    from tests.selftests.releaseprocs import start_deploy, stop

    building, go, app = _waiting_build(tmp_path)
    config = _migrated_site(tmp_path, pg_database, lock_timeout=6, app=app)
    events = tmp_path / "events.jsonl"
    with psycopg.connect(pg_database, autocommit=True, application_name="the holder") as holder:
        holder.execute("begin")
        holder.execute(f"lock table {HISTORY} in access exclusive mode")
        pid = holder.info.backend_pid
        proc = start_deploy(config, tmp_path / "out", "--events", str(events), env={MIGRATE_DB: pg_database})
        try:
            preflight = wait_until(
                "the preflight to end while the history is held",
                lambda: _ended(events, "preflight") or (proc.poll() is not None and {"outcome": "not told"}),
                timeout=240,
            )
            built_meanwhile = building.exists() and not go.exists()
            go.touch()
            proc.wait(timeout=240)
        finally:
            holder.execute("rollback")
            stop(proc)
            gates("down", config=config)
    out = (tmp_path / "out" / "stdout").read_text()
    assert proc.returncode == 1, out + (tmp_path / "out" / "stderr").read_text()
    assert preflight["outcome"] == "failed", out
    assert built_meanwhile, "the build runs beside the preflight"
    assert f"lock_timeout (6s) cancelled the statement: waited on {HISTORY}" in preflight["detail"], preflight
    assert f"held by pid {pid}, the holder" in preflight["detail"], preflight
    # The rehearsal's own read of the history was bounded too, and says so in the preflight's JUnit file.
    (junit,) = (tmp_path / "site" / "deploys").glob("*/preflight.xml")
    (case,) = [c for c in ElementTree.parse(junit).iter("testcase") if c.get("name") == REHEARSAL]
    failure = "".join(f.text or "" for f in case.iter("failure"))
    assert f"not rehearsed: lock_timeout (6s) cancelled the statement: waited on {HISTORY}" in failure, failure
    assert f"held by pid {pid}, the holder" in failure, failure
    assert _ended(events, "build")["outcome"] == "passed", out  # type: ignore[index]
    told = _told(events)
    assert not [e for e in told if e["event"] == "step_started" and e["step"] in ("migrate", "deploy", "gate")]


def test_the_rehearsal_against_a_held_history_lock_ends_within_lock_timeout_naming_the_holder(
    pg_database, pg_cluster, tmp_path
):
    """A session holds the migration history ACCESS EXCLUSIVE: the rehearsal of the pending files (the preflight's
    and migrate's) ends within lock_timeout, not rehearsed, naming the table and the holder, instead of waiting
    for the holder. It runs on a thread the test waits for (bounded): a rehearsal that waits on the holder is a
    failed test, and lets go once the holder does."""
    import threading

    from gates.config import DatabaseConfig
    from gates.database.migrations import push
    from gates.database.rehearsal import rehearse_pending
    from tests.selftests.dbmolecules import app_with_migrations

    source = app_with_migrations(tmp_path / "app", {"20250101000000_a.sql": "create table public.a (id int);\n"})
    push(pg_database, source, None)
    app_with_migrations(source, {"20250102000000_b.sql": "create table public.b (id int);\n"})
    ran: list[Any] = []
    rehearsal = threading.Thread(
        target=lambda: ran.append(
            rehearse_pending(pg_database, source / "supabase" / "migrations", pg_cluster, waits=DatabaseConfig(lock_timeout=0.5))
        ),
        daemon=True,
    )  # fmt: skip
    with psycopg.connect(pg_database, autocommit=True, application_name="the holder") as holder:
        holder.execute("begin")
        holder.execute(f"lock table {HISTORY} in access exclusive mode")
        pid = holder.info.backend_pid
        rehearsal.start()
        rehearsal.join(timeout=120)
        waited = rehearsal.is_alive()
        holder.execute("rollback")
    rehearsal.join(timeout=120)
    assert not waited, "the rehearsal waited on the holder of the migration history"
    (run,) = ran
    assert run.rehearsal is None and run.error.startswith("not rehearsed: lock_timeout (500ms) cancelled the statement")
    assert f"waited on {HISTORY} (AccessExclusiveLock held by pid {pid}, the holder: 'lock table" in run.error, run.error


def test_a_backup_against_a_locked_table_fails_within_lock_timeout_naming_the_holder(pg_database, pg_cluster, tmp_path):
    """A table held ACCESS EXCLUSIVE: the backup fails after lock_timeout naming the table and the holder's pid,
    instead of waiting for the holder."""
    from gates.config import DatabaseConfig
    from gates.core.errors import GatesError
    from gates.database.backup import take_backup

    with psycopg.connect(pg_database, autocommit=True, application_name="the holder") as holder:
        holder.execute("create table orders (id bigint primary key)")
        holder.execute("begin")
        holder.execute("lock table orders in access exclusive mode")
        with pytest.raises(GatesError) as caught:
            take_backup(pg_database, tmp_path / "b.dump", pg_cluster.url("postgres"), waits=DatabaseConfig(lock_timeout=0.5))
        pid = holder.info.backend_pid
    message = str(caught.value)
    assert "lock_timeout (500ms) cancelled the statement: waited on public.orders" in message, message
    assert f"AccessExclusiveLock held by pid {pid}, the holder: 'lock table orders in access exclusive mode'" in message


def test_the_ledger_and_the_release_lock_are_bounded_by_lock_timeout(pg_database, tmp_path, monkeypatch):
    """gates' own tables held locked: reading the ledger says it is unreadable naming the lock and its holder, and
    taking the release lock is refused the same way, each within lock_timeout."""
    from gates.coordination.dblock import DatabaseLock, Holder
    from gates.coordination.ledger import ledger_of
    from gates.core.errors import GatesError

    monkeypatch.setenv("GATES_WAITS_LEDGER", pg_database)
    data = {"app": {"name": "a"}, "database": {"lock_timeout": 0.5}, "environments": {"staging": {
        "platform": "local", "url": "http://127.0.0.1:1", "database_url_env": "GATES_WAITS_LEDGER"}}}  # fmt: skip
    config = parse(data, tmp_path / "gates.toml")
    claim = Holder(1, "h", "gates deploy", "now")
    lock = DatabaseLock(pg_database, "a", "staging", claim, config.database)
    lock.acquire()  # creates gates' schema
    lock.release()
    with psycopg.connect(pg_database, autocommit=True, application_name="the holder") as holder:
        holder.execute("begin")
        holder.execute("lock table gates.releases, gates.locks in access exclusive mode")
        known = ledger_of(config, config.environment("staging"))
        with pytest.raises(GatesError) as refused:
            DatabaseLock(pg_database, "a", "staging", claim, config.database).acquire()
        pid = holder.info.backend_pid
    assert "lock_timeout (500ms) cancelled the statement: waited on gates.releases" in known.unavailable
    assert f"held by pid {pid}, the holder" in known.unavailable
    assert "lock_timeout (500ms) cancelled the statement" in str(refused.value) and f"pid {pid}" in str(refused.value)
