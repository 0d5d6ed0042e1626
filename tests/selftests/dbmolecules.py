"""Run the database molecules by name, as a gate does, against a database of the test's choosing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from gates import config as config_mod
from gates.database.cluster import LocalCluster
from gates.gaterun.runner import gate_command
from tests.selftests.demo import junit_results, write_config

DB_ENV = "GATES_SELFTEST_MOLECULE_DB"


def app_with_migrations(folder: Path, files: dict[str, str] | None = None) -> Path:
    """An app folder with ``supabase/migrations`` holding ``files`` (name -> SQL); its path."""
    migrations = folder / "supabase" / "migrations"
    migrations.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {}).items():
        (migrations / name).write_text(text)
    return folder


def run_molecule(
    tmp_path: Path,
    db_url: str,
    name: str,
    *,
    env: str = "staging",
    marker: str | None = None,
    source: Path | None = None,
    app: dict[str, Any] | None = None,
    database: dict[str, Any] | None = None,
    cluster: LocalCluster | None = None,
) -> str:
    """'passed' or the failure message of molecule ``name`` of gate ``marker`` (default: ``env``) against ``db_url``;
    ``cluster`` becomes the config's local cluster (the rehearsal's scratch server) instead of a new one."""
    results, output = run_molecules(
        tmp_path, db_url, name, env=env, marker=marker, source=source, app=app, database=database, cluster=cluster
    )
    assert name in results, output
    return results[name]


def run_molecules(
    tmp_path: Path,
    db_url: str,
    keyword: str,
    *,
    env: str = "staging",
    marker: str | None = None,
    source: Path | None = None,
    app: dict[str, Any] | None = None,
    database: dict[str, Any] | None = None,
    cluster: LocalCluster | None = None,
) -> tuple[dict[str, str], str]:
    """Each molecule ``-k keyword`` selects -> 'passed' or its failure message, and the tail of the run's output."""
    out = tmp_path / f"run-{len(list(tmp_path.glob('run-*')))}"
    out.mkdir(parents=True)
    source = source or app_with_migrations(tmp_path / "app")
    port = cluster.port if cluster else None
    environments = {env: {"database_url_env": DB_ENV}}
    path = write_config(out, source=source, app=app, environments=environments, database=database, postgres_port=port)
    child_env = {**os.environ, DB_ENV: db_url}
    if cluster:
        child_env["GATES_STATE_DIR"] = str(cluster.state_dir)
    cfg = config_mod.load(path)
    args = [*gate_command(cfg, cfg.environment(env), marker or env, out, "gate", None, 0), "-k", keyword]
    result = subprocess.run(args, cwd=cfg.root, env=child_env, capture_output=True, text=True, timeout=300)
    results = junit_results(out / "gate.xml") if (out / "gate.xml").exists() else {}
    return results, result.stdout[-3000:] + result.stderr[-3000:]
