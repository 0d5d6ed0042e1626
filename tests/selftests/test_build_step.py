"""The build step: a release that does not build fails there, naming the command, before any database changes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import psycopg

from tests.selftests.demo import DEMO, gates, write_config


def test_a_release_whose_build_fails_stops_before_any_migration(pg_cluster: Any, tmp_path: Path) -> None:
    """`npm ci` without a lockfile (as a commit missing it would be): the build step fails naming the command and
    npm's error; no migrate step runs, and neither environment's database holds a migration."""
    app = tmp_path / "app"
    shutil.copytree(DEMO, app, ignore=shutil.ignore_patterns("__pycache__", "faults.json"))
    (app / "package.json").write_text(json.dumps({"name": "no-lockfile", "version": "1.0.0", "private": True}))
    urls = {env: pg_cluster.ensure_database(f"build_{env}") for env in ("staging", "production")}
    names = {env: f"GATES_BUILD_{env.upper()}" for env in urls}
    environments = {env: {"database_url_env": names[env], "instances": 1} for env in urls}
    config = write_config(tmp_path, source=app, environments=environments, app={"build": "npm ci", "start": "sh -c 'exit 1'"})
    extra = {names[env]: urls[env] for env in urls}
    result = gates("deploy", "--first-release", "--approve", config=config, env=extra, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    record = json.loads(next((tmp_path / "deploys").glob("*/record.json")).read_text())
    steps = {(s["name"], s["env"]): s for s in record["steps"]}
    build = steps[("build", "staging")]
    assert build["outcome"] == "failed" and "npm ci" in build["detail"] and "lockfile" in build["detail"].lower(), build
    assert all(s["outcome"] == "skipped" for (name, _), s in steps.items() if name in ("migrate", "deploy"))
    for url in urls.values():
        with psycopg.connect(url, autocommit=True) as conn:
            (found,) = conn.execute("select to_regclass('supabase_migrations.schema_migrations')").fetchone()
        assert found is None, "a migration ran although the build failed"
    assert os.environ.get(names["staging"]) is None  # the variables were the child's only
