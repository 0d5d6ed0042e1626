"""Crash-safe releases: a `gates deploy` or `gates rollback` killed with SIGKILL at a step, then the next command.

The release writes its intent (step, environment) to its journal before each step acts; the test
waits for that intent (polling the journal, never sleeping), kills the process outright, and
expects the next gates command to say what was interrupted, close the record as crashed and put
the environment back to serving exactly one release.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gates.config import load
from gates.core.procs import wait_until
from tests.selftests.demo import DEMO, REPO, gates, write_config
from tests.selftests.test_ledger import WAIVE

START_TIMEOUT = 240.0  # a loaded machine: python start-up, the preflight child, a rollout
DB_ENV = "GATES_CRASH_DB"
pytestmark = pytest.mark.xdist_group("crash")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, pg_cluster: Any) -> Iterator[tuple[Path, Path]]:
    """A staging environment of two instances serving release 1 of the demo; (config, app folder)."""
    folder = tmp_path_factory.mktemp("crash")
    app = folder / "app"
    shutil.copytree(DEMO, app, ignore=shutil.ignore_patterns("__pycache__", "faults.json"))
    os.environ[DB_ENV] = pg_cluster.ensure_database("crash_staging")
    # A build that takes a moment, like any real one: the test must see the build step running to kill it there.
    app_table = {"build": "sleep 3", "start": "python -m uvicorn app:app --host $HOST --port $PORT"}
    # The browser molecules are waived (WAIVE): what a crash leaves is the subject, and their Chromium the slowest part.
    config = write_config(
        folder, source=app, app=app_table, environments={"staging": {"database_url_env": DB_ENV, "instances": 2}},
        extra=WAIVE,
    )  # fmt: skip
    first = gates("deploy", config=config, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    try:
        yield config, app
    finally:
        gates("down", config=config)
        os.environ.pop(DB_ENV, None)


def _intents(config: Path) -> list[dict[str, Any]]:
    found = []
    for path in (config.parent / "state" / "journal").glob("*.json"):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # being rewritten
    return found


def _kill_at(config: Path, argv: list[str], step: str, also: Callable[[], bool] = lambda: True) -> dict[str, Any]:
    """Start `gates <argv>`; once its journal says ``step`` runs (among the steps in progress: steps may run beside
    each other) and ``also`` holds, SIGKILL it; its intent."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gates.cli", "--config", str(config), *argv],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        intent = wait_until(
            f"gates {argv[0]} to reach {step}",
            lambda: next((i for i in _intents(config) if _in_progress(i, step) and i["pid"] == process.pid and also()), None),
            timeout=START_TIMEOUT,
        )
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        # As the dead process left it (a step beside may have ended between the poll and the kill).
        return next((dict(i) for i in _intents(config) if i["pid"] == process.pid), dict(intent))
    finally:
        if process.poll() is None:
            process.kill()


def _in_progress(intent: dict[str, Any], step: str) -> bool:
    return any(name == step for name, _ in intent.get("running") or [(intent["step"], intent["env"])])


def _where(intent: dict[str, Any]) -> str:
    """What the next command says the killed release died at: each step in progress, in the order they began."""
    return ", ".join(f"{name} {env}" for name, env in intent["running"])


def _serving(config: Path) -> list[int]:
    status = gates("status", "--json", config=config)
    (row,) = json.loads(status.stdout)
    return list(row["serving"])


def _new_instance_up(config: Path) -> Callable[[], bool]:
    """A rollout is half done: an instance of a newer release than every old one runs beside them."""
    path = config.parent / "state" / "staging" / "instances.json"

    def half() -> bool:
        try:
            releases = {p["release"] for p in json.loads(path.read_text())}
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return len(releases) > 1

    return half


def _change(app: Path, n: int) -> None:
    """A new release's content (the snapshot differs, so the deploy rolls out a new release)."""
    (app / "release-note.txt").write_text(f"change {n}\n")


def _slow_migration(app: Path) -> None:
    """A pending migration that takes a moment, like any real one: with nothing pending the migrate step is over
    in milliseconds, before a poll could see it running."""
    folder = app / "supabase" / "migrations"
    (folder / "20991231000000_slow_backfill.sql").write_text("select pg_sleep(3);\n")


