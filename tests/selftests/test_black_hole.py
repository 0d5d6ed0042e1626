"""An app that accepts connections and never answers: every wait of the gate is bounded and every molecule ends
in a verdict saying what got no answer -- never a hang, never an ERROR with a traceback."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gates import config as config_mod
from gates.checks.browser import dashboard_loaded, no_console_errors
from gates.gaterun.runner import run_gate
from gates.gaterun.visit import visit_admin
from gates.platforms.admin import stand_in_page
from tests.selftests.blackhole import black_hole, serving
from tests.selftests.demo import write_config

__all__ = ["black_hole"]  # a fixture of this module

DB_ENV = "GATES_SELFTEST_BLACK_HOLE_DB"
HISTORY = "supabase_migrations.schema_migrations"


def _config(folder: Path, url: str, admin_url: str = "", **browser: Any) -> config_mod.Config:
    staging = {"url": url, "admin_url": admin_url, "database_url_env": DB_ENV}
    path = write_config(folder, environments={"staging": staging}, app={"health_timeout": 1.0},
                        browser={"load_timeout": 3.0, **browser},
                        database={"lock_timeout": 1.0, "statement_timeout": 5.0})  # fmt: skip
    return config_mod.load(path)


@pytest.fixture
def admin_page(tmp_path: Path, black_hole: str) -> Iterator[config_mod.Config]:
    """The config of an Admin stand-in page (served for real) whose app frame points at the black hole."""

    def page(base: str) -> bytes:
        cfg = _config(tmp_path / "admin", black_hole, base + "/")
        return stand_in_page(cfg, cfg.environment("staging")).encode()

    with serving(page) as admin:
        yield _config(tmp_path / "admin", black_hole, admin + "/")


def test_a_direct_visit_of_a_black_holed_app_is_a_failed_load_saying_no_answer(browser, black_hole, tmp_path):
    """Without an Admin, the dashboard that never answers fails the load molecule with "no answer within 3s";
    no screenshot is attempted of a page that never opened, and the console molecule fails too."""
    cfg = _config(tmp_path, black_hole)
    visit = visit_admin(browser, cfg, cfg.environment("staging"))
    assert not visit.loaded and visit.screenshot is None
    assert f"the page {black_hole}/app did not open: no answer within 3s" in dashboard_loaded(visit).explain()
    assert not no_console_errors(visit, []).ok


def test_an_embedded_black_holed_app_leaves_an_empty_frame_named_in_the_verdict(browser, admin_page):
    """The Admin page opens but its app frame never gets a document: the load molecule fails within its bound
    saying the dashboard gave no answer, with a screenshot of the Admin as it was."""
    cfg = admin_page
    visit = visit_admin(browser, cfg, cfg.environment("staging"))
    env = cfg.environment("staging")
    assert not visit.loaded and not visit.stalled and visit.screenshot
    assert (
        f'waited 3s for the load event in iframe[name="app-iframe"] ({env.url}/app gave no answer within 3s)'
        in dashboard_loaded(visit).explain()
    )


def _outcomes(xml: Path) -> dict[str, tuple[str, str]]:
    """Test name -> (passed | failed | error | skipped, message) from a JUnit XML file."""
    found: dict[str, tuple[str, str]] = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = case.get("name", "?").removesuffix("[chromium]")
        found[name] = ("passed", "")
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                found[name] = ({"failure": "failed"}.get(tag, tag), (node.get("message") or "") + (node.text or ""))
    return found


def test_a_whole_staging_gate_against_a_black_holed_app_and_a_locked_history_ends_in_verdicts(
    black_hole, pg_cluster, tmp_path, monkeypatch
):
    """`pytest -m staging` against an app that never answers, while another session holds ACCESS EXCLUSIVE on
    the migration history: every molecule ends in a verdict (no ERROR); the health molecules run first and the
    first says "no answer within 1s"; neither the browser's visit nor the other HTTP molecules wait again for what
    it found silent (one deadline per gate), and they say so; the migrations molecule names the locked table."""
    url = pg_cluster.ensure_database("black_hole")
    monkeypatch.setenv(DB_ENV, url)
    cfg = _config(tmp_path, black_hole, admin_origins=["https://admin.shopify.com"])  # embedded, visited directly
    with psycopg.connect(url, autocommit=True) as holder:
        holder.execute(f"create schema if not exists supabase_migrations; create table if not exists {HISTORY} (version text primary key, name text)")
        with holder.transaction():
            holder.execute(f"lock table {HISTORY} in access exclusive mode")
            gate = run_gate(cfg, cfg.environment("staging"), "staging", tmp_path / "out", "staging-gate")
    assert not gate.passed
    results = _outcomes(tmp_path / "out" / "staging-gate.xml")
    assert not [name for name, (outcome, _) in results.items() if outcome == "error"], results
    assert list(results)[:3] == [
        "test_every_health_path_answers_200",
        "test_environment_serves_the_release_just_deployed",
        "test_every_machine_answers_every_health_path",
    ]
    health = results["test_every_health_path_answers_200"]
    assert health[0] == "failed" and f"GET {black_hole}/health -> no answer within 1s" in health[1], health
    embedding = results["test_app_pages_allow_embedding_in_the_admin"][1]
    assert f"not tried: GET {black_hole}/health got no answer earlier in this gate" in embedding, embedding
    silent = f"not tried: GET {black_hole}/health (within 1s) got no answer earlier in this gate"
    loaded = results["test_dashboard_loads_inside_the_admin_frame"]
    assert loaded[0] == "failed" and silent in loaded[1], loaded
    assert silent in results["test_no_console_errors_in_any_frame"][1]
    applied = results["test_every_migration_is_applied"]
    assert applied[0] == "failed" and f"lock_timeout (1s) cancelled the statement: waited on {HISTORY}" in applied[1]


_HANGING = b"<!doctype html><p>ready</p><script>addEventListener('load', () => setTimeout(() => { for (;;) {} }, 50))</script>"


def test_a_page_that_hangs_after_load_fails_on_its_screenshot_not_with_an_error(
    browser_type, browser_type_launch_args, tmp_path
):
    """Ready at its load event, then the renderer spins: the bounded screenshot gets no answer, and the load
    molecule fails saying so (the visit, trace included, still ends)."""
    # A browser of its own, closed at the end: a spinning renderer dies with its browser, not with the context,
    # and the session's shared browser would keep it burning a core for every test after this one.
    own = browser_type.launch(**browser_type_launch_args)
    try:
        with serving(_HANGING) as hanging:
            # A load bound a loaded machine's Chromium meets: the test is about what comes after the load.
            cfg = _config(tmp_path, hanging, settle=0.5, load_timeout=10.0)
            visit = visit_admin(own, cfg, cfg.environment("staging"), trace=tmp_path / "trace.zip")
    finally:
        own.close()
    assert visit.loaded and visit.screenshot is None
    judged = dashboard_loaded(visit)
    assert not judged.ok and "the screenshot of the page: no answer within 5s" in judged.explain()


def test_the_shipped_team_molecule_against_a_black_holed_app_fails_in_one_line(black_hole, pg_database, tmp_path):
    """examples/molecules' molecule, run by `pytest -m staging` against an app that never answers: it fails (not
    an error) with one line naming the request and the bound, and no httpx traceback reaches the output."""
    import os
    import shutil
    import subprocess
    import sys

    from tests.selftests.demo import REPO, junit_results

    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("create table public.dashboard_tiles (name text primary key, value text)")
        conn.execute("insert into public.dashboard_tiles values ('revenue', '$48,210')")
    cfg = _config(tmp_path / "site", black_hole)
    team = tmp_path / "team"
    team.mkdir()
    shutil.copy(REPO / "examples" / "molecules" / "test_revenue_tile.py", team)
    junit = tmp_path / "team.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(team), "-m", "staging", "-k", "revenue", "-p", "no:cacheprovider",
         f"--gates-config={cfg.path}", f"--junitxml={junit}", "-q"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ, DB_ENV: pg_database},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    (said,) = junit_results(junit).values()
    line = f"GET {black_hole}/app: no answer within 1s (ReadTimeout)"
    assert said == f"Failed: {line}{line}", said  # the failure's message, then its text: that one line, no trace
    assert "Traceback" not in output and "httpx.ReadTimeout" not in output, output
