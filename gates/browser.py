"""The browser gate's driver and fixtures: one visit of the Admin page per gate run, and its evidence.

Registered by ``gates.plugin`` after the other plugins, so its ``browser_type_launch_args``
overrides pytest-playwright's: Playwright launches Debian's Chromium (never a downloaded one).
``admin_visit`` opens the Admin page once per session (per xdist worker) and records what every
frame did; the browser molecules judge that record. Every test that used it gets the screenshot
and the console log of all frames in the HTML report; on failure the Playwright trace is saved
beside the report and linked -- unless the visit used a logged-in storage state, whose trace
goes to the private folder instead, never into a shared report.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gates.admin import dashboard_url
from gates.checks.browser import PageEvent, Tile, Visit
from gates.config import Config, Environment
from gates.redact import redact

# Root on a closed network: no sandbox (root), nothing that phones home or updates itself.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
_DEBIAN_CHROMIUM = Path("/usr/lib/chromium/chromium")  # the binary behind Debian's wrapper: starts faster
_POLL_MS = 100
_TRACE_KEY = pytest.StashKey[Path | None]()
_PRIVATE_KEY = pytest.StashKey[bool]()
_FAILED_KEY = pytest.StashKey[list[str]]()

_READ_TILES = """(tiles, [attr, valueSel, errorSel]) => tiles.map(t => ({
  name: t.getAttribute(attr) || '',
  value: ((valueSel && t.querySelector(valueSel)) || t).innerText.trim(),
  error: !!errorSel && t.matches(errorSel),
}))"""


def chromium_path() -> str:
    """Debian's Chromium: the real binary when present, else ``chromium`` on PATH; UsageError when absent."""
    if _DEBIAN_CHROMIUM.is_file() and os.access(_DEBIAN_CHROMIUM, os.X_OK):
        return str(_DEBIAN_CHROMIUM)
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise pytest.UsageError("chromium not found: apt-get install chromium (never `playwright install`)")
    return found


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch options, with the system Chromium and the flags a closed network needs."""
    args = [*browser_type_launch_args.get("args", ()), *CHROMIUM_FLAGS]
    return {**browser_type_launch_args, "executable_path": chromium_path(), "args": args}


@pytest.fixture(scope="session")
def admin_visit(
    request: pytest.FixtureRequest, browser: Any, gates_config: Config, environment: Environment
) -> Iterator[Visit]:
    """The Admin page of the environment, opened once, with everything every frame did."""
    state = _storage_state(gates_config)
    with tempfile.TemporaryDirectory(prefix="gates-trace-") as tmp:
        trace = Path(tmp) / "trace.zip"
        visit = visit_admin(browser, gates_config, environment, storage_state=state, trace=trace)
        request.config.stash[_TRACE_KEY] = trace if trace.is_file() else None
        request.config.stash[_PRIVATE_KEY] = state is not None
        yield visit
        _keep_trace_if_failed(request.config, trace, private=state is not None, config=gates_config)


def _storage_state(config: Config) -> str | None:
    """The path of the logged-in storage state the config names, None when it names none."""
    name = config.browser.storage_state_env
    return os.environ.get(name, "") if name else None


def visit_admin(
    browser: Any, config: Config, env: Environment, *, storage_state: str | None = None, trace: Path | None = None
) -> Visit:
    """Open the Admin page, wait (bounded) for the dashboard's tiles in the app frame, and record it all."""
    from playwright.sync_api import Error as PlaywrightError

    cfg = config.browser
    waited_for = f'{cfg.tile_selector} in iframe[name="{cfg.frame_name}"]'
    base = Visit(env.admin_url, dashboard_url(config, env), cfg.frame_name, waited_for, cfg.load_timeout, False)
    if not env.admin_url:
        return _replace(base, load_error=f"environments.{env.name}.admin_url is not set: no Admin page to open")
    if storage_state is not None and not Path(storage_state).is_file():
        # Fail closed: without its session the Admin shows a login page, not the app.
        problem = f"[browser] storage_state_env: {cfg.storage_state_env} does not name a storage state file"
        return _replace(base, load_error=problem)
    events: list[PageEvent] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800}, storage_state=storage_state)
    try:
        if trace is not None:
            context.tracing.start(screenshots=True, snapshots=True)
        page = context.new_page()
        _listen(page, events)
        loaded, error, seconds, frame = _load(page, base, PlaywrightError)
        tiles: tuple[Tile, ...] = ()
        if loaded and frame is not None:
            tiles = tuple(Tile(**t) for t in frame.eval_on_selector_all(cfg.tile_selector, _READ_TILES, [
                cfg.tile_name_attribute, cfg.tile_value_selector, cfg.tile_error_selector]))  # fmt: skip
        screenshot = page.screenshot(full_page=True)
        if trace is not None:
            context.tracing.stop(path=str(trace))
    finally:
        context.close()
    return _replace(base, loaded=loaded, load_error=error, seconds=seconds, tiles=tiles,
                    events=tuple(events), screenshot=screenshot)  # fmt: skip


