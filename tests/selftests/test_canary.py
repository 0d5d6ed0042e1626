"""Zero leaks from a failing release: canary secrets in its environment appear in no file it wrote (archives
opened) and in none of its output, while a common word used as a password leaves the words of paths alone."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gates.bench.sandbox import NOTIFY, NOTIFY_ENV, release_cli
from tests.selftests.demo import REPO, demo_copy, gates, write_config

pytestmark = pytest.mark.xdist_group("release")

DB_CANARY = "canary-pw-Fx62k"
HOOK_CANARY = "hook-canary-Qm4W9z"
DB_ENV = "GATES_SELFTEST_CANARY_DB"


def _contents(path: Path) -> list[tuple[str, bytes]]:
    """A file's bytes, or each member's of a zip (a Playwright trace is one): compressed bytes hide nothing."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return [(f"{path}!{name}", archive.read(name)) for name in archive.namelist()]
    return [(str(path), path.read_bytes())]


def test_a_failing_release_leaks_no_secret_of_its_environment(pg_cluster, tmp_path, monkeypatch):
    """A release whose staging gate fails (a console error: the trace is kept) with a canary database password
    and a canary webhook URL: neither is in any file of the record or the state's logs, nor in the output."""
    db = pg_cluster.ensure_database("canary_staging").replace("postgres@", f"postgres:{DB_CANARY}@", 1)
    monkeypatch.setenv(DB_ENV, db)
    monkeypatch.setenv(NOTIFY_ENV, f"http://127.0.0.1:9/services/{HOOK_CANARY}")  # nothing listens: undelivered
    app = demo_copy(tmp_path, {"extra_html": "<script>console.error('a canary release fault')</script>"})
    config = write_config(tmp_path / "site", environments={"staging": {"database_url_env": DB_ENV}, "production": {}},
                          source=app, extra=NOTIFY)  # fmt: skip
    try:
        result = subprocess.run(
            [sys.executable, *release_cli(), "--config", str(config), "deploy", "--first-release", "--approve"],
            cwd=REPO, capture_output=True, text=True, timeout=900, env=dict(os.environ),
        )  # fmt: skip
    finally:
        gates("down", config=config)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "gate staging" in output, output[-3000:]
    written = [p for p in (tmp_path / "site").rglob("*") if p.is_file()]
    assert any(p.name.endswith("-trace.zip") for p in written), "the failed browser gate kept its trace"
    for canary in (DB_CANARY, HOOK_CANARY):
        assert canary not in output
        for name, data in (c for p in written for c in _contents(p)):
            assert canary.encode() not in data, name


APP_CANARY = "app-secret-Zr83nQv"
PATH_CANARY = "hook-path-Tk27pLw"


def test_what_an_app_logs_reaches_the_record_masked(pg_cluster, tmp_path, monkeypatch):
    """An app that logs the secret it was given (a `gates secrets` value) and the path of a webhook URL carrying a
    token (its 404 line, the webhook pointed at the app itself): neither value is in any file of the release's
    record, its events or its output, although the app's own log holds both."""
    from gates.config import load
    from gates.platforms.local import LocalPlatform

    monkeypatch.setenv(DB_ENV, pg_cluster.ensure_database("canary_logs"))
    faults = {"extra_html": "<script>console.error('a canary release fault')</script>", "log_env": ["APP_SECRET"]}
    app = demo_copy(tmp_path, faults)
    start = {"start": "python -m uvicorn app:app --host $HOST --port $PORT --no-access-log"}
    config = write_config(tmp_path / "site", environments={"staging": {"database_url_env": DB_ENV, "instances": 1}},
                          source=app, app=start, extra=NOTIFY)  # fmt: skip
    cfg = load(config)
    staging = cfg.environment("staging")
    # The webhook is the staging app itself: the release's first notification reaches it, and it logs the 404.
    monkeypatch.setenv(NOTIFY_ENV, f"{staging.url}/services/{PATH_CANARY}")
    events = tmp_path / "events.jsonl"
    try:
        assert gates("secrets", "set", "--env", "staging", f"APP_SECRET={APP_CANARY}", config=config).returncode == 0
        LocalPlatform(cfg).deploy(staging, str(app))  # serving when the release starts and notifies
        result = subprocess.run(
            [sys.executable, *release_cli(), "--config", str(config), "deploy", "--first-release", "--events", str(events)],
            cwd=REPO, capture_output=True, text=True, timeout=900, env=dict(os.environ),
        )  # fmt: skip
    finally:
        gates("down", config=config)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "gate staging" in output, output[-3000:]
    logged = "".join(p.read_text(errors="replace") for p in (tmp_path / "site" / "state" / "staging" / "logs").glob("*.log"))
    assert APP_CANARY in logged and f"404 not found: POST /services/{PATH_CANARY}" in logged, "the app logged both"
    (record,) = (tmp_path / "site" / "deploys").iterdir()
    kept = (record / "logs" / "instances-staging.log").read_text()
    assert "starting with APP_SECRET set to ***" in kept and "404 not found: POST /services/***" in kept
    written = [p for p in record.rglob("*") if p.is_file()] + [events]
    for canary in (APP_CANARY, PATH_CANARY):
        assert canary not in output
        for name, data in (c for p in written for c in _contents(p)):
            assert canary.encode() not in data, name
