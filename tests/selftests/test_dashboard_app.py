"""The demo React Router 7 app (examples/dashboard), built with npm and served by Node for real.

Built once per session (``npm ci`` from the npm cache, then ``react-router build``) in a copy of
the folder; every test starts the server on a free port against a fresh, migrated Postgres
database, and the browser tests watch it hydrate in Chromium. A faulty release is the built app
beside a ``faults.json``, as the app's README says.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.selftests.dashboard import Server, migrated, release_with, serve
from tests.selftests.demo import free_port

pytestmark = [
    pytest.mark.skipif(not (shutil.which("node") and shutil.which("npm")), reason="needs node and npm"),
    # One worker builds the app once; the others would each build it again.
    pytest.mark.xdist_group("dashboard-app"),
]

HYDRATED = "document.documentElement.dataset.hydrated === 'true'"
SEEDED = {"revenue": "$48,210", "orders": "1,284", "conversion": "3.1%", "campaigns": "2"}
BROWSER_TIMEOUT_MS = 30_000


@pytest.fixture
def database(pg_database: str) -> str:
    return migrated(pg_database)


@pytest.fixture
def dashboard(built_app: Path, database: str, tmp_path: Path) -> Iterator[Server]:
    """The healthy app, release 7, on a migrated database, embeddable by one Admin origin."""
    env = {"DATABASE_URL": database, "APP_RELEASE": "7", "FRAME_ANCESTORS": "https://admin.shopify.com"}
    with serve(built_app, tmp_path / "server.log", env) as server:
        yield server


@pytest.fixture
def faulty(built_app: Path, database: str, tmp_path: Path) -> Iterator[Any]:
    """Start the app with the given faults: ``with faulty({...}) as server``."""

    @contextlib.contextmanager
    def start(faults: dict[str, Any]) -> Iterator[Server]:
        app = release_with(built_app, tmp_path, faults)
        with serve(app, tmp_path / "server.log", {"DATABASE_URL": database}) as server:
            yield server

    return start


@dataclass
class Seen:
    """What the browser saw of the dashboard: its tiles, and the page's console errors and failed responses."""

    tiles: dict[str, tuple[str, bool]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)


def visit(browser: Any, server: Server, *, until: Callable[[Seen], bool] = lambda seen: True) -> Seen:
    """Open /app, wait for hydration, for every tile to leave its loading state, and (bounded) for ``until``."""
    seen = Seen()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: seen.errors.append(f"{e.name}: {e.message}"))
        page.on("response", lambda r: seen.responses.append(f"{r.status} {r.url}"))
        page.goto(server.url + "/app", timeout=BROWSER_TIMEOUT_MS)
        page.wait_for_function(HYDRATED, timeout=BROWSER_TIMEOUT_MS)
        page.wait_for_function("!document.querySelector('.tile--loading')", timeout=BROWSER_TIMEOUT_MS)
        deadline = time.monotonic() + BROWSER_TIMEOUT_MS / 1000
        while not until(seen) and time.monotonic() < deadline:
            page.wait_for_timeout(100)  # Playwright's own pump: console events keep arriving while we poll
        for tile in page.locator("[data-tile]").all():
            name = tile.get_attribute("data-tile") or ""
            value = tile.locator(".tile__value").inner_text().strip()
            seen.tiles[name] = (value, "tile--error" in (tile.get_attribute("class") or ""))
    finally:
        context.close()
    return seen


def test_the_health_routes_answer_ok_with_the_release_and_the_embedding_csp(dashboard):
    """/health, /api/ads/health and /api/analytics/health (which reads the database) answer JSON ok, each
    stamped with X-Release and the CSP frame-ancestors naming the Admin."""
    for path in ("/health", "/api/ads/health", "/api/analytics/health"):
        response = httpx.get(dashboard.url + path, timeout=10)
        assert (response.status_code, response.json()["status"]) == (200, "ok"), path
        assert response.headers["x-release"] == "7"
        assert response.headers["content-security-policy"] == "frame-ancestors https://admin.shopify.com"
    assert httpx.get(dashboard.url + "/api/analytics/health", timeout=10).json()["tiles"] == 4


def test_analytics_health_is_a_503_error_when_the_database_is_unreachable(built_app, tmp_path):
    """Without a reachable database the analytics health says error (503) and never shows the URL."""
    env = {"DATABASE_URL": f"postgresql://app:secret@127.0.0.1:{free_port()}/none"}
    with serve(built_app, tmp_path / "server.log", env) as server:
        response = httpx.get(server.url + "/api/analytics/health", timeout=10)
    assert (response.status_code, response.json()) == (503, {"status": "error", "error": "database unreachable"})
    assert "secret" not in response.text


