"""Steps that run beside each other keep the release's order of decisions: real `gates deploy` processes.

Production's backup runs beside staging's gate, the preflight beside the build. When one of them fails, its
failure is the release's verdict, named, and nothing that waits on it starts: nothing is signed, migrated or
deployed to production after a failed backup, nothing migrated or deployed anywhere after a failed preflight.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gates.config import load
from gates.core.procs import run, wait_until
from gates.database.migrations import push
from gates.evidence.record import Record
from gates.platforms import platform_for
from gates.release import Context
from gates.target import open_config
from tests.fast.test_release_schedule import assert_both_interrupted, interrupted_beside_each_other
from tests.selftests.demo import demo_copy, gates, write_config
from tests.selftests.releaseprocs import processes_naming, start_deploy, stop

pytestmark = pytest.mark.xdist_group("release")

HISTORY = "select to_regclass('supabase_migrations.schema_migrations')"


@pytest.fixture
def databases(pg_cluster: Any, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Fresh databases of the shared cluster for staging and production, in GATES_OVERLAP_<ENV>."""
    name = request.node.name.removeprefix("test_")[:20]
    urls = {env: pg_cluster.ensure_database(f"ovl_{name}_{env}") for env in ("staging", "production")}
    env_vars = {f"GATES_OVERLAP_{env.upper()}": url for env, url in urls.items()}
    saved = {k: os.environ.get(k) for k in env_vars}
    os.environ.update(env_vars)
    try:
        yield urls
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _config(folder: Path, source: Path | None = None) -> Path:
    environments = {env: {"database_url_env": f"GATES_OVERLAP_{env.upper()}", "instances": 1} for env in ("staging", "production")}
    return write_config(folder, environments=environments, **({"source": source} if source else {}))


def _record(config: Path) -> dict[str, Any]:
    """The only release's record so far (empty before it exists)."""
    found = list((config.parent / "deploys").glob("*/record.json"))
    return dict(json.loads(found[0].read_text())) if found else {"steps": []}


def _steps(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{s['name']} {s['env']}": s for s in record["steps"]}


def _span(step: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    return dt.datetime.fromisoformat(step["started_at"]), dt.datetime.fromisoformat(step["ended_at"])


def _history(url: str) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(HISTORY).fetchone()
    return row[0] if row else None


def test_a_backup_failing_beside_the_staging_gate_fails_the_release_and_production_is_untouched(databases, tmp_path):
    """A table of production's database locked by another session once the preflight passed (the preflight reads
    production's schema too): the backup fails naming the lock while staging's gate runs beside it; the release
    fails naming the backup; the sign-off, production's migrate, deploy and gate never start; production's
    database has no migration history and production no release."""
    config = _config(tmp_path / "site")
    with psycopg.connect(databases["production"]) as holder:
        holder.execute("create schema ops; create table ops.held (id int)")  # not an exposed schema
        holder.commit()
        deploy = start_deploy(config, tmp_path / "out", "--approve")
        try:
            # Staging's migrate starts once the preflight passed; the backup only once staging is deployed.
            began = lambda: deploy.poll() is not None or "migrate staging" in _steps(_record(config))  # noqa: E731
            wait_until("staging's migrate to start", began, timeout=600)
            holder.execute("lock table ops.held in access exclusive mode")  # held until the release ends
            deploy.wait(timeout=900)
        finally:
            stop(deploy)
            holder.rollback()
    said = "".join((tmp_path / "out" / name).read_text() for name in ("stdout", "stderr"))
    try:
        assert deploy.returncode == 1, said
        record = _record(config)
        steps = _steps(record)
        explain = "\n".join(f"{t} {s['outcome']}: {s['detail']}" for t, s in steps.items())
        assert record["outcome"] == "failed" and record["reason"].startswith("backup production failed: "), explain
        assert "held" in steps["backup production"]["detail"], explain  # what it waited on, named
        assert steps["gate staging"]["outcome"] == "passed", explain  # it ran to its verdict beside the backup
        backup, gate = _span(steps["backup production"]), _span(steps["gate staging"])
        assert backup[0] < gate[1] and gate[0] < backup[1], explain
        for title in ("signoff production", "migrate production", "deploy production", "gate production"):
            assert steps[title]["outcome"] == "skipped", explain
            assert steps[title]["detail"] == "not run: backup production failed", explain
        assert _history(databases["production"]) is None  # nothing migrated
        cfg = load(config)
        production = cfg.environment("production")
        assert platform_for(cfg, production).releases(production) == []  # nothing deployed
    finally:
        gates("down", config=config)


def test_a_preflight_failing_beside_the_build_fails_the_release_and_nothing_is_migrated_or_deployed(databases, tmp_path):
    """An unsafe migration pending for production fails the preflight while the build runs beside it: the release
    fails naming the preflight, and no step after the build starts (staging's database has no migration
    history, staging and production no release)."""
    source = demo_copy(tmp_path / "app")
    push(databases["production"], source, None)  # production has the demo's tables: an index on one locks it
    (source / "supabase" / "migrations" / "20990101000000_index.sql").write_text(
        "set lock_timeout = '5s';\nset statement_timeout = '30s';\n"
        "create index ad_campaigns_status on public.ad_campaigns (status);\n"
    )
    config = _config(tmp_path / "site", source)
    try:
        result = gates("deploy", "--first-release", "--approve", config=config, timeout=900)
        assert result.returncode == 1, result.stdout + result.stderr
        record = _record(config)
        steps = _steps(record)
        explain = "\n".join(f"{t} {s['outcome']}: {s['detail']}" for t, s in steps.items())
        assert record["reason"].startswith("preflight production failed: "), explain
        assert "test_pending_migrations_are_safe_for_zero_downtime" in record["reason"], explain
        assert steps["build staging"]["outcome"] == "passed", explain  # it ran beside, to its own verdict
        later = [t for t in steps if t not in ("preflight production", "build staging")]
        assert later and all(steps[t]["outcome"] == "skipped" for t in later), explain
        assert _history(databases["staging"]) is None  # nothing migrated
        cfg = load(config)
        for env in cfg.environments.values():
            assert platform_for(cfg, env).releases(env) == [], env.name  # nothing deployed
    finally:
        gates("down", config=config)


def test_an_interrupt_stops_the_commands_of_every_step_running_beside_another(tmp_path):
    """Ctrl-C while two steps beside each other each run a command: both commands (and their process groups) stop,
    both steps are recorded interrupted, the record says 'interrupted at' both, and no command is left running."""
    ctx = Context(config=open_config(_config(tmp_path / "site")), record=Record(tmp_path / "deploys", commit="0" * 40))
    marker = f"gates-overlap-{tmp_path.name}"

    def command() -> None:
        run([sys.executable, "-c", "import time, sys; time.sleep(120)", marker], timeout=600)

    log = interrupted_beside_each_other(ctx, command)
    assert_both_interrupted(ctx, log)
    assert not processes_naming(Path(marker))
