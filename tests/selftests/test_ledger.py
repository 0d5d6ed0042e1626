"""One release per environment across machines, and the release ledger every machine reads: real Postgres, real CLI runs.

A "machine" is a state directory of its own (``GATES_STATE_DIR``) and a records folder of its own;
what machines share is the environment's database, where the lock and the ledger live.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gates.coordination.dblock import DatabaseLock, Holder, LockHeld
from gates.coordination.schema import connect
from gates.core.procs import wait_until
from tests.selftests.demo import demo_copy, gates, junit_results, write_config
from tests.selftests.releaseprocs import kill_naming, processes_naming, start_deploy, stop

DB_ENV = "GATES_LEDGER_DB"
START_TIMEOUT = 240.0  # a loaded machine: python start-up, the preflight (a local cluster for its rehearsal), migrate
# Not what these tests are about, and the slowest to start: the browser gate has tests of its own.
WAIVE = '\n[gate.waive]\n' + "\n".join(
    f'{name} = "not under test here"'
    for name in ("test_dashboard_loads_inside_the_admin_frame", "test_every_tile_shows_data",
                 "test_no_console_errors_in_any_frame", "test_app_pages_allow_embedding_in_the_admin")
) + "\n"  # fmt: skip
# The tests reading one three-release history share a worker, so the three releases are made once.
SHARES_RELEASES = pytest.mark.xdist_group("ledger-releases")
RLS_MOLECULES = (
    "test_every_exposed_table_has_rls_enabled",
    "test_anon_reads_and_writes_only_the_public_tables",
    "test_no_policy_opens_every_row_to_the_api",
    "test_no_unknown_migration_is_applied",
    "test_every_migration_is_applied",
)


def _claim(pid: int) -> Holder:
    return Holder(pid, "laptop", "gates deploy", "2026-01-01T00:00:00+00:00", user="ann")


def _lock_is_free(url: str, claim: Holder) -> DatabaseLock | None:
    lock = DatabaseLock(url, "demo", "staging", claim)
    try:
        lock.acquire()
    except LockHeld:
        return None
    return lock


def test_gates_sessions_keep_alive_and_are_never_cut_for_idling(pg_database):
    """The lock's session has server-side TCP keepalives on (a vanished machine's session ends) and no idle timeout."""
    with connect(pg_database, "gates test") as conn:
        settings = dict(conn.execute("select name, setting from pg_settings where name = any(%s)",
                                     (["tcp_keepalives_idle", "tcp_keepalives_count", "idle_session_timeout"],)).fetchall())  # fmt: skip
    assert settings == {"tcp_keepalives_idle": "30", "tcp_keepalives_count": "3", "idle_session_timeout": "0"}


def test_the_database_lock_refuses_a_second_taker_naming_the_holder_and_a_dead_session_frees_it(pg_database):
    """A second taker is refused naming the first from gates.locks; another environment or app is not; when the holder's session
    dies the advisory lock is free with no takeover step, and the row it left is replaced and named."""
    first = DatabaseLock(pg_database, "demo", "staging", _claim(101))
    first.acquire()
    first.set_record("20260101T000000Z-aaaaaa")
    with pytest.raises(LockHeld) as refused:
        DatabaseLock(pg_database, "demo", "staging", _claim(202)).acquire()
    assert "staging: another release holds the lock in the environment's database" in str(refused.value)
    assert "ann@laptop pid 101 on laptop since" in str(refused.value) and "record 20260101T000000Z-aaaaaa" in str(refused.value)
    for app, env in (("demo", "production"), ("shop", "staging")):
        other = DatabaseLock(pg_database, app, env, _claim(303))
        other.acquire()
        other.release()
    with psycopg.connect(pg_database, autocommit=True) as admin:  # the holder dies: its session ends
        admin.execute("select pg_terminate_backend(backend_pid) from gates.locks where pid = 101")
    third = wait_until("the dead holder's lock to be free", lambda: _lock_is_free(pg_database, _claim(404)), timeout=30)
    assert third.replaced is not None and third.replaced.pid == 101 and third.replaced.record == "20260101T000000Z-aaaaaa"
    first.release()  # the dead holder's clean-up, late: it must not touch the new holder's row
    with psycopg.connect(pg_database, autocommit=True) as conn:
        assert conn.execute("select pid from gates.locks").fetchall() == [(404,)]
    third.release()
    with psycopg.connect(pg_database, autocommit=True) as conn:
        assert conn.execute("select count(*) from gates.locks").fetchone() == (0,)


@pytest.fixture
def database_env(pg_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment variable naming a fresh database, set for this test and the gates it starts."""
    monkeypatch.setenv(DB_ENV, pg_database)
    monkeypatch.delenv("GATES_STATE_DIR", raising=False)
    return pg_database


