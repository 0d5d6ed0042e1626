"""TCP ports: free ones of 127.0.0.1 for what gates starts (instances, front doors, clusters, sandboxes), and
which host and port a URL names (so two spellings of one address count as one)."""

from __future__ import annotations

import collections
import random
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

from gates.core.errors import GatesError

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


_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000


def lasting_port() -> int:
    """A free port of 127.0.0.1 below the kernel's ephemeral range, for a config that binds it later (minutes
    later, in another process): bind(0) and outgoing connections take their ports from the ephemeral range,
    so one handed out from there may be taken by the time it is bound (a sandbox's cluster met that)."""
    try:
        ceiling = int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ceiling = 32_768
    with _LOCK:
        for _ in range(_TRIES):
            port = random.randrange(_LOWEST, max(ceiling, _LOWEST + 1))
            if port in _RECENT:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _RECENT.append(port)
            return port
    return free_port()


# Names of this machine's loopback interface: a URL on any of them reaches the same listener.
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "0:0:0:0:0:0:0:1"})


def port_problem(url: str) -> str | None:
    """Why ``url``'s port is not a TCP port (1-65535), or None when it is (or the URL names none)."""
    if not url:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return f"expected a port in 1-65535 in {url!r}"
    if port == 0:
        return f"expected a port in 1-65535 in {url!r}, got 0"
    return None


def url_identity(url: str) -> str:
    """``scheme://host:port/path`` of ``url`` as the network sees it: the host lower-cased, every loopback
    name one host, the scheme's default port written out, no trailing slash. Two URLs with the same identity
    reach the same place."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host = "localhost" if host in _LOOPBACK else host
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    return f"{parts.scheme.lower()}://{host}:{port}{parts.path.rstrip('/')}"
