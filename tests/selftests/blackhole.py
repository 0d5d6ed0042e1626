"""Servers that misbehave, or barely behave, for the tests of bounded waits: a black hole, a fixed page."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@pytest.fixture
def black_hole() -> Iterator[str]:
    """The base URL of a socket that listens and never accepts nor answers (the kernel completes each handshake)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(128)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@contextlib.contextmanager
def serving(body: bytes | Callable[[str], bytes], content_type: str = "text/html", status: int = 200) -> Iterator[str]:
    """A local server answering every GET with ``status`` and ``body`` (or ``body(its base URL)``); its base URL."""
    urls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            payload = body(urls[0]) if callable(body) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    urls.append(f"http://127.0.0.1:{server.server_address[1]}")
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield urls[0]
    finally:
        server.shutdown()
        server.server_close()