@pytest.fixture
def machines(tmp_path: Path) -> Iterator[Callable[[str], dict[str, str]]]:
    """Factory of machines: the environment variables of a state directory of its own; teardown stops what each started."""
    made: dict[str, dict[str, str]] = {}

    def machine(name: str) -> dict[str, str]:
        made[name] = {"GATES_STATE_DIR": str(tmp_path / "machines" / name / "state")}
        return made[name]

    yield machine
    for env in made.values():
        for config in (tmp_path / "cfg").glob("*.toml"):
            gates("down", config=config, env=env)


def _reports(tmp_path: Path, machine: str) -> Path:
    return tmp_path / "machines" / machine / "deploys"


def _only_record(folder: Path) -> Path | None:
    records = list(folder.glob("*/record.json"))
    return records[0].parent if len(records) == 1 else None


def _in_step(folder: Path, name: str) -> Path | None:
    """The record under ``folder`` once its step ``name`` runs."""
    record = _only_record(folder)
    if record is None:
        return None
    steps = json.loads((record / "record.json").read_text())["steps"]
    return record if any(s["name"] == name and s["outcome"] == "running" for s in steps) else None


def test_a_deploy_from_another_machine_is_refused_naming_the_first_and_sigkill_frees_the_lock(database_env, machines, servers, tmp_path):
    """Two `gates deploy` of one environment from two state directories: the second is refused naming the first (holder, pid,
    record); once the first is killed with SIGKILL a third deploy gets the lock at once, replacing the row the first left
    and writing the killed release into the ledger as interrupted."""
    app = servers["target"](delays={"/health": 900.0})  # the first release waits in its gate, on /health
    environments = {"staging": {"platform": "external", "url": app.url, "database_url_env": DB_ENV}}
    config = write_config(tmp_path / "cfg", environments=environments, app={"health_paths": ["/health"], "health_timeout": 590.0}, extra=WAIVE)
    first = start_deploy(config, tmp_path / "out-a", "--reports", str(_reports(tmp_path, "a")), env=machines("a"))
    try:
        record = wait_until("the first release's gate", lambda: _in_step(_reports(tmp_path, "a"), "gate"), timeout=START_TIMEOUT)
        second = gates("deploy", "--first-release", "--reports", str(_reports(tmp_path, "b")), config=config, env=machines("b"))
        assert second.returncode == 1, second.stdout + second.stderr
        assert "staging: another release holds the lock in the environment's database" in second.stderr
        assert f"pid {first.pid} on " in second.stderr and f"record {record.name}" in second.stderr
        assert "deploy --first-release" in second.stderr and "@" in second.stderr
        assert not _reports(tmp_path, "b").exists()  # refused before anything was done
        first.kill()  # SIGKILL: no clean-up of any kind
        first.wait(timeout=30)
    finally:
        stop(first)
    kill_naming(record)
    wait_until("the killed release's children to be gone", lambda: not processes_naming(record), timeout=30)

    third = start_deploy(config, tmp_path / "out-c", "--reports", str(_reports(tmp_path, "c")), env=machines("c"))
    try:
        new = wait_until("the third release's record", lambda: _only_record(_reports(tmp_path, "c")), timeout=START_TIMEOUT)
        lock = wait_until("the lock in its record", lambda: json.loads((new / "record.json").read_text()).get("lock"), timeout=60)
        # Interrupted at once, maybe before its first step: its ledger writer listens from the record's first write.
        third.send_signal(signal.SIGTERM)
        assert third.wait(timeout=120) == 130
    finally:
        stop(third)
        kill_naming(new)
    assert lock["scope"] == {"staging": "database"}
    (replaced,) = lock["stale"]
    assert f"pid {first.pid} on " in replaced and f"record {record.name}" in replaced and "(its session is gone) replaced" in replaced
    with psycopg.connect(database_env, autocommit=True) as conn:
        assert conn.execute("select count(*) from gates.locks").fetchone() == (0,)  # the third released it
    history = json.loads(gates("history", "--env", "staging", "--json", config=config, env=machines("b")).stdout)
    assert [(e["record"], e["outcome"]) for e in history] == [(new.name, "interrupted"), (record.name, "interrupted")]
    lost = history[1]  # the killed release could not say how it ended: the third said it for it
    assert lost["kind"] == "deploy" and lost["reason"].startswith("killed: ") and f"pid {first.pid} on " in lost["reason"]


