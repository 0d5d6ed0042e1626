"""Several dashboards visited together in one browser (the Admin page's visit and the comparison's two): the pages
of a wave load together, a later wave once the page before it is ready, and one settle window watches them all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gates import config as config_mod
from gates.gaterun.visit import Planned, visit_together
from tests.selftests.demo import write_config

TOGETHER_BOUND = 10.0  # seconds a page's document waits for its partner's request (then it is served anyway)
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4c60000000049454e44ae426082"
)


def _page(name: str) -> bytes:
    """A page that logs an error a moment after its load event (page ``a`` also waits for a slow image)."""
    image = '<img src="/a/slow.png" alt="">' if name == "a" else ""
    late = f"window.addEventListener('load', () => setTimeout(() => console.error('late {name}'), 300));"
    return f"<!doctype html><html><body><h1>{name}</h1>{image}<script>{late}</script></body></html>".encode()


class Site:
    """A server of pages a, b and c that records, in order, what it was asked and served; the rest of b's and c's
    documents is each held, once their answer began, until the other was asked for (bounded): each says whether
    the two were loading together."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.asked = {"b": threading.Event(), "c": threading.Event()}
        self.together: dict[str, bool] = {}
        self.lock = threading.Lock()

    def note(self, what: str) -> None:
        with self.lock:
            self.log.append(what)

    def answer(self, path: str) -> tuple[int, str, bytes]:
        name = path.strip("/").split("/")[0]
        if path == "/a/slow.png":
            threading.Event().wait(0.3)  # the image the load event of page a waits for
            self.note("a image served")  # before its bytes leave: page a cannot be loaded before this line
            return 200, "image/png", _PNG
        if not path.endswith("/app") or name not in ("a", "b", "c"):
            return 404, "text/plain", b"not found"
        self.note(f"{name} asked")
        return 200, "text/html", _page(name)

    def rest_of(self, path: str) -> None:
        """Pages b and c: the rest of the document once the other was asked for (bounded), saying whether it was."""
        name = path.strip("/").split("/")[0]
        if path.endswith("/app") and name in self.asked:
            self.asked[name].set()
            self.together[name] = self.asked["c" if name == "b" else "b"].wait(TOGETHER_BOUND)


@pytest.fixture
def site() -> Iterator[tuple[str, Site]]:
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, kind, body = state.answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            half = len(body) // 2
            self.wfile.write(body[:half])  # the answer has begun: the browser commits the navigation
            self.wfile.flush()
            state.rest_of(self.path)
            self.wfile.write(body[half:])

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def test_waves_load_together_after_the_page_before_is_ready_and_one_settle_window_watches_all(
    browser: Any, site: tuple[str, Site], tmp_path: Path
) -> None:
    """A wave's pages load together (each is asked for once the one before it has begun to answer, never after it
    loaded), the later wave only once the first page is ready (its load event, which waits for its image), and every
    page's error logged after its own ready is seen: the one settle window watches each page past its own ready."""
    base, state = site
    names = {"staging": "a", "review": "b", "preview": "c"}
    envs = {env: {"url": f"{base}/{page}", "admin_url": ""} for env, page in names.items()}
    config = config_mod.load(write_config(tmp_path, environments=envs, browser={"tiles": [], "load_timeout": 30.0}))
    a, b, c = (Planned(config.environment(env)) for env in names)
    visits = visit_together(browser, config, [[a], [b, c]])
    assert [v.loaded for v in visits] == [True, True, True], [v.load_error for v in visits]
    assert state.together == {"b": True, "c": True}, state.log
    assert state.log.index("a image served") < min(state.log.index("b asked"), state.log.index("c asked")), state.log
    for visit, page in zip(visits, "abc", strict=True):
        assert any(e.kind == "console.error" and e.text == f"late {page}" for e in visit.events), visit.console_log()
        assert visit.screenshot and visit.settle == config.browser.settle
