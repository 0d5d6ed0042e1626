"""One release at a time, and releases that are stopped: real `gates deploy` processes, signals and locks.

Each test starts `gates deploy` as a user does, waits (by polling its record.json and the
process table, never by sleeping) until a step runs with a child process, then acts on it.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gates.config import load
from gates.coordination.lock import LockHeld, ReleaseLock, lock_path
from gates.core.procs import wait_until
from tests.selftests.demo import gates, write_config
from tests.selftests.platformfixtures import DEMO_DB_ENV
from tests.selftests.releaseprocs import kill_naming, processes_naming, start_deploy, stop

START_TIMEOUT = 180.0  # a loaded machine: python start-up, a Postgres database, the preflight child


@pytest.fixture
def deploy_config(tmp_path: Path, pg_cluster: Any, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A config of staging and production on fresh databases of the shared cluster; teardown stops what it started."""
    name = request.node.name.removeprefix("test_")[:20]
    env_vars = {f"GATES_INTR_{env.upper()}": pg_cluster.ensure_database(f"intr_{name}_{env}") for env in ("staging", "production")}
    environments = {env: {"database_url_env": f"GATES_INTR_{env.upper()}", "instances": 1} for env in ("staging", "production")}
    saved = {k: os.environ.get(k) for k in env_vars}
    os.environ.update(env_vars)
    config = write_config(tmp_path, environments=environments)
    try:
        yield config
    finally:
        gates("down", config=config)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _records(config: Path) -> set[Path]:
    return {p.parent for p in (config.parent / "deploys").glob("*/record.json")}


def _record(config: Path) -> Path | None:
    """The record of the only release started so far."""
    records = _records(config)
    return records.pop() if len(records) == 1 else None


def _running_with_child(config: Path) -> tuple[Path, dict[str, Any]] | None:
    """The record and its running step, once a child process of that step (its command names the record) exists."""
    record = _record(config)
    if record is None:
        return None
    data = json.loads((record / "record.json").read_text())
    running = [s for s in data["steps"] if s["outcome"] == "running"]
    return (record, running[0]) if running and processes_naming(record) else None


def _locks(config: Path) -> dict[str, str]:
    cfg = load(config)
    return {env: lock_path(cfg, env).read_text() for env in cfg.environments}


def test_a_second_deploy_is_refused_naming_the_holder_and_sigterm_interrupts_the_first(deploy_config, tmp_path):
    """While a release runs, `gates deploy` exits 1 naming the holder; SIGTERM then stops the release's children, records 'interrupted at <step>', frees the locks and exits 130."""
    first = start_deploy(deploy_config, tmp_path / "first")
    try:
        record, _ = wait_until("a release step running a child process", lambda: _running_with_child(deploy_config), timeout=START_TIMEOUT)
        second = gates("deploy", "--first-release", "--reports", str(tmp_path / "second-records"), config=deploy_config)
        assert second.returncode == 1, second.stderr
        assert "another release holds the lock" in second.stderr
        assert f"pid {first.pid} " in second.stderr and f"record {record.name}" in second.stderr and "deploy --first-release" in second.stderr
        assert not (tmp_path / "second-records").exists()  # refused before anything was done
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=120) == 130
    finally:
        stop(first)
    data = json.loads((record / "record.json").read_text())
    interrupted = [s for s in data["steps"] if s["outcome"] == "interrupted"]
    # Each step running when the signal came (steps may run beside each other), and only those.
    assert interrupted and all(s["outcome"] in ("passed", "interrupted", "skipped") for s in data["steps"]), data["steps"]
    assert data["outcome"] == "interrupted"
    assert data["reason"] == "interrupted at " + ", ".join(f"{s['name']} {s['env']}" for s in interrupted)
    skipped = [s for s in data["steps"] if s["outcome"] == "skipped"]
    assert skipped and all(s["detail"] == f"not run: {data['reason']}" for s in skipped)
    assert "gates: interrupted" in (tmp_path / "first" / "stderr").read_text()
    wait_until("the release's child processes to be gone", lambda: not processes_naming(record), timeout=30)
    assert _locks(deploy_config) == {"staging": "", "production": ""}