@pytest.fixture(scope="module")
def three_releases(tmp_path_factory: pytest.TempPathFactory, pg_cluster: Any) -> Iterator[dict[str, Any]]:
    """Staging on the local platform, released three times from one machine: good, a failed gate, good again (other code)."""
    folder = tmp_path_factory.mktemp("ledger")
    url = pg_cluster.ensure_database("ledger_three")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DB_ENV, url)
        mp.delenv("GATES_STATE_DIR", raising=False)
        environments = {"staging": {"database_url_env": DB_ENV, "instances": 1}}
        # The rollout probe watches /health only: the faulty release's 500s are for its gate to catch.
        config = write_config(folder / "cfg", environments=environments, extra=WAIVE + '[probe]\npaths = ["/health"]\n')
        sources = [demo_copy(folder / "a"), demo_copy(folder / "b", {"status": {"/api/ads/health": 500}}),
                   demo_copy(folder / "c", {"delay_ms": {"/not-served": 1}})]  # fmt: skip
        results = []
        for index, source in enumerate(sources):
            variant = config.with_name(f"gates-{index}.toml")
            variant.write_text(re.sub(r"^source = .*$", f"source = {json.dumps(str(source))}", config.read_text(), count=1, flags=re.M))
            results.append(gates("deploy", "--first-release", config=variant, timeout=900))
        try:
            yield {"config": config, "url": url, "results": results, "records": sorted((folder / "cfg" / "deploys").iterdir()),
                   "fresh": {"GATES_STATE_DIR": str(folder / "fresh-machine")}, "empty": folder / "no-records"}  # fmt: skip
        finally:
            gates("down", config=config)


@SHARES_RELEASES
def test_each_release_is_written_to_the_ledger_and_says_where_its_lock_was_held(three_releases):
    """Every release ends with its entry in the environment's ledger and records that its lock was held in the database."""
    codes = [r.returncode for r in three_releases["results"]]
    assert codes == [0, 1, 0], "\n".join(r.stdout + r.stderr for r in three_releases["results"])
    for record in three_releases["records"]:
        data = json.loads((record / "record.json").read_text())
        assert data["ledger"] == {"staging": "written to gates.releases of staging's database"}
        assert data["lock"]["scope"] == {"staging": "database"}


@SHARES_RELEASES
def test_a_fresh_machine_sees_the_last_release_and_the_previous_good_one_in_gates_status(three_releases):
    """From a new state directory (no local state, no records) `gates status` shows the last release from the ledger and
    names release 1 as the previous good one: release 2 failed its gate."""
    fresh = three_releases["fresh"]
    result = gates("status", "--env", "staging", "--json", config=three_releases["config"], env=fresh)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    last, third = row["ledger"]["last"], three_releases["records"][2]
    assert (last["record"], last["outcome"], last["serving"], last["release_before"]) == (third.name, "passed", 3, 2)
    assert last["evidence"] == str(third / "summary.md")
    assert last["commit"] == json.loads((third / "record.json").read_text())["commit"]
    assert row["ledger"]["previous_good"] == 1
    text = gates("status", "--env", "staging", config=three_releases["config"], env=fresh).stdout
    assert "last release (ledger): " in text and third.name in text and "previous good release (ledger): 1" in text


@SHARES_RELEASES
def test_gates_history_lists_the_ledger_newest_first_with_steps_and_outcomes(three_releases):
    """`gates history --env staging --json` from a fresh machine lists the three releases, each with its steps and their times."""
    result = gates("history", "--env", "staging", "--json", config=three_releases["config"], env=three_releases["fresh"])
    assert result.returncode == 0, result.stderr
    entries = [e for e in json.loads(result.stdout) if e["kind"] == "deploy"]
    assert [e["record"] for e in entries] == [r.name for r in reversed(three_releases["records"])]
    assert [e["outcome"] for e in entries] == ["passed", "failed", "passed"]
    assert [(e["release_before"], e["release_after"]) for e in entries] == [(2, 3), (1, 2), (None, 1)]
    failed = entries[1]
    assert [(s["name"], s["outcome"]) for s in failed["steps"]] == [
        ("preflight", "passed"), ("build", "passed"), ("migrate", "passed"), ("deploy", "passed"), ("gate", "failed")]  # fmt: skip
    assert all(isinstance(s["seconds"], float) and s["seconds"] >= 0 for s in failed["steps"])
    assert "gate staging failed" in failed["reason"]


