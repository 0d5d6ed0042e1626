"""One visit of the dashboard in Chromium: loaded within its bound, every frame watched for the settle window,
the tiles read, a screenshot, the recording; every browser call bounded, so a page that never answers is a
failed visit, not an exception. Driven by the browser gate's fixture (gates.gaterun.browser) and the monitor."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from pathlib import Path
from typing import Any

from gates.checks.browser import Document, PageEvent, Tile, Visit
from gates.checks.layout import LAYOUT_PROBE, WAIT_MS
from gates.config import BrowserConfig, Config, Environment
from gates.gaterun.screencast import Screencast
from gates.platforms.admin import dashboard_url

_POLL_MS = 100
SCREENSHOT_TIMEOUT = 5.0  # seconds: a page that has painted at all is captured well within this
READ_TIMEOUT = 5.0  # seconds: reading the tiles once they settled (or the bound ended) is one evaluation
FRAME_PROBE_TIMEOUT = 1.0  # seconds: is the iframe on the page at all (asked only once the load bound is spent)


# The tiles as shown; with ``settled`` asked, false until they have settled: every expected one is on the page,
# and every tile shown has a value or is in its error state. Polled by the browser itself, as a person looks
# until the numbers appear; bounded by the caller's timeout (an evaluation alone has none).
_READ_TILES = """([sel, attr, valueSel, errorSel, expected, settled]) => {
  const tiles = [...document.querySelectorAll(sel)].map(t => ({
    name: t.getAttribute(attr) || '',
    value: ((valueSel && t.querySelector(valueSel)) || t).innerText.trim(),
    error: !!errorSel && t.matches(errorSel),
  }));
  const names = new Set(tiles.map(t => t.name));
  const done = tiles.length > 0 && tiles.every(t => t.error || t.value !== '') && expected.every(n => names.has(n));
  return (done || !settled) ? tiles : false;
}"""


def records_video(config: Config, env: Environment) -> bool:
    """Whether visits of ``env`` are recorded: its ``video`` (else ``[browser] video``) is always, or production
    and it is production."""
    mode = env.video or config.browser.video
    return mode == "always" or (mode == "production" and env.is_production)


def storage_state(config: Config) -> str | None:
    """The path of the logged-in storage state the config names, None when it names none."""
    name = config.browser.storage_state_env
    return os.environ.get(name, "") if name else None


def readiness(config: Config, env: Environment) -> str:
    """What the visit waits for, in words: the ready selector, script or load event, and in which frame."""
    cfg = config.browser
    what = cfg.ready_selector or (f"ready_script {cfg.ready_script!r} truthy" if cfg.ready_script else "the load event")
    return f'{what} in iframe[name="{cfg.frame_name}"]' if env.admin_url else f"{what} on the page"


def visit_admin(
    browser: Any,
    config: Config,
    env: Environment,
    *,
    storage_state: str | None = None,
    trace: Path | None = None,
    video: bool = False,
    settle: float | None = None,
    layout: bool = False,
) -> Visit:
    """Open the Admin page (or, without an admin_url, the dashboard itself), wait (bounded) until the dashboard
    is ready, watch it for the settle window (``settle`` seconds, default ``[browser] settle``), and record it
    all; with ``layout``, what gates.checks.layout's probe measures in the dashboard's frame once it settled.
    Every browser call is bounded: a timeout is a failed visit saying what got no answer, never an exception."""
    from playwright.sync_api import Error as PlaywrightError

    cfg = config.browser
    base = Visit(env.admin_url, dashboard_url(config, env), cfg.frame_name, readiness(config, env), cfg.load_timeout,
                 False, settle=cfg.settle if settle is None else settle)  # fmt: skip
    if storage_state is not None and not Path(storage_state).is_file():
        # Fail closed: without its session the Admin shows a login page, not the app.
        problem = f"[browser] storage_state_env: {cfg.storage_state_env} does not name a storage state file"
        return _replace(base, load_error=problem)
    events: list[PageEvent] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800}, storage_state=storage_state)
    try:
        seen = _observe(context, base, cfg, events, trace=trace, video=video, layout=layout)
    except PlaywrightError as exc:
        # A page or browser that crashed mid-visit: a failed load saying so, never an ERROR with a traceback.
        seen = _replace(base, load_error=f"the browser failed during the visit: {_no_answer(exc, cfg.load_timeout)}")
    finally:
        with contextlib.suppress(PlaywrightError):
            context.close()
    return _replace(seen, events=tuple(events))


def _observe(
    context: Any,
    base: Visit,
    cfg: BrowserConfig,
    events: list[PageEvent],
    *,
    trace: Path | None,
    video: bool,
    layout: bool = False,
) -> Visit:
    """The visit itself, in a fresh browser context: load, tiles, settle window, screenshot, trace, recording."""
    from playwright.sync_api import Error as PlaywrightError

    # The bound of every wait and action not given one of its own (tile reads, tracing).
    context.set_default_timeout(cfg.load_timeout * 1000)
    if trace is not None:
        context.tracing.start(screenshots=True, snapshots=True)
    page = context.new_page()
    navigations: list[tuple[Any, str, int]] = []
    _listen(page, events, navigations)
    recorder = Screencast.start(context, page, cfg.video_width) if video else None
    ready, opened = _load(page, base, cfg, navigations, PlaywrightError)
    if ready.loaded:
        ready = _replace(ready, tiles=_read_tiles(page, ready, cfg, PlaywrightError))
        page.wait_for_timeout(base.settle * 1000)  # Playwright's own pump: late errors still arrive
        if layout:
            ready = _replace(ready, layout=_layout(page, ready, PlaywrightError))
    if opened:
        ready = _replace(ready, documents=_documents(page, ready, navigations))
    # A page that never opened has nothing to show; one that did (an empty frame, say) is worth a picture.
    bound = min(cfg.load_timeout, SCREENSHOT_TIMEOUT)
    screenshot, stalled = _screenshot(page, bound, PlaywrightError) if opened else (None, "")
    if trace is not None:
        with contextlib.suppress(PlaywrightError):
            context.tracing.stop(path=str(trace))
    clip = None
    if recorder is not None:
        # A page that gave no answer to its screenshot would give none to "stop the screencast" either.
        answers = not (ready.stalled or stalled)
        clip = recorder.stop(cfg.video_fps, cfg.video_width, cfg.video_frames, cfg.video_max_bytes, answers=answers)
    return _replace(ready, screenshot=screenshot, stalled=ready.stalled or stalled, video=clip)


def _listen(page: Any, events: list[PageEvent], answers: list[tuple[Any, str, int]]) -> None:
    """Record console messages, uncaught errors, failed requests and error responses of every frame, and the
    answer (frame, URL, status) of every document any frame navigated to."""
    page.on("console", lambda m: events.append(PageEvent(f"console.{m.type}", m.text, m.location.get("url", ""))))
    page.on("pageerror", lambda e: events.append(PageEvent("pageerror", f"{e.name}: {e.message}", _stack_url(e.stack))))
    page.on(
        "requestfailed", lambda r: events.append(PageEvent("requestfailed", f"{r.method} failed: {r.failure}", r.url))
    )

    def on_response(response: Any) -> None:
        if response.status >= 400:
            events.append(PageEvent("response", f"HTTP {response.status}", response.url))
        if response.request.is_navigation_request():
            answers.append((response.frame, response.url, response.status))

    page.on("response", on_response)


def _stack_url(stack: str | None) -> str:
    for word in (stack or "").replace("(", " ").replace(")", " ").split():
        if "://" in word:
            return word
    return ""


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _timed_out(exc: Exception) -> bool:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    return isinstance(exc, PlaywrightTimeout)


def _no_answer(exc: Exception, seconds: float) -> str:
    """A Playwright error in words: a timeout is "no answer within N s", anything else its first line."""
    return f"no answer within {seconds:g}s" if _timed_out(exc) else _first_line(exc)


def _load(
    page: Any, visit: Visit, cfg: BrowserConfig, answers: list[tuple[Any, str, int]], error_type: type[Exception]
) -> tuple[Visit, bool]:
    """Open the page, find the frame showing the dashboard, and wait until it is ready, all within the bound;
    also whether the page opened at all. A document that answered 4xx/5xx ends the wait at once: whatever it
    renders, it is not the dashboard."""
    start = time.monotonic()
    deadline = start + visit.timeout
    url = visit.admin_url or visit.dashboard_url
    try:
        page.goto(url, wait_until="domcontentloaded", timeout=visit.timeout * 1000)
    except error_type as exc:
        silent = url if _timed_out(exc) else ""
        return _replace(visit, load_error=f"the page {url} did not open: {_no_answer(exc, visit.timeout)}",
                        silent=silent), False  # fmt: skip
    frame = _document_frame(page, visit, deadline)
    if frame is None or not frame.url.startswith("http"):
        return _replace(visit, load_error=_not_ready(page, visit, frame, error_type)), True
    failed = next((d for d in _documents(page, visit, answers) if d.status is not None and not d.ok), None)
    if failed is not None:
        return _replace(visit, load_error=failed.problem()), True
    try:
        # Waits the browser bounds itself: a renderer stuck in a script cannot hold the gate past the bound.
        left = max(deadline - time.monotonic(), 0.001) * 1000
        if cfg.ready_selector:
            frame.locator(cfg.ready_selector).first.wait_for(state="visible", timeout=left)
        elif cfg.ready_script:
            frame.wait_for_function(cfg.ready_script, timeout=left, polling=_POLL_MS)
        else:
            frame.wait_for_load_state("load", timeout=left)
    except error_type as exc:
        detail = "" if _timed_out(exc) else f": {_first_line(exc)}"
        return _replace(visit, load_error=_not_ready(page, visit, frame, error_type) + detail), True
    return _replace(visit, loaded=True, seconds=time.monotonic() - start), True


def _document_frame(page: Any, visit: Visit, deadline: float) -> Any:
    """The frame that shows the dashboard once it holds a document (or an error page), polled within the bound;
    an iframe still on its initial about:blank has no document of the app yet."""
    while True:  # looked at once at least: a page that took the whole bound to open still has its frames
        frame = page.frame(name=visit.frame) if visit.embedded else page.main_frame
        if frame is not None and (frame.url.startswith("http") or frame.url.startswith("chrome-error://")):
            return frame
        if time.monotonic() >= deadline:
            return frame
        page.wait_for_timeout(_POLL_MS)  # Playwright's own pump: events keep flowing while we poll


def _documents(page: Any, visit: Visit, answers: list[tuple[Any, str, int]]) -> tuple[Document, ...]:
    """The answer of the page's document and, embedded, of the app frame's: the last navigation answer each
    frame got (a redirect's 3xx is followed by the answer of where it led)."""

    def answer(frame: Any, where: str) -> Document:
        got = [(url, status) for f, url, status in answers if f is frame]
        url, status = got[-1] if got else (frame.url if frame is not None else visit.dashboard_url, None)
        return Document(where, url, status)

    if not visit.embedded:
        return (answer(page.main_frame, "the dashboard"),)
    return answer(page.main_frame, "the Admin page"), answer(page.frame(name=visit.frame), "the app frame")


def _not_ready(page: Any, visit: Visit, frame: Any, error_type: type[Exception]) -> str:
    """Why the dashboard is not ready: no frame, a frame refused by the browser, no answer, or not ready in time."""
    if frame is not None and frame.url.startswith("chrome-error://"):
        return f"the browser refused to show {visit.dashboard_url} in the frame (error page)"
    element = _frame_element(page, visit.frame, error_type) if frame is None else True
    if element is None:
        where = "the page itself gave no answer: its renderer is busy"
    elif not element:
        where = "no such frame on the page"
    elif frame is None or not frame.url.startswith("http"):
        # The iframe is there, but no document of the app ever arrived in it.
        where = f"{visit.dashboard_url} gave no answer within {visit.timeout:g}s"
    else:
        where = f"the frame at {frame.url}"
    return f"waited {visit.timeout:g}s for {visit.waited_for} ({where})"


def _frame_element(page: Any, name: str, error_type: type[Exception]) -> bool | None:
    """Whether the page has an iframe of that name (Chromium names a frame only once a document commits in it);
    None when the page does not answer. Bounded: ``count()`` takes no timeout, and a renderer spinning in a
    script never answers it (seen on a loaded machine: the gate hung there)."""
    try:
        page.locator(f'iframe[name="{name}"]').first.wait_for(state="attached", timeout=FRAME_PROBE_TIMEOUT * 1000)
    except error_type as exc:
        return None if _timed_out(exc) and not _answers(page, error_type) else False
    return True


def _answers(page: Any, error_type: type[Exception]) -> bool:
    """Whether the page's renderer answers at all, within FRAME_PROBE_TIMEOUT."""
    try:
        page.main_frame.wait_for_function("true", timeout=FRAME_PROBE_TIMEOUT * 1000)
    except error_type:
        return False
    return True


def _read_tiles(page: Any, visit: Visit, cfg: BrowserConfig, error_type: type[Exception]) -> tuple[Tile, ...]:
    """The tiles the dashboard shows once they have settled -- every configured tile there, each with a value or
    in its error state -- or, when they never do within what remains of the load bound, as last seen: the last
    observation is the verdict. A tile filled by a fetch the browser makes after hydration is read once filled,
    however busy the machine. None configured: none read."""
    if not cfg.tiles:
        return ()
    frame = page.frame(name=visit.frame) if visit.embedded else page.main_frame
    left = max(visit.timeout - (visit.seconds or 0.0), 0.1)  # what remains of the load bound
    if frame is None:
        return ()
    shape = [
        cfg.tile_selector,
        cfg.tile_name_attribute,
        cfg.tile_value_selector,
        cfg.tile_error_selector,
        list(cfg.tiles),
    ]
    try:
        found = frame.wait_for_function(_READ_TILES, arg=[*shape, True], timeout=left * 1000, polling=_POLL_MS)
    except error_type:
        try:  # never settled within the bound: the verdict is what is there now
            found = frame.wait_for_function(_READ_TILES, arg=[*shape, False], timeout=READ_TIMEOUT * 1000)
        except error_type:
            return ()  # a frame that no longer answers: the tiles molecule names each missing tile
    return tuple(Tile(**t) for t in found.json_value())


def _layout(page: Any, visit: Visit, error_type: type[Exception]) -> Any:
    """What ``LAYOUT_PROBE`` measures in the dashboard's frame (the app's frame when embedded), as JSON; None when
    the frame is gone or does not answer. Bounded like every browser call here: an evaluation alone has no
    timeout, so the probe runs as a function waited for (its promise's answer), within its own wait for
    stylesheets still loading plus READ_TIMEOUT."""
    frame = page.frame(name=visit.frame) if visit.embedded else page.main_frame
    if frame is None:
        return None
    bound = WAIT_MS / 1000 + READ_TIMEOUT
    try:
        return frame.wait_for_function(LAYOUT_PROBE, arg=WAIT_MS, timeout=bound * 1000, polling=_POLL_MS).json_value()
    except error_type:
        return None


def _screenshot(page: Any, seconds: float, error_type: type[Exception]) -> tuple[bytes | None, str]:
    """The whole page as PNG, bounded: a page that never paints is "no answer", not an exception."""
    try:
        return page.screenshot(full_page=True, timeout=seconds * 1000), ""
    except error_type as exc:
        return None, f"the screenshot of the page: {_no_answer(exc, seconds)}"


def _replace(visit: Visit, **changes: Any) -> Visit:
    return dataclasses.replace(visit, **changes)
