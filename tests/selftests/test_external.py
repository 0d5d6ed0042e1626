"""An environment deployed by something else (`platform = "external"`): gated as it is, never deployed.

The demo app runs here by hand (uvicorn on a free port, its own database), the way another tool
would have deployed it; gates only knows its URL and database.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gates.gaterun.runner import run_gate
from gates.target import open_config
from tests.selftests.demo import DEMO, failures, gates, junit_results, running_demo, skips

DB_ENV = "GATES_EXTERNAL_DB"
HEALTH = "test_every_health_path_answers_200"
INSTANCE_LEVEL = ("test_environment_serves_the_release_just_deployed", "test_every_machine_answers_every_health_path")


def external_config(folder: Path, url: str, env: str = "staging", extra: str = "") -> Path:
    """A gates.toml naming the app at ``url`` as environment ``env``, deployed by something else."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gates.toml").write_text(
        f'[app]\nname = "external-demo"\nsource = {json.dumps(str(DEMO))}\n'
        'health_paths = ["/health", "/api/ads/health", "/api/analytics/health"]\nhealth_timeout = 2.0\n\n'
        f'[environments.{env}]\nplatform = "external"\nurl = "{url}"\ndatabase_url_env = "{DB_ENV}"\n{extra}'
    )
    return folder / "gates.toml"


def health_gate(folder: Path, url: str, marker: str = "staging and health", env: str = "staging", extra: str = "") -> dict[str, Any]:
    """`pytest -m <marker>` on the external environment, as gates runs it; name -> outcome, and the JUnit XML."""
    cfg = open_config(external_config(folder, url, env, extra))
    out = folder / "out"
    (out / "logs").mkdir(parents=True, exist_ok=True)
    run_gate(cfg, cfg.environment(env), marker, out, "gate")
    xml = (out / "gate.xml").read_text()
    return {"results": junit_results(out / "gate.xml"), "xml": xml}


def outcomes(xml: str, kind: str) -> dict[str, str]:
    """Molecule name -> message of its ``kind`` element (skipped, failure, error) in a JUnit XML text."""
    import xml.etree.ElementTree as ET

    found = {}
    for case in ET.fromstring(xml).iter("testcase"):
        node = case.find(kind)
        if node is not None:
            found[case.get("name", "?")] = (node.get("message") or "") + (node.text or "")
    return found


def migrate(database: str) -> None:
    """The demo's migrations applied to ``database``, as the tool that deploys it would."""
    subprocess.run(
        [sys.executable, "-c", "import psycopg,sys,pathlib;c=psycopg.connect(sys.argv[1],autocommit=True);"
         "[c.execute(p.read_text().encode()) for p in sorted(pathlib.Path(sys.argv[2]).glob('*.sql'))]",
         database, str(DEMO / "supabase" / "migrations")],
        check=True, timeout=60,
    )  # fmt: skip


def test_an_external_environment_is_gated_and_instance_molecules_skip_saying_why(pg_database, tmp_path, monkeypatch):
    """The URL-level health molecule passes; the molecules that need the platform's instances skip with the reason;
    once the app is stopped, the health molecule fails."""
    with running_demo(pg_database, tmp_path / "app.log") as url:
        migrate(pg_database)
        monkeypatch.setenv(DB_ENV, pg_database)
        up = health_gate(tmp_path / "up", url)
    assert up["results"][HEALTH] == "passed", up["results"]
    skipped = skips(up["results"])
    for name in INSTANCE_LEVEL:  # each skipped itself, saying why (not passed, not failed)
        assert "deployed by something else (platform external)" in skipped[name], up["results"]
    down = health_gate(tmp_path / "down", url)
    assert url in failures(down["results"]).get(HEALTH, ""), down["results"]  # failed, not skipped


FLAGS = "test_every_flag_is_false_in_production"
PROBE = "test_no_request_failed_during_the_rollout"


def test_every_production_molecule_on_an_external_environment_judges_or_skips_saying_why(
    pg_database, tmp_path, monkeypatch
):
    """The whole production gate on an external environment: no molecule ends in a traceback or a set-up error,
    each passes, fails with its verdict or skips saying why; the flags molecule reads the app's endpoint (a prefix finds its flags in the document: one turned on fails,
    named), and the rollout probe skips saying gates rolled nothing out."""
    monkeypatch.setenv(DB_ENV, pg_database)
    monkeypatch.setenv("FEATURE_NEW_CHECKOUT", "on")  # the app's environment: a flag only its document names
    flags = '\n[flags]\nnames = ["ANALYTICS_REAL_DATA"]\nprefix = "FEATURE_"\nsource = "endpoint"\n'
    with running_demo(pg_database, tmp_path / "app.log") as url:
        migrate(pg_database)
        gate = health_gate(tmp_path / "prod", url, "production", "production", flags)

    assert outcomes(gate["xml"], "error") == {}, "a molecule errored in its set-up"
    failed = outcomes(gate["xml"], "failure")
    # The database was migrated by hand (no Supabase history): its molecules may fail, but each with its verdict.
    assert [n for n, m in failed.items() if not m.startswith("Failed: ")] == [], failed
    assert "FEATURE_NEW_CHECKOUT: is not false in production" in failed[FLAGS]
    assert "1 of 2 false" in failed[FLAGS] and f"GET {url}/api/flags" in failed[FLAGS]
    skipped = outcomes(gate["xml"], "skipped")
    assert "production is deployed by something else (platform external): gates rolled nothing out" in skipped[PROBE]
    assert gate["results"][HEALTH] == "passed"


@pytest.mark.parametrize("source", ["platform", "digest"])
def test_config_check_refuses_a_flag_source_an_external_environment_cannot_give(tmp_path, source):
    """`gates config check` exits 2 naming flags.source when the flags would be read from secrets an external
    environment does not give (the default source, platform, or digest); the endpoint source is accepted."""
    flags = f'\n[flags]\nnames = ["ANALYTICS_REAL_DATA"]\nsource = "{source}"\ncalibration = "FLAG_OFF"\n'
    config = external_config(tmp_path / source, "https://app.example", "production", flags)

    refused = gates("config", "check", config=config, env={DB_ENV: "postgresql://u@127.0.0.1:9/x"})

    assert refused.returncode == 2, refused.stdout + refused.stderr
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(f"gates: error: {config}: flags.source: '{source}' reads "), line
    assert "environments.production is deployed by something else (platform external)" in line
    assert 'use source = "endpoint"' in line
    config.write_text(config.read_text().replace(f'source = "{source}"', 'source = "endpoint"'))
    accepted = gates("config", "check", config=config, env={DB_ENV: "postgresql://u@127.0.0.1:9/x"})
    assert "flags.source" not in accepted.stdout + accepted.stderr
