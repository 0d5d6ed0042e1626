"""Servers that misbehave, or barely behave, for the tests of bounded waits: a black hole, a fixed page."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator

import pytest

from tests.selftests.httpfixtures import answering


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

    def answer(method: str, path: str, sent: bytes) -> tuple[int, str, bytes]:
        return status, content_type, body(urls[0]) if callable(body) else body

    with answering(answer) as url:
        urls.append(url)
        yield url
