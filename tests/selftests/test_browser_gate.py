"""The browser gate against a deployed demo: the healthy release passes, each broken one fails the right molecule.

One staging environment (one instance, on the shared test cluster) is deployed for the module;
each fault test deploys a faulty release onto it, runs the gate's smoke molecules in a child
pytest as ``gates deploy`` does (one browser visit per run checks all of them), and rolls back.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from gates import config as config_mod
from gates.gaterun.runner import run_gate
from gates.platforms import platform_for
from gates.platforms.local import down
from gates.release.migrating import migrate
from tests.selftests.demo import DEMO, demo_copy, failures, junit_results, skips, write_config

pytestmark = pytest.mark.xdist_group("browser-gate")

DB_ENV = "GATES_SELFTEST_BROWSER_DB"
STATE_ENV = "GATES_SELFTEST_STORAGE_STATE"
LOAD_TIMEOUT = 8.0
CANARY = "canary-session-5Wd02"
LOADS = "test_dashboard_loads_inside_the_admin_frame"
TILES = "test_every_tile_shows_data"
CONSOLE = "test_no_console_errors_in_any_frame"
HEADERS = "test_app_pages_allow_embedding_in_the_admin"
LAYOUT = "test_the_dashboard_is_styled_and_laid_out"
MOLECULES = {LOADS, TILES, CONSOLE, HEADERS, LAYOUT}


@dataclass
class Deployed:
    config: config_mod.Config

    @property
    def env(self) -> config_mod.Environment:
        return self.config.environment("staging")

    def gate(self, out: Path, config: config_mod.Config | None = None, workers: int = 0) -> dict[str, str]:
        """Run the smoke molecules in a child pytest; molecule name -> 'passed' or its failure message."""
        (out / "logs").mkdir(parents=True, exist_ok=True)
        cfg = config or self.config
        run_gate(cfg, cfg.environment("staging"), "smoke", out, "smoke-gate", workers=workers)
        # pytest-playwright names browser tests after the browser: test_x[chromium].
        return {name.removesuffix("[chromium]"): r for name, r in junit_results(out / "smoke-gate.xml").items()}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, pg_cluster) -> Iterator[Deployed]:
    folder = tmp_path_factory.mktemp("browser-gate")
    previous = os.environ.get(DB_ENV)
    os.environ[DB_ENV] = pg_cluster.ensure_database("browser_gate")
    path = write_config(
        folder, environments={"staging": {"database_url_env": DB_ENV, "instances": 1}},
        browser={"load_timeout": LOAD_TIMEOUT, "ready_selector": "[data-tile]", "video": "always"},
    )  # fmt: skip
    config = config_mod.load(path)
    try:
        migrate(config, os.environ[DB_ENV], None)
        platform_for(config, config.environment("staging")).deploy(config.environment("staging"), str(DEMO))
        yield Deployed(config)
    finally:
        down(config)
        if previous is None:
            os.environ.pop(DB_ENV, None)
        else:
            os.environ[DB_ENV] = previous


def test_the_healthy_release_passes_with_a_screenshot_and_a_video_in_the_report(deployed, tmp_path):
    """The demo as shipped passes all four smoke molecules under two xdist workers (each visits on its own);
    the report embeds the screenshot, the console log and the visit's recording: an animated WebP, also kept
    beside the report, within the configured width, frame count and byte bound."""
    results = deployed.gate(tmp_path, workers=2)
    assert results == dict.fromkeys(MOLECULES, "passed")
    report = (tmp_path / "smoke-gate.html").read_text()
    for molecule in (LOADS, TILES, CONSOLE):
        assert molecule in report
    assert "data:image/png;base64," in report and "console log (all frames)" in report
    assert not list(tmp_path.glob("*trace*.zip")), "a passing run keeps no trace"
    videos = sorted(tmp_path.glob("smoke-gate-video*.webp"))
    assert videos, "each visit's recording is kept beside the report"
    cfg = deployed.config.browser
    for video in videos:
        with Image.open(video) as clip:
            assert clip.format == "WEBP" and 2 <= clip.n_frames <= cfg.video_frames and clip.width <= cfg.video_width
        assert video.stat().st_size <= cfg.video_max_bytes
        assert f"data:image/webp;base64,{base64.b64encode(video.read_bytes()).decode()}" in report


# (faults.json of the release, {molecule: texts its failure names}, molecules that must still pass)
FAULTS = {
    "a-console-error-a-second-after-load": (
        {"extra_html": "<script>setTimeout(() => console.error('late boom'), 1000)</script>"},
        {CONSOLE: ["console.error", "late boom"]},
        {LOADS, TILES, HEADERS},
    ),
    "console-error-only-in-the-iframe-and-an-empty-tile": (
        {
            "extra_html": "<script>if (window.top !== window.self) console.error('tiles widget: quota exceeded')</script>",
            "empty_tiles": ["orders"],
        },
        {CONSOLE: ["console.error", "tiles widget: quota exceeded", "/app"], TILES: ["tile 'orders' is empty"]},
        {LOADS, HEADERS},
    ),
    "uncaught-exception-after-the-tiles-load-and-x-frame-options-deny": (
        {
            "extra_html": "<script>addEventListener('load', () => setTimeout(() => { throw new Error('late tile refresh failed') }, 100))</script>",
            "x_frame_options": "DENY",
        },
        {CONSOLE: ["pageerror", "late tile refresh failed"], HEADERS: ["X-Frame-Options: DENY"]},
        {LOADS, TILES},
    ),
    "a-script-that-404s": (
        {"extra_html": '<script src="/static/charts.js"></script>'},
        # Chromium reports the 404 as a response, or on a loaded machine at times only as an aborted
        # request: either way the molecule must fail naming the script.
        {CONSOLE: [("HTTP 404", "ERR_ABORTED"), "/static/charts.js"]},
        {LOADS, TILES, HEADERS},
    ),
    "a-csp-that-forbids-the-admin-origin": (
        {"frame_ancestors": "'self'"},
        {HEADERS: ["frame-ancestors", "does not admit"], LOADS: ["frame-ancestors"]},
        set(),
    ),
}


@pytest.mark.parametrize("faults, failing, passing", FAULTS.values(), ids=FAULTS.keys())
def test_a_faulty_release_fails_the_molecule_that_names_its_cause(deployed, tmp_path, faults, failing, passing):
    """Each fault fails the molecule(s) it breaks, each message naming the cause; the others still pass."""
    platform = platform_for(deployed.config, deployed.env)
    platform.deploy(deployed.env, str(demo_copy(tmp_path, faults)))
    try:
        results = deployed.gate(tmp_path / "gate")
    finally:
        platform.rollback(deployed.env)
    assert set(results) == MOLECULES
    failed = failures(results)  # a skip is no failure: each molecule named must have failed
    for molecule, texts in failing.items():
        assert molecule in failed, (molecule, results[molecule])
        for text in texts:
            alternatives = text if isinstance(text, tuple) else (text,)
            assert any(t in failed[molecule] for t in alternatives), (molecule, text, failed[molecule])
    assert {m for m in passing if results[m] == "passed"} == passing, results
    assert (tmp_path / "gate" / "smoke-gate-trace.zip").is_file(), "a failed run keeps the trace beside the report"
    assert "Playwright trace" in (tmp_path / "gate" / "smoke-gate.html").read_text()


def test_a_dashboard_that_never_loads_fails_within_its_bound_and_keeps_the_session_private(
    deployed, tmp_path, monkeypatch
):
    """A dashboard stuck in its loading state fails the load molecule saying what it waited for; with a storage state
    (a logged-in Admin) the trace goes to the private folder, and the session is in no report file."""
    state = tmp_path / "state.json"
    cookie = {"name": "admin_session", "value": CANARY, "domain": "127.0.0.1", "path": "/", "expires": -1,
              "httpOnly": True, "secure": False, "sameSite": "Lax"}  # fmt: skip
    state.write_text(json.dumps({"cookies": [cookie], "origins": []}))
    monkeypatch.setenv(STATE_ENV, str(state))
    private = tmp_path / "private"
    path = tmp_path / "gates.toml"  # the same environment, logged in: [browser] is the config's last table
    path.write_text(
        deployed.config.path.read_text() + f'storage_state_env = "{STATE_ENV}"\nprivate_dir = "{private}"\n'
    )
    platform = platform_for(deployed.config, deployed.env)
    platform.deploy(deployed.env, str(demo_copy(tmp_path, {"stuck_loading": True})))
    try:
        results = deployed.gate(tmp_path / "gate", config_mod.load(path))
    finally:
        platform.rollback(deployed.env)
    failed = failures(results)
    assert f'waited {LOAD_TIMEOUT:g}s for [data-tile] in iframe[name="app-iframe"]' in failed[LOADS]
    assert "did not load" in failed[TILES]
    assert results[HEADERS] == "passed"
    assert list(private.glob("*trace*.zip")), "the trace taken with the session is kept privately"
    for file in (tmp_path / "gate").rglob("*"):
        assert not file.name.endswith(".zip"), file
        if file.is_file():
            assert CANARY.encode() not in file.read_bytes(), file


def test_without_an_admin_the_dashboard_is_visited_directly_and_must_become_ready(deployed, tmp_path):
    """No admin_url: the dashboard itself is visited and judged, the embedding molecule skips saying why, and
    with no tiles configured the tiles molecule skips too. A ready_script that never turns truthy fails the
    load molecule naming the script; one that does passes."""
    never, ready = "window.__hydrated === true", "document.querySelectorAll('[data-tile]').length >= 4"
    results = {}
    for name, script in (("never", never), ("ready", ready)):
        folder = tmp_path / name
        path = write_config(
            folder, environments={"staging": {"url": deployed.env.url, "admin_url": "", "database_url_env": DB_ENV}},
            browser={"load_timeout": 4.0, "tiles": [], "ready_script": script},
        )  # fmt: skip
        results[name] = deployed.gate(folder / "gate", config_mod.load(path))
        reasons = skips(results[name])
        assert "admin_url and [browser] admin_origins are empty" in reasons[HEADERS]
        assert "no tiles configured" in reasons[TILES]
    never_loaded = failures(results["never"])[LOADS]
    assert f"waited 4s for ready_script {never!r} truthy on the page" in never_loaded
    assert "visited directly" in never_loaded
    assert results["ready"][LOADS] == "passed" and results["ready"][CONSOLE] == "passed"


def test_an_app_frame_whose_document_answers_404_fails_the_load_at_once_naming_url_and_status(deployed, tmp_path):
    """The Admin page opens (200) but a release whose dashboard route answers 404 puts a 404 document in the app's
    frame: the load molecule fails naming the frame, the URL and the status, without waiting out its bound for a
    ready selector a 404 page never shows."""
    platform = platform_for(deployed.config, deployed.env)
    platform.deploy(deployed.env, str(demo_copy(tmp_path, {"status": {"/app": 404}})))
    try:
        results = deployed.gate(tmp_path / "gate")
    finally:
        platform.rollback(deployed.env)
    failed = failures(results)
    assert f"the app frame {deployed.env.url}/app answered HTTP 404" in failed[LOADS], results[LOADS]
    assert f"waited {LOAD_TIMEOUT:g}s" not in failed[LOADS], "a definite 404 is not waited on"


def test_a_gate_run_by_hand_keeps_its_trace_out_of_the_working_tree(deployed, tmp_path):
    """`pytest -m staging` by hand (no --html) on a failing release writes no trace into the folder it runs
    in: the trace goes to a temporary folder the failure names."""
    import re
    import subprocess
    import sys

    from tests.selftests.demo import REPO

    platform = platform_for(deployed.config, deployed.env)
    platform.deploy(deployed.env, str(demo_copy(tmp_path, {"extra_html": "<script>console.error('by hand')</script>"})))
    work = tmp_path / "work"
    work.mkdir()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-m", "smoke", "--env", "staging",
             "--gates-config", str(deployed.config.path), "-q", "-p", "no:cacheprovider", "--color=no"],
            cwd=work, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        platform.rollback(deployed.env)
    assert run.returncode == 1 and "by hand" in run.stdout, run.stdout[-2000:]
    assert not [p for p in work.rglob("*") if p.suffix == ".zip"], "no trace in the working tree"
    assert not list(REPO.glob("*trace*.zip")), "none in the repository either"
    named = re.search(r"Playwright trace of the visit: (\S+\.zip)", run.stdout)
    assert named and Path(named.group(1)).is_file() and work not in Path(named.group(1)).parents
