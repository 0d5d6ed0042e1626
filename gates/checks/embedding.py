"""Embedding headers: the app's pages let the Admin origins frame them (CSP frame-ancestors, X-Frame-Options)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from gates.checks.http import Requests
from gates.core.measurement import Measurement

# httpx is imported where a request is made: every gate's collection imports this module, and httpx (with
# the command line it loads) is 50-60 ms of CPU, paid by every gate that makes no request through it.
if TYPE_CHECKING:
    import httpx


def frame_ancestors(csp_headers: Sequence[str]) -> list[list[str]] | None:
    """The source lists of every frame-ancestors directive (one per CSP header), or None when none is sent."""
    found: list[list[str]] = []
    for header in csp_headers:
        for directive in header.split(";"):
            words = directive.split()
            if words and words[0].lower() == "frame-ancestors":
                found.append(words[1:])
    return found or None


def source_admits(source: str, origin: str, own_origin: str) -> bool:
    """Whether one CSP source expression admits ``origin`` (scheme, host with ``*.`` wildcard, port)."""
    low = source.lower()
    if low == "*":
        return True
    if low == "'self'":
        return origin == own_origin
    if low.startswith("'"):
        return False  # 'none' and the keywords that do not name an ancestor
    want = urlsplit(origin)
    if low.endswith(":") and "/" not in low:
        return want.scheme == low[:-1]
    parts = urlsplit(low if "://" in low else f"{want.scheme}://{low}")
    if parts.scheme != want.scheme:
        return False
    host = parts.hostname or ""
    want_host = want.hostname or ""
    host_ok = host == want_host or (host.startswith("*.") and want_host.endswith(host[1:]))
    default = _DEFAULT_PORTS.get(want.scheme)
    want_port = want.port or default
    if parts.netloc.endswith(":*"):
        return host_ok
    try:
        port = parts.port or default
    except ValueError:
        return False
    return host_ok and port == want_port


_DEFAULT_PORTS = {"http": 80, "https": 443}


def embedding_allowed(client: httpx.Client, path: str, origins: Sequence[str], timeout: float) -> Measurement:
    """The page at ``path`` sends a CSP frame-ancestors admitting every origin, and no X-Frame-Options against them."""
    url = str(client.base_url.join(path))
    problems: list[str] = []
    observed = "no answer"
    if not origins:
        problems.append("no Admin origin configured (environments.<env>.admin_url or [browser] admin_origins)")
    response, error = Requests(client, timeout).get(path)
    if response is None:
        problems.append(f"GET {url} -> {error}")
    else:
        csp = response.headers.get_list("content-security-policy")
        xfo = response.headers.get_list("x-frame-options")
        lists = frame_ancestors(csp)
        observed = f"frame-ancestors {' | '.join(' '.join(s) for s in lists) if lists else '(none)'}; X-Frame-Options {', '.join(xfo) or '(none)'}"
        if response.status_code != 200:
            problems.append(f"GET {url} -> {response.status_code}, expected 200")
        own = f"{client.base_url.scheme}://{client.base_url.netloc.decode()}"
        if lists is None:
            problems.append(
                f"GET {url} sends no Content-Security-Policy frame-ancestors: Admin cannot be named as allowed"
            )
        for origin in origins:
            # Every policy must admit the origin: several CSP headers are all enforced.
            if lists is not None and not all(any(source_admits(s, origin, own) for s in sources) for sources in lists):
                problems.append(f"Content-Security-Policy frame-ancestors of {url} does not admit {origin}")
            for value in xfo:
                if value.strip().upper() in ("DENY", "SAMEORIGIN") and not (
                    value.strip().upper() == "SAMEORIGIN" and origin == own
                ):
                    problems.append(f"X-Frame-Options: {value.strip()} on {url} blocks embedding in {origin}")
    return Measurement(
        name="embedding headers",
        question="the app's pages let every Admin origin embed them (CSP frame-ancestors, no blocking X-Frame-Options)",
        observed=observed,
        expected=f"frame-ancestors admitting {', '.join(origins) or '(no origin configured)'}; no X-Frame-Options DENY/SAMEORIGIN",
        ok=not problems,
        source=f"GET {url}",
        problems=problems,
    )