def _listen(page: Any, events: list[PageEvent]) -> None:
    """Record console messages, uncaught errors, failed requests and error responses of every frame."""
    page.on("console", lambda m: events.append(PageEvent(f"console.{m.type}", m.text, m.location.get("url", ""))))
    page.on("pageerror", lambda e: events.append(PageEvent("pageerror", f"{e.name}: {e.message}", _stack_url(e.stack))))
    page.on(
        "requestfailed", lambda r: events.append(PageEvent("requestfailed", f"{r.method} failed: {r.failure}", r.url))
    )

    def on_response(response: Any) -> None:
        if response.status >= 400:
            events.append(PageEvent("response", f"HTTP {response.status}", response.url))

    page.on("response", on_response)


def _stack_url(stack: str | None) -> str:
    for word in (stack or "").replace("(", " ").replace(")", " ").split():
        if "://" in word:
            return word
    return ""


def _load(page: Any, visit: Visit, error_type: type[Exception]) -> tuple[bool, str, float | None, Any]:
    """Poll until the frame shows a tile, the browser refuses the frame, or the bound passes."""
    start = time.monotonic()
    deadline = start + visit.timeout
    try:
        page.goto(visit.admin_url, wait_until="domcontentloaded", timeout=visit.timeout * 1000)
    except error_type as exc:
        return False, f"the Admin page {visit.admin_url} did not open: {str(exc).splitlines()[0]}", None, None
    selector = visit.waited_for.split(" in iframe[", 1)[0]
    frame = None
    while time.monotonic() < deadline:
        frame = page.frame(name=visit.frame)
        if frame is not None and frame.url.startswith("chrome-error://"):
            return False, f"the browser refused to show {visit.dashboard_url} in the frame (error page)", None, frame
        try:
            if frame is not None and frame.locator(selector).first.is_visible():
                # Tiles are there; let the frame settle so errors thrown after they load are seen too.
                frame.wait_for_load_state("networkidle", timeout=max(deadline - time.monotonic(), 0.1) * 1000)
                return True, "", time.monotonic() - start, frame
        except error_type as exc:
            return (
                False,
                f"{visit.dashboard_url} did not settle within {visit.timeout:g}s: {str(exc).splitlines()[0]}",
                None,
                frame,
            )
        page.wait_for_timeout(_POLL_MS)  # Playwright's own pump: events keep flowing while we poll
    where = f"the frame at {frame.url}" if frame is not None else "no such frame on the page"
    return False, f"waited {visit.timeout:g}s for {visit.waited_for} ({where})", None, frame


def _replace(visit: Visit, **changes: Any) -> Visit:
    import dataclasses

    return dataclasses.replace(visit, **changes)


# ---------------------------------------------------------------------------
# Evidence


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    visit = getattr(item, "funcargs", {}).get("admin_visit")
    if report.when != "call" or not isinstance(visit, Visit):
        return
    extras = _extras()
    if extras is None:
        return
    added: list[dict[str, Any]] = []
    if visit.screenshot:
        added.append(extras.png(base64.b64encode(visit.screenshot).decode(), name="Admin page with the dashboard"))
    added.append(extras.text(redact(visit.console_log()), name="console log (all frames)"))
    if report.failed:
        item.config.stash.setdefault(_FAILED_KEY, []).append(item.nodeid)
        link = _trace_link(item.config)
        if link:
            added.append(extras.url(link, name="Playwright trace"))
    report.extras = [*getattr(report, "extras", []), *added]  # type: ignore[attr-defined]


def _extras() -> Any:
    try:
        from pytest_html import extras
    except ImportError:
        return None
    return extras


def _report_dir(config: pytest.Config) -> Path:
    html = config.getoption("htmlpath", None)
    return Path(html).resolve().parent if html else Path.cwd()


def _trace_name(config: pytest.Config) -> str:
    html = config.getoption("htmlpath", None)
    stem = Path(html).stem if html else "browser"
    # This run's own xdist worker id (not $PYTEST_XDIST_WORKER: a gate run from a worker inherits it).
    worker = getattr(config, "workerinput", {}).get("workerid")
    return f"{stem}-trace{'-' + worker if worker else ''}.zip"


def _trace_link(config: pytest.Config) -> str | None:
    """The report-relative name the trace will have (the visit fixture saves it at its teardown)."""
    if config.stash.get(_TRACE_KEY, None) is None or config.stash.get(_PRIVATE_KEY, False):
        return None
    return _trace_name(config)


def _keep_trace_if_failed(pyconfig: pytest.Config, trace: Path, *, private: bool, config: Config) -> None:
    """Save the trace of a visit some molecule failed on: beside the report, or privately with a storage state."""
    if not trace.is_file() or not pyconfig.stash.get(_FAILED_KEY, []):
        return
    if private:
        # It carries the Admin session: kept out of every shared report, in an owner-only folder.
        folder = config.resolve(config.browser.private_dir)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = folder / _trace_name(pyconfig)
    else:
        target = _report_dir(pyconfig) / _trace_name(pyconfig)
    shutil.copyfile(trace, target)
    if private:
        target.chmod(0o600)
