"""An app that accepts connections and never answers: what a hung server looks like to every client."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def black_hole() -> Iterator[str]:
    """The base URL of a socket that listens and never accepts nor answers (the kernel completes each handshake)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(128)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
