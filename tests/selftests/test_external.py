"""An environment deployed by something else (`platform = "external"`): gated as it is, never deployed.

The demo app runs here by hand (uvicorn on a free port, its own database), the way another tool
would have deployed it; gates only knows its URL and database.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from gates.gaterun import run_gate
from gates.procs import wait_until
from gates.target import open_config
from tests.selftests.demo import DEMO, free_port, junit_results

DB_ENV = "GATES_EXTERNAL_DB"
HEALTH = "test_every_health_path_answers_200"
INSTANCE_LEVEL = ("test_environment_serves_the_release_just_deployed", "test_every_machine_answers_every_health_path")


@contextlib.contextmanager
def running_demo(database: str, log: Path) -> Iterator[str]:
    """The demo app started by hand on a free port; its URL."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=DEMO, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "DATABASE_URL": database},
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until("the demo to answer", lambda: _answers(url), timeout=60)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def health_gate(folder: Path, url: str) -> dict[str, Any]:
    """`pytest -m "staging and health"` on the external environment, as gates runs it; name -> outcome."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gates.toml").write_text(
        f'[app]\nname = "external-demo"\nsource = {json.dumps(str(DEMO))}\n'
        'health_paths = ["/health", "/api/ads/health", "/api/analytics/health"]\nhealth_timeout = 2.0\n\n'
        f'[environments.staging]\nplatform = "external"\nurl = "{url}"\ndatabase_url_env = "{DB_ENV}"\n'
    )
    cfg = open_config(folder / "gates.toml")
    out = folder / "out"
    (out / "logs").mkdir(parents=True, exist_ok=True)
    run_gate(cfg, cfg.environment("staging"), "staging and health", out, "gate")
    xml = (out / "gate.xml").read_text()
    return {"results": junit_results(out / "gate.xml"), "xml": xml}


def test_an_external_environment_is_gated_and_instance_molecules_skip_saying_why(pg_database, tmp_path, monkeypatch):
    """The URL-level health molecule passes; the molecules that need the platform's instances skip with the reason;
    once the app is stopped, the health molecule fails."""
    with running_demo(pg_database, tmp_path / "app.log") as url:
        subprocess.run(
            [sys.executable, "-c", "import psycopg,sys,pathlib;c=psycopg.connect(sys.argv[1],autocommit=True);"
             "[c.execute(p.read_text().encode()) for p in sorted(pathlib.Path(sys.argv[2]).glob('*.sql'))]",
             pg_database, str(DEMO / "supabase" / "migrations")],
            check=True, timeout=60,
        )  # fmt: skip
        monkeypatch.setenv(DB_ENV, pg_database)
        up = health_gate(tmp_path / "up", url)
    assert up["results"][HEALTH] == "passed", up["results"]
    import xml.etree.ElementTree as ET

    skipped = {
        case.get("name"): (case.find("skipped").get("message") or "")  # type: ignore[union-attr]
        for case in ET.fromstring(up["xml"]).iter("testcase")
        if case.find("skipped") is not None
    }
    for name in INSTANCE_LEVEL:  # each skipped itself, saying why (not passed, not failed)
        assert "deployed by something else (platform external)" in skipped[name], skipped
    down = health_gate(tmp_path / "down", url)
    assert down["results"][HEALTH] != "passed" and url in down["results"][HEALTH]
