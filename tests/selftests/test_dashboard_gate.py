"""The browser gate against the real React Router 7 app: hydration, client fetches and client errors.

The app is built once (tests/selftests/dashboard.py) and served by Node; the environment is an
`external` one at its URL (no Admin: the dashboard is visited directly, ready once React has
hydrated). Each fault is the built app beside a faults.json, and the molecule named must fail
with a message naming the cause, the others pass.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gates.gaterun.runner import run_gate
from gates.target import open_config
from tests.selftests.dashboard import SOURCE, migrated, release_with, serve
from tests.selftests.demo import failures, junit_results

pytestmark = [
    pytest.mark.skipif(not (shutil.which("node") and shutil.which("npm")), reason="needs node and npm"),
    pytest.mark.xdist_group("dashboard-app"),
]
LOADS = "test_dashboard_loads_inside_the_admin_frame"
TILES = "test_every_tile_shows_data"
CONSOLE = "test_no_console_errors_in_any_frame"
DB_ENV = "GATES_DASHBOARD_DB"


def browser_gate(
    folder: Path, url: str, database: str, monkeypatch: pytest.MonkeyPatch, browser: str = ""
) -> dict[str, str]:
    """`pytest -m "staging and browser"` against the app at ``url``, as gates runs it (``browser``: more keys of
    its [browser] table); JUnit name -> outcome."""
    monkeypatch.setenv(DB_ENV, database)
    (folder / "out" / "logs").mkdir(parents=True)
    (folder / "gates.toml").write_text(
        f'[app]\nname = "dashboard"\nsource = {json.dumps(str(SOURCE))}\n'
        'health_paths = ["/health", "/api/ads/health", "/api/analytics/health"]\n\n'
        f'[environments.staging]\nplatform = "external"\nurl = {json.dumps(url)}\ndatabase_url_env = "{DB_ENV}"\n\n'
        '[browser]\ntiles = ["revenue", "orders", "conversion", "campaigns"]\n'
        "ready_selector = 'html[data-hydrated=\"true\"]'\n" + browser
    )
    cfg = open_config(folder / "gates.toml")
    run_gate(cfg, cfg.environment("staging"), "staging and browser", folder / "out", "gate")
    # The browser molecules run once per browser (pytest-playwright's parameter): one here, chromium.
    return {name.split("[")[0]: said for name, said in junit_results(folder / "out" / "gate.xml").items()}


def test_the_healthy_react_router_app_passes_the_browser_gate(built_app, pg_database, tmp_path, monkeypatch):
    """Hydrated, every tile filled (one by a client fetch), no console error for the settle window: all pass."""
    database = migrated(pg_database)
    with serve(built_app, tmp_path / "server.log", {"DATABASE_URL": database}) as server:
        results = browser_gate(tmp_path, server.url, database, monkeypatch)
    assert {LOADS: "passed", TILES: "passed", CONSOLE: "passed"}.items() <= results.items(), results


@pytest.mark.parametrize(
    ("faults", "failing", "words"),
    [
        ({"client_console_error": "tile refresh failed after hydration", "client_console_error_delay_ms": 1000},
         CONSOLE, ["tile refresh failed after hydration"]),
        ({"failing_fetch_tile": "campaigns"}, TILES, ["campaigns"]),
        ({"hydration_mismatch": True}, CONSOLE, ["418"]),
    ],
)  # fmt: skip
def test_a_client_side_fault_fails_the_molecule_that_names_it(
    built_app, pg_database, tmp_path, monkeypatch, faults: dict[str, Any], failing: str, words: list[str]
):
    """A console error thrown late by a client component, a tile whose fetch fails, a hydration mismatch."""
    database = migrated(pg_database)
    app = release_with(built_app, tmp_path, faults)
    with serve(app, tmp_path / "server.log", {"DATABASE_URL": database}) as server:
        results = browser_gate(tmp_path, server.url, database, monkeypatch)
    failed = failures(results)  # a skip is no failure
    assert failing in failed, results
    assert all(word in failed[failing] for word in words), failed[failing]
    assert results[LOADS] == "passed", results[LOADS]


def test_a_tile_the_browser_fills_seconds_after_hydration_is_read_once_filled(
    built_app, pg_database, tmp_path, monkeypatch
):
    """The campaigns tile's fetch answers 3 s after hydration (as on a loaded machine): the tiles molecule waits for
    it, within the load bound, as a person looks until the number appears, and passes."""
    database = migrated(pg_database)
    app = release_with(built_app, tmp_path, {"delay_ms": {"/api/tiles/campaigns": 3000}})
    with serve(app, tmp_path / "server.log", {"DATABASE_URL": database}) as server:
        results = browser_gate(tmp_path, server.url, database, monkeypatch)
    assert {LOADS: "passed", TILES: "passed", CONSOLE: "passed"}.items() <= results.items(), results


def test_a_tile_that_never_fills_fails_naming_it_once_the_load_bound_ends(built_app, pg_database, tmp_path, monkeypatch):
    """A tile whose fetch never answers within the load bound fails the tiles molecule, naming the tile as last seen
    (empty); the dashboard itself loaded."""
    database = migrated(pg_database)
    app = release_with(built_app, tmp_path, {"delay_ms": {"/api/tiles/campaigns": 120_000}})
    with serve(app, tmp_path / "server.log", {"DATABASE_URL": database}) as server:
        results = browser_gate(tmp_path, server.url, database, monkeypatch, "load_timeout = 6\n")
    assert results[LOADS] == "passed", results[LOADS]
    assert "tile 'campaigns' is empty" in failures(results).get(TILES, ""), results[TILES]


def test_a_dashboard_path_that_answers_404_fails_the_load_naming_url_and_status(
    built_app, pg_database, tmp_path, monkeypatch
):
    """The app's own 404 page renders and hydrates (its ready selector holds), yet it is not the dashboard: the
    load molecule fails naming the URL and the status."""
    database = migrated(pg_database)
    with serve(built_app, tmp_path / "server.log", {"DATABASE_URL": database}) as server:
        results = browser_gate(tmp_path, server.url, database, monkeypatch, 'dashboard_path = "/no-such-page"\n')
    assert f"{server.url}/no-such-page answered HTTP 404" in failures(results).get(LOADS, ""), results[LOADS]


def test_gates_deploy_releases_the_react_router_app_end_to_end(pg_cluster, tmp_path, monkeypatch):
    """The React Router app released as `make demo` does it (built by npm once, started by `npm start`, behind
    HAProxy), with `[app] env = { NODE_ENV = "production" }` as on Fly (the build still gets the dev dependencies
    it runs): preflight, build, migrate, deploy and the staging gate pass; the gate saw it hydrate."""
    from tests.selftests.demo import gates, write_config

    monkeypatch.setenv(DB_ENV, pg_cluster.ensure_database("dashboard_e2e"))
    app = {"build": "npm ci --prefer-offline --no-audit --no-fund && npm run build", "start": "npm start"}
    config = write_config(
        tmp_path, source=SOURCE, app=app, environments={"staging": {"database_url_env": DB_ENV, "instances": 1}},
        browser={"ready_selector": 'html[data-hydrated="true"]'},
    )  # fmt: skip
    config.write_text(config.read_text().replace("[app]\n", '[app]\nenv = { NODE_ENV = "production" }\n', 1))
    try:
        result = gates("deploy", config=config, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        record = json.loads(next((tmp_path / "deploys").glob("*/record.json")).read_text())
        steps = {s["name"]: s for s in record["steps"]}
        assert "built " in steps["build"]["detail"], steps["build"]
        assert steps["gate"]["outcome"] == "passed"
    finally:
        gates("down", config=config)
