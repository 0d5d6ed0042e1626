"""What a visit asks of one open page, each ask bounded: its frame, whether the dashboard is ready, the tiles,
the layout probe, the documents' answers, the screenshot; and what every frame logged. Used by gates.gaterun.visit,
which drives the pages of a visit step by step."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from gates.checks.browser import Document, PageEvent, Tile, Visit
from gates.checks.layout import LAYOUT_PROBE, WAIT_MS
from gates.config import BrowserConfig

POLL_MS = 100
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


def listen(page: Any, events: list[PageEvent], answers: list[tuple[Any, str, int]]) -> None:
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


def timed_out(exc: Exception) -> bool:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    return isinstance(exc, PlaywrightTimeout)


def no_answer(exc: Exception, seconds: float) -> str:
    """A Playwright error in words: a timeout is "no answer within N s", anything else its first line."""
    return f"no answer within {seconds:g}s" if timed_out(exc) else _first_line(exc)


def await_dashboard(
    page: Any,
    visit: Visit,
    cfg: BrowserConfig,
    answers: list[tuple[Any, str, int]],
    deadline: float,
    start: float,
    error_type: type[Exception],
) -> Visit:
    """Once the page opened: find the frame showing the dashboard and wait until it is ready, within the bound
    (``deadline``, monotonic). A document that answered 4xx/5xx ends the wait at once: whatever it renders, it is
    not the dashboard."""
    frame = _document_frame(page, visit, deadline)
    if frame is None or not frame.url.startswith("http"):
        return dataclasses.replace(visit, load_error=_not_ready(page, visit, frame, error_type))
    failed = next((d for d in answered_documents(page, visit, answers) if d.status is not None and not d.ok), None)
    if failed is not None:
        return dataclasses.replace(visit, load_error=failed.problem())
    try:
        # Waits the browser bounds itself: a renderer stuck in a script cannot hold the gate past the bound.
        left = max(deadline - time.monotonic(), 0.001) * 1000
        if cfg.ready_selector:
            frame.locator(cfg.ready_selector).first.wait_for(state="visible", timeout=left)
        elif cfg.ready_script:
            frame.wait_for_function(cfg.ready_script, timeout=left, polling=POLL_MS)
        else:
            frame.wait_for_load_state("load", timeout=left)
    except error_type as exc:
        detail = "" if timed_out(exc) else f": {_first_line(exc)}"
        return dataclasses.replace(visit, load_error=_not_ready(page, visit, frame, error_type) + detail)
    return dataclasses.replace(visit, loaded=True, seconds=time.monotonic() - start)


def _document_frame(page: Any, visit: Visit, deadline: float) -> Any:
    """The frame that shows the dashboard once it holds a document (or an error page), polled within the bound;
    an iframe still on its initial about:blank has no document of the app yet."""
    while True:  # looked at once at least: a page that took the whole bound to open still has its frames
        frame = page.frame(name=visit.frame) if visit.embedded else page.main_frame
        if frame is not None and (frame.url.startswith("http") or frame.url.startswith("chrome-error://")):
            return frame
        if time.monotonic() >= deadline:
            return frame
        page.wait_for_timeout(POLL_MS)  # Playwright's own pump: events keep flowing while we poll


def answered_documents(page: Any, visit: Visit, answers: list[tuple[Any, str, int]]) -> tuple[Document, ...]:
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
        return None if timed_out(exc) and not _answers(page, error_type) else False
    return True


def _answers(page: Any, error_type: type[Exception]) -> bool:
    """Whether the page's renderer answers at all, within FRAME_PROBE_TIMEOUT."""
    try:
        page.main_frame.wait_for_function("true", timeout=FRAME_PROBE_TIMEOUT * 1000)
    except error_type:
        return False
    return True


def read_tiles(page: Any, visit: Visit, cfg: BrowserConfig, error_type: type[Exception]) -> tuple[Tile, ...]:
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
        found = frame.wait_for_function(_READ_TILES, arg=[*shape, True], timeout=left * 1000, polling=POLL_MS)
    except error_type:
        try:  # never settled within the bound: the verdict is what is there now
            found = frame.wait_for_function(_READ_TILES, arg=[*shape, False], timeout=READ_TIMEOUT * 1000)
        except error_type:
            return ()  # a frame that no longer answers: the tiles molecule names each missing tile
    return tuple(Tile(**t) for t in found.json_value())


def layout_probe(page: Any, visit: Visit, error_type: type[Exception]) -> Any:
    """What ``LAYOUT_PROBE`` measures in the dashboard's frame (the app's frame when embedded), as JSON; None when
    the frame is gone or does not answer. Bounded like every browser call here: an evaluation alone has no
    timeout, so the probe runs as a function waited for (its promise's answer), within its own wait for
    stylesheets still loading plus READ_TIMEOUT."""
    frame = page.frame(name=visit.frame) if visit.embedded else page.main_frame
    if frame is None:
        return None
    bound = WAIT_MS / 1000 + READ_TIMEOUT
    try:
        return frame.wait_for_function(LAYOUT_PROBE, arg=WAIT_MS, timeout=bound * 1000, polling=POLL_MS).json_value()
    except error_type:
        return None


def take_screenshot(page: Any, seconds: float, error_type: type[Exception]) -> tuple[bytes | None, str]:
    """The whole page as PNG, bounded: a page that never paints is "no answer", not an exception."""
    try:
        return page.screenshot(full_page=True, timeout=seconds * 1000), ""
    except error_type as exc:
        return None, f"the screenshot of the page: {no_answer(exc, seconds)}"
