"""Local HTTP servers for self-tests (stdlib http.server in a thread on 127.0.0.1).

- ``Receiver``: a Slack-compatible webhook receiver keeping every JSON body it gets (answers 200);
- ``Target``: an app stand-in whose faults are chosen per request number or path (status, delay);
- ``Canned``: answers every GET with a fixed status and JSON body (a Prometheus HTTP API, say).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class _Server:
    def __init__(self, handle: Callable[[BaseHTTPRequestHandler, str, bytes], tuple[int, bytes]]) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = handle(self, method, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        outer.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


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
    started: list[_Server] = []
    lock = threading.Lock()

    def receiver(status: int = 200) -> Receiver:
        r = Receiver(status)

        def handle(h: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, bytes]:
            with lock:
                r.messages.append(json.loads(body or b"{}"))
            return r.status, b"ok"

        started.append(server := _Server(handle))
        r.url = server.url
        return r

    def target(fail: Callable[[int], bool] = lambda n: False, delays: dict[str, float] | None = None) -> Target:
        t = Target(fail, delays or {})

        def handle(h: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, bytes]:
            with lock:
                n = t.count
                t.count += 1
            delay = t.delays.get(h.path.split("?")[0], 0.0)
            if delay:
                time.sleep(delay)  # the fault under test: a slow endpoint
            if t.fail(n):
                return 500, b'{"status": "error"}'
            return 200, b'{"status": "ok"}'

        started.append(server := _Server(handle))
        t.url = server.url
        return t

    def canned(status: int, body: Any) -> tuple[str, list[str]]:
        seen: list[str] = []

        def handle(h: BaseHTTPRequestHandler, method: str, raw: bytes) -> tuple[int, bytes]:
            seen.append(h.path)
            return status, (body if isinstance(body, bytes) else json.dumps(body).encode())

        started.append(server := _Server(handle))
        return server.url, seen

    yield {"receiver": receiver, "target": target, "canned": canned}
    for server in started:
        server.close()
