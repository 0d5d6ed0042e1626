"""Free TCP ports of 127.0.0.1 for what gates starts: instances, front doors, clusters, sandboxes."""

from __future__ import annotations

import collections
import socket
import threading

from gates.errors import GatesError

# Why remember: a port is free only until someone binds it, and the kernel may hand a port just released to
# the next bind(0). Two instances started together, or the two environments of one config, asked one after the
# other before either bound, could get the same port; this process never hands out one of its last 1,024 again.
_RECENT: collections.deque[int] = collections.deque(maxlen=1024)
_LOCK = threading.Lock()
_TRIES = 64


def free_port() -> int:
    """A port of 127.0.0.1 that is free now and that this process has not handed out recently."""
    with _LOCK:
        for _ in range(_TRIES):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in _RECENT:
                _RECENT.append(port)
                return port
    raise GatesError(f"no free TCP port of 127.0.0.1 after {_TRIES} tries")