def test_a_lock_left_by_a_killed_deploy_is_reported_stale_and_taken_over(deploy_config, tmp_path):
    """A deploy killed with SIGKILL leaves its lock files naming a dead pid and its rows in the databases' gates.locks; the next
    deploy reports the files as stale (taken over) and the rows as replaced (their sessions ended), records both and goes on."""
    killed = start_deploy(deploy_config, tmp_path / "killed")
    try:
        record, _ = wait_until("a release step running a child process", lambda: _running_with_child(deploy_config), timeout=START_TIMEOUT)
    finally:
        stop(killed)
    kill_naming(record)  # what SIGKILL left running: its steps' own process groups
    left = json.loads(_locks(deploy_config)["staging"])
    assert left["pid"] == killed.pid and left["record"] == record.name
    wait_until("the killed release's children to be gone", lambda: not processes_naming(record), timeout=30)

    after = start_deploy(deploy_config, tmp_path / "after")
    try:
        # Not "the newest": two records of one second sort by their random suffix.
        new = wait_until("a new release", lambda: next(iter(_records(deploy_config) - {record}), None), timeout=START_TIMEOUT)
        stale = wait_until("the stale lock in the record", lambda: json.loads((new / "record.json").read_text()).get("lock"), timeout=60)
        after.send_signal(signal.SIGTERM)
        assert after.wait(timeout=120) == 130
    finally:
        stop(after)
    files = [line for line in stale["stale"] if "stale lock of" in line]
    rows = [line for line in stale["stale"] if "database lock row of" in line]
    assert len(files) == 2 and len(rows) == 2, stale
    assert all(f"stale lock of pid {killed.pid} " in line and "(not running) taken over" in line for line in files)
    assert all(f"pid {killed.pid} on " in line and f"record {record.name}" in line and "(its session is gone) replaced" in line for line in rows)
    assert stale["scope"] == {"staging": "database", "production": "database"}
    assert f"stale lock of pid {killed.pid} " in (tmp_path / "after" / "stderr").read_text()
    assert _locks(deploy_config) == {"staging": "", "production": ""}


@pytest.fixture
def shared_database(make_config, pg_database, monkeypatch):
    """make_config's environments on one real database (instead of an unreachable one): their locks are held there too."""
    monkeypatch.setenv(DEMO_DB_ENV, pg_database)
    return make_config


def test_a_lock_is_taken_all_or_none(shared_database):
    """When one environment's lock is held, here or on another machine (another state directory, the same database), the
    others are not kept by the refused caller."""
    config, other_machine = shared_database(), shared_database()
    with ReleaseLock(config, ["production"]):
        for taker in (config, other_machine):
            refused = ReleaseLock(taker, ["staging", "production"], argv=["deploy"])
            with pytest.raises(LockHeld, match="production: another release holds the lock"):
                refused.acquire()
            with ReleaseLock(taker, ["staging"]) as staging:
                assert staging.stale == [] and staging.scope == {"staging": "database"}


@pytest.mark.parametrize("command", [["rollback", "--env", "staging"], ["migrate", "--env", "staging"]])
def test_rollback_and_migrate_are_refused_while_a_release_holds_the_environment(shared_database, command):
    """`gates rollback` and `gates migrate` take the environment's lock too: refused with exit 1 naming the holder."""
    config = shared_database()
    with ReleaseLock(config, ["staging"], argv=["deploy"]) as held:
        held.set_record("20260101T000000Z-abcdef")
        result = gates(*command, config=config.path)
    assert result.returncode == 1, result.stderr
    assert f"staging: another release holds the lock (pid {os.getpid()} " in result.stderr
    assert "record 20260101T000000Z-abcdef: gates deploy" in result.stderr
    assert lock_path(config, "staging").read_text() == ""