@SHARES_RELEASES
def test_gates_rollback_picks_the_previous_good_release_from_the_ledger(three_releases):
    """With no local records, `gates rollback` skips release 2 because the ledger shows its failed gate, rolls back to release 1,
    and writes the rollback into the ledger."""
    config, empty = three_releases["config"], three_releases["empty"]
    result = gates("rollback", "--env", "staging", "--reports", str(empty), config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "releases judged by the ledger (3 entries)" in result.stderr
    assert re.fullmatch(
        r"gates: rolled back staging: v3 -> v1 by redeploy in \d+\.\d\ds \(serving v1's code as release v4; "
        r"rollback to v1: redeploy, no release kept warm\); the database was not touched",
        result.stdout.strip().splitlines()[-1],
    ), result.stdout
    history = json.loads(gates("history", "--env", "staging", "--json", config=config, env=three_releases["fresh"]).stdout)
    rollback = history[0]
    assert (rollback["kind"], rollback["outcome"], rollback["release_before"], rollback["serving"]) == ("rollback", "passed", 3, 4)
    assert rollback["rollback"] == {"env": "staging", "from": 3, "to": 1, "release": 4, "path": "redeploy"}
    lines = gates("history", "--env", "staging", config=config, env=three_releases["fresh"]).stdout.splitlines()
    assert len(lines) == 4 and "  rollback  -  passed  release 3 -> 4 (release 1's code, by redeploy)" in lines[0]


@SHARES_RELEASES
def test_the_ledger_is_not_readable_by_anon_or_authenticated_and_the_rls_molecules_pass_beside_it(three_releases):
    """gates' tables have RLS on, no policy, and no privilege for PUBLIC, anon or authenticated: reading them as either API role
    is refused; the staging gate's RLS and migration-history molecules passed with the schema present."""
    with psycopg.connect(three_releases["url"], autocommit=True) as conn:
        for table in ("gates.releases", "gates.locks"):
            (rls, policies) = conn.execute(
                "select c.relrowsecurity, (select count(*) from pg_policy p where p.polrelid = c.oid) "
                "from pg_class c where c.oid = %s::regclass", (table,)).fetchone() or (None, None)  # fmt: skip
            assert (rls, policies) == (True, 0), table
            for role in ("anon", "authenticated"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                    conn.execute(f"set local role {role}")
                    conn.execute(f"select * from {table}")
    gate = junit_results(three_releases["records"][0] / "staging-gate.xml")
    assert {name: gate.get(name) for name in RLS_MOLECULES} == dict.fromkeys(RLS_MOLECULES, "passed")


def test_without_a_database_or_with_the_ledger_off_gates_says_what_it_cannot_know(tmp_path, database_env):
    """An environment without a database keeps this machine's lock and says so; with `[record] ledger = false` status and
    history say "no ledger: [record] ledger = false"."""
    bare = write_config(tmp_path / "bare", environments={"staging": {"platform": "external", "url": "http://127.0.0.1:9"}})
    rollback = gates("rollback", "--env", "staging", config=bare)
    assert "staging: release lock held on this machine only: it has no database to hold the lock" in rollback.stderr
    assert "no ledger: staging has no database" in gates("status", config=bare).stdout
    off = write_config(tmp_path / "off", environments={"staging": {"platform": "external", "url": "http://127.0.0.1:9",
                       "database_url_env": DB_ENV}})  # fmt: skip
    off.write_text(off.read_text().replace("[record]\n", "[record]\nledger = false\n"))
    assert "no ledger: [record] ledger = false" in gates("status", "--env", "staging", config=off).stdout
    history = gates("history", "--env", "staging", config=off)
    assert history.returncode == 1 and "no ledger: [record] ledger = false" in history.stderr


def test_a_config_exposing_gates_schema_is_refused_before_anything_is_done(tmp_path, database_env):
    """With `gates` among the exposed schemas, `gates config check` and `gates deploy` exit 2 naming the key, and no schema is made."""
    environments = {"staging": {"platform": "external", "url": "http://127.0.0.1:9", "database_url_env": DB_ENV}}
    config = write_config(tmp_path / "exposed", environments=environments, app={"exposed_schemas": ["public", "gates"]})
    for command in (["config", "check"], ["deploy", "--first-release"]):
        result = gates(*command, config=config)
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"{config}: app.exposed_schemas: schema 'gates' is gates' own" in result.stderr
    with psycopg.connect(database_env, autocommit=True) as conn:
        assert conn.execute("select to_regnamespace('gates')").fetchone() == (None,)


@pytest.mark.parametrize("command", [["rollback", "--env", "staging"], ["migrate", "--env", "staging"]])
def test_rollback_and_migrate_from_another_machine_are_refused_naming_the_holder(tmp_path, database_env, command):
    """While another machine holds staging's lock in its database, `gates rollback` and `gates migrate` here exit 1 naming it."""
    environments = {"staging": {"platform": "external", "url": "http://127.0.0.1:9", "database_url_env": DB_ENV}}
    config = write_config(tmp_path / "here", environments=environments)
    elsewhere = DatabaseLock(database_env, "demo", "staging", _claim(4242))
    elsewhere.acquire()
    try:
        elsewhere.set_record("20260101T000000Z-bbbbbb")
        result = gates(*command, config=config)
    finally:
        elsewhere.release()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "staging: another release holds the lock in the environment's database (ann@laptop pid 4242 on laptop" in result.stderr
    assert "record 20260101T000000Z-bbbbbb: gates deploy" in result.stderr
