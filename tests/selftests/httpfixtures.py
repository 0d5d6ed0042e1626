"""Local HTTP servers for self-tests (stdlib http.server in a thread on 127.0.0.1).

- ``answering(answer)``: any server, ``answer(method, path, body)`` giving each request's status, content type
  and payload (a form, a page and its stylesheet, a fixed body);
- ``Receiver``: a Slack-compatible webhook receiver keeping every JSON body it gets (answers 200);
- ``Target``: an app stand-in whose faults are chosen per request number or path (status, delay);
- ``Canned``: answers every GET with a fixed status and JSON body (a Prometheus HTTP API, say).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Answer = Callable[[str, str, bytes], tuple[int, str, bytes]]  # (method, path, body) -> (status, type, payload)


@contextlib.contextmanager
def answering(answer: Answer) -> Iterator[str]:
    """A server answering each GET and POST with ``answer(method, path, body)``; its base URL. It stops when the
    block ends."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, kind, payload = answer(method, self.path, self.rfile.read(length) if length else b"")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclasses.dataclass
class Receiver:
    status: int = 200
    messages: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    url: str = ""


@dataclasses.dataclass
class Target:
    """Request n (0-based, counted over every path) fails with 500 when ``fail(n)``; ``delays`` per path in seconds."""

    fail: Callable[[int], bool] = lambda n: False
    delays: dict[str, float] = dataclasses.field(default_factory=dict)
    count: int = 0
    url: str = ""


@pytest.fixture
def servers() -> Iterator[dict[str, Callable[..., Any]]]:
    """Factories ``receiver()``, ``target(...)``, ``canned(status, body)``; every server stops at teardown."""
    lock = threading.Lock()
    with contextlib.ExitStack() as started:

        def json_server(handle: Callable[[str, bytes], tuple[int, bytes]]) -> str:
            """A server answering ``handle(path, body)``'s status and payload as JSON; its URL."""

            def answer(method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
                status, payload = handle(path, body)
                return status, "application/json", payload

            return started.enter_context(answering(answer))

        def receiver(status: int = 200) -> Receiver:
            r = Receiver(status)

            def handle(path: str, body: bytes) -> tuple[int, bytes]:
                with lock:
                    r.messages.append(json.loads(body or b"{}"))
                return r.status, b"ok"

            r.url = json_server(handle)
            return r

        def target(fail: Callable[[int], bool] = lambda n: False, delays: dict[str, float] | None = None) -> Target:
            t = Target(fail, delays or {})

            def handle(path: str, body: bytes) -> tuple[int, bytes]:
                with lock:
                    n = t.count
                    t.count += 1
                delay = t.delays.get(path.split("?")[0], 0.0)
                if delay:
                    time.sleep(delay)  # the fault under test: a slow endpoint
                if t.fail(n):
                    return 500, b'{"status": "error"}'
                return 200, b'{"status": "ok"}'

            t.url = json_server(handle)
            return t

        def canned(status: int, body: Any) -> tuple[str, list[str]]:
            seen: list[str] = []

            def handle(path: str, raw: bytes) -> tuple[int, bytes]:
                seen.append(path)
                return status, (body if isinstance(body, bytes) else json.dumps(body).encode())

            return json_server(handle), seen

        yield {"receiver": receiver, "target": target, "canned": canned}