def test_flags_are_booleans_from_the_environment_and_alerts_accept_slack_json(built_app, database, tmp_path):
    """/api/flags reads ANALYTICS_REAL_DATA and every FEATURE_* as booleans (flags_on forces one on);
    POST /api/alerts takes {"text"}."""
    env = {"DATABASE_URL": database, "ANALYTICS_REAL_DATA": "yes", "FEATURE_NEW_TILES": "0"}
    app = release_with(built_app, tmp_path, {"flags_on": ["FEATURE_UNFINISHED"]})
    with serve(app, tmp_path / "server.log", env) as server:
        flags = httpx.get(server.url + "/api/flags", timeout=10).json()["flags"]
        posted = httpx.post(server.url + "/api/alerts", json={"text": "deploy started"}, timeout=10)
        refused = httpx.post(server.url + "/api/alerts", json={"txt": "typo"}, timeout=10)
    assert flags == {"ANALYTICS_REAL_DATA": True, "FEATURE_NEW_TILES": False, "FEATURE_UNFINISHED": True}
    assert (posted.status_code, refused.status_code) == (204, 400)
    assert "alert received: deploy started" in server.output()


def test_the_dashboard_hydrates_and_fills_its_tiles_from_the_loader_and_a_client_fetch(browser, dashboard):
    """In Chromium the page hydrates (the marker is set), the loader's tiles and the campaigns tile fetched
    after hydration show the seeded data, and nothing is logged as an error."""
    seen = visit(browser, dashboard)
    assert seen.tiles == {name: (value, False) for name, value in SEEDED.items()}
    assert any(r.startswith("200 ") and r.endswith("/api/tiles/campaigns") for r in seen.responses)
    assert seen.errors == []


def test_a_client_console_error_fault_is_logged_in_the_browser_after_hydration(browser, faulty):
    """client_console_error: a client component logs the message after hydration (late, with a delay)."""
    message = "TypeError: cannot read the revenue widget"
    with faulty({"client_console_error": message, "client_console_error_delay_ms": 300}) as server:
        seen = visit(browser, server, until=lambda seen: message in seen.errors)
    assert message in seen.errors


def test_a_failing_fetch_tile_shows_its_error_state(browser, faulty):
    """failing_fetch_tile: that tile's fetch after hydration gets a 500 and the tile shows .tile--error."""
    with faulty({"failing_fetch_tile": "revenue"}) as server:
        seen = visit(browser, server)
    value, errored = seen.tiles["revenue"]
    assert errored and "HTTP 500" in value
    assert any(r.startswith("500 ") and r.endswith("/api/tiles/revenue") for r in seen.responses)
    assert seen.tiles["orders"] == ("1,284", False)


def test_a_hydration_mismatch_makes_react_report_a_hydration_error(browser, faulty):
    """hydration_mismatch: the server and the browser render different text, and React reports it."""
    with faulty({"hydration_mismatch": True}) as server:
        seen = visit(browser, server, until=lambda seen: bool(seen.errors))
    assert any("418" in e or "ydration" in e for e in seen.errors), seen.errors


def test_the_request_faults_of_the_python_stand_in_work_the_same(faulty):
    """status, delay_ms, fail_health, frame_ancestors, x_frame_options, empty_tiles and extra_html behave
    as in examples/demo/app.py."""
    faults = {
        "status": {"/api/ads/health": 502},
        "delay_ms": {"/api/flags": 60_000},
        "fail_health": True,
        "frame_ancestors": "https://elsewhere.example",
        "x_frame_options": "DENY",
        "empty_tiles": ["orders"],
        "extra_html": '<p id="extra">injected</p>',
    }
    with faulty(faults) as server:
        health = httpx.get(server.url + "/health", timeout=10)
        ads = httpx.get(server.url + "/api/ads/health", timeout=10)
        page = httpx.get(server.url + "/app", timeout=10)
        with pytest.raises(httpx.ReadTimeout):  # a minute's delay: no answer within a few seconds
            httpx.get(server.url + "/api/flags", timeout=3)
    assert (health.status_code, health.json()["status"]) == (503, "error")
    assert (ads.status_code, ads.json()) == (502, {"status": "error", "error": "injected fault"})
    assert page.headers["content-security-policy"] == "frame-ancestors https://elsewhere.example"
    assert page.headers["x-frame-options"] == "DENY"
    orders = page.text.split('data-tile="orders"', 1)[1].split("</section>", 1)[0]
    assert orders.endswith('<p class="tile__value"></p>')
    assert '<p id="extra">injected</p>' in page.text


def test_a_stuck_dashboard_shows_its_loading_state_and_no_tile(faulty):
    """stuck_loading: the page shows "Loading..." and never a tile."""
    with faulty({"stuck_loading": True}) as server:
        page = httpx.get(server.url + "/app", timeout=10)
    assert '<p class="loading">Loading...</p>' in page.text
    assert "data-tile" not in page.text


def test_an_unknown_fault_stops_the_app_at_start_naming_it(built_app, tmp_path):
    """A misspelt fault is not a healthy release: the server exits at start, naming the key."""
    app = release_with(built_app, tmp_path, {"fail_helth": True})
    done = subprocess.run(["node", "server.js"], cwd=app, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PORT": str(free_port())})  # fmt: skip
    assert done.returncode == 1
    assert "unknown fault(s) fail_helth" in done.stderr