@pytest.mark.parametrize("step", ["preflight", "build", "migrate", "deploy", "gate"])
def test_a_deploy_killed_at_a_step_is_repaired_by_the_next_command(site: tuple[Path, Path], step: str) -> None:
    """SIGKILL at each step: `gates status` names the step, the record ends 'interrupted (crashed at ...)' in
    record.json, summary.md and index.html, with an end time; the ledger (`gates history`) lists it as interrupted;
    and staging serves exactly one release again, whatever the crash left running."""
    config, app = site
    _change(app, hash(step))
    if step == "migrate":
        _slow_migration(app)
    also = _new_instance_up(config) if step == "deploy" else (lambda: True)
    intent = _kill_at(config, ["deploy"], step, also)
    if step == "deploy":  # the point of the test: two releases were serving when it died
        assert len({p["release"] for p in json.loads((config.parent / "state" / "staging" / "instances.json").read_text())}) > 1
    status = gates("status", config=config)
    assert status.returncode == 0, status.stderr
    assert f"{step} staging" in _where(intent)  # the preflight may still run beside the build
    assert f"gates deploy (pid {intent['pid']}) died at {_where(intent)}" in status.stderr
    assert "WARNING" not in status.stdout
    folder = Path(intent["record"])
    record = json.loads((folder / "record.json").read_text())
    assert record["outcome"] == "interrupted" and record["reason"] == f"interrupted (crashed at {_where(intent)})"
    assert "running" not in {s["outcome"] for s in record["steps"]} and record["ended_at"]
    # Closed everywhere it is shown: the summary and the page say interrupted and when it ended, never running.
    summary, page = (folder / "summary.md").read_text(), (folder / "index.html").read_text()
    assert summary.startswith(f"# Release {folder.name}: interrupted") and f"- ended: {record['ended_at']}" in summary
    assert "Release " + folder.name + ": interrupted" in page and record["ended_at"] in page
    assert "(running)" not in summary + page and "still running" not in summary + page
    # The ledger and `gates history` list it as interrupted, with the steps it ran.
    history = json.loads(gates("history", "--env", "staging", "--json", config=config).stdout)
    (entry,) = [e for e in history if e["record"] == folder.name]
    assert entry["outcome"] == "interrupted" and entry["reason"] == record["reason"] and entry["ended_at"]
    assert (step, "interrupted") in [(s["name"], s["outcome"]) for s in entry["steps"]]
    assert any(folder.name in line and "  interrupted  " in line for line in gates("history", "--env", "staging", config=config).stdout.splitlines())
    assert len(_serving(config)) == 1
    releases = json.loads((config.parent / "state" / "staging" / "releases.json").read_text())
    assert "running" not in {r["status"] for r in releases}
    assert not _intents(config)  # repaired once: a second command finds nothing left to do
    assert "recovered" not in gates("status", config=config).stderr


def test_after_a_crash_mid_rollout_the_next_deploy_passes(site: tuple[Path, Path]) -> None:
    """A deploy killed mid-rollout is repaired by the next `gates deploy` itself, which then releases normally."""
    config, app = site
    _change(app, 101)
    _kill_at(config, ["deploy"], "deploy", _new_instance_up(config))
    _change(app, 102)
    again = gates("deploy", config=config, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "recovered: gates deploy" in again.stderr
    assert len(_serving(config)) == 1


def test_a_rollback_killed_mid_rollout_is_repaired(site: tuple[Path, Path]) -> None:
    """SIGKILL during `gates rollback`'s rollout: the next command finishes nothing half-way, one release serves."""
    config, _ = site
    intent = _kill_at(config, ["rollback", "--env", "staging", "--to", "1"], "rollback", _new_instance_up(config))
    status = gates("status", config=config)
    assert f"gates rollback (pid {intent['pid']}) died at rollback staging" in status.stderr
    assert len(_serving(config)) == 1
    assert load(config).environment("staging").instances == 2


def test_a_rollback_to_a_release_whose_snapshot_is_gone_changes_nothing(site: tuple[Path, Path]) -> None:
    """The target's snapshot is checked before anything is recorded or started: one line, exit 1, nothing changed."""
    config, _ = site
    state = config.parent / "state"
    releases_file = state / "staging" / "releases.json"
    first = json.loads(releases_file.read_text())[0]
    for folder in (state / "builds" / first["ref"], state / "staging" / "snapshots" / first["ref"]):
        shutil.rmtree(folder, ignore_errors=True)
    before = releases_file.read_text(), _serving(config)
    result = gates("rollback", "--env", "staging", "--to", str(first["version"]), config=config)
    (said,) = [line for line in result.stderr.splitlines() if line.startswith("gates: failed:")]
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "its snapshot" in said and "is gone" in said and "nothing was changed" in said
    assert (releases_file.read_text(), _serving(config)) == before


def test_a_deploy_killed_mid_production_rollout_leaves_production_serving_one_release(
    pg_cluster: Any, tmp_path: Path
) -> None:
    """The fault that was seen: SIGKILL while production rolls out (old and new both in rotation); `gates status`
    says so, closes the record and production serves exactly one release again."""
    from gates.bench.sandbox import NOTIFY, demo_webhook

    app = tmp_path / "app"
    shutil.copytree(DEMO, app, ignore=shutil.ignore_patterns("__pycache__", "faults.json"))
    names = {env: f"GATES_CRASH2_{env.upper()}" for env in ("staging", "production")}
    for env, name in names.items():
        os.environ[name] = pg_cluster.ensure_database(f"crash2_{env}")
    environments = {env: {"database_url_env": names[env], "instances": 2} for env in names}
    config = write_config(tmp_path, source=app, environments=environments, extra=NOTIFY + WAIVE)
    hook = demo_webhook(config)
    os.environ.update(hook)
    try:
        first = gates("deploy", "--first-release", "--approve", config=config, timeout=900)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        _change(app, 1)
        production = config.parent / "state" / "production" / "instances.json"

        def half() -> bool:
            try:
                return len({p["release"] for p in json.loads(production.read_text())}) > 1
            except (OSError, ValueError, KeyError, TypeError):
                return False

        process = subprocess.Popen(
            [sys.executable, "-m", "gates.cli", "--config", str(config), "deploy", "--approve"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_until(
                "the production rollout to be half done",
                lambda: any(i["step"] == "deploy" and i["env"] == "production" for i in _intents(config)) and half(),
                timeout=START_TIMEOUT * 2,
            )
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        status = gates("status", "--json", config=config)
        assert f"gates deploy (pid {process.pid}) died at deploy production" in status.stderr, status.stderr
        rows = {row["env"]: row for row in json.loads(status.stdout)}
        assert len(rows["production"]["serving"]) == 1 and len(rows["production"]["instances"]) == 2
    finally:
        gates("down", config=config)
        for name in [*names.values(), *hook]:
            os.environ.pop(name, None)
