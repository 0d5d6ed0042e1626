"""The gate's HTTP client: a black-holed target costs one timeout per gate run, not one per molecule.

Every molecule's series of requests already stops at its first timeout (gates.checks.http); across
molecules, the client remembers the first request of the run to each origin that got no answer and
fails every later one to that origin at once, naming it (an instance addressed on its own port is an
origin of its own: a silent instance is named for itself, never for a healthy one beside it). The gate's
browser visit shares that one deadline, both ways: a request that got no answer makes its origin silent
for the rest of the gate (``no_answer_from``), and the visit of a silent origin is not tried (``silent``:
no browser is even started); when the page the visit opened gave no answer within
``[browser] load_timeout``, requests to that origin fail at once. The health molecules run first
(gates.gaterun.plugin.selection), so a gate against an app that accepts and never answers ends within
one ``[app] health_timeout``, whatever the number of molecules.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable
from typing import Any, NoReturn

import httpx

NOT_TRIED = "not tried: "
# Origins that gave no answer earlier in this process (a gate's child pytest), and to what.
_SILENT: dict[str, str] = {}


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.host}:{url.port or {'https': 443}.get(url.scheme, 80)}"


def no_answer_from(url: str, what: str) -> None:
    """Say that ``what`` (a request to ``url``) got no answer: later requests of this gate to its origin fail at
    once naming it, rather than each waiting out its own bound."""
    _SILENT.setdefault(_origin(httpx.URL(url)), what)


def silent(url: str) -> str:
    """What got no answer from ``url``'s origin earlier in this gate; empty when nothing did."""
    return _SILENT.get(_origin(httpx.URL(url)), "")


class Breaker(httpx.BaseTransport):
    """Passes requests to ``inner`` until one to an origin times out; from then on, refuses the later requests
    to that origin at once saying which. Another origin (another instance, addressed on its own port) is still
    asked: one silent instance is never blamed on a healthy one."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.tripped: dict[str, str] = {}  # origin -> its first request that got no answer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        origin = _origin(request.url)
        tripped = self.tripped.get(origin) or _SILENT.get(origin, "")
        if tripped:
            raise httpx.ConnectTimeout(f"{NOT_TRIED}{tripped} got no answer earlier in this gate", request=request)
        try:
            return self.inner.handle_request(request)
        except httpx.TimeoutException:
            said = f"{request.method} {request.url}"
            self.tripped.setdefault(origin, said)
            bound = request.extensions.get("timeout", {}).get("read")
            no_answer_from(str(request.url), said + (f" (within {bound:g}s)" if bound else ""))
            raise

    def close(self) -> None:
        self.inner.close()


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context of this process, verifying as httpx does by default (certifi's CAs). Why shared:
    building one loads the CA bundle, about 20 ms of CPU, and httpx builds a new one per client, even for a
    plain-HTTP health check."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def no_answer(request: httpx.Request, exc: httpx.TransportError, timeout: float) -> str:
    """One line for a request that got no answer: what was asked, and why nothing came back."""
    asked = f"{request.method} {request.url}"
    said = " ".join(str(exc).split()) or type(exc).__name__
    if said.startswith(NOT_TRIED):
        return f"{asked}: {said}"
    if isinstance(exc, httpx.TimeoutException):
        return f"{asked}: no answer within {timeout:g}s ({type(exc).__name__})"
    return f"{asked}: {type(exc).__name__}: {said}"


class MoleculeClient(httpx.Client):
    """The HTTP client of a team's molecules: a request that gets no answer (a timeout, a refused or reset
    connection) fails the molecule with one line naming the request and why (``fail``), never an httpx
    traceback. An answer, whatever its status, is the molecule's to judge."""

    def __init__(self, *, fail: Callable[[str], NoReturn], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fail = fail
        self._bound = float(kwargs.get("timeout") or 0)

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        try:
            return super().send(request, **kwargs)
        except httpx.TransportError as exc:
            reason = no_answer(request, exc, self._bound)
        self._fail(reason)  # outside the except: the failure carries no chained httpx traceback


def molecule_client(base_url: str, timeout: float, fail: Callable[[str], NoReturn]) -> MoleculeClient:
    """A ``MoleculeClient`` on ``base_url``, bounded like the gate's own client and sharing its TLS context."""
    transport = Breaker(httpx.HTTPTransport(verify=tls_context()))
    return MoleculeClient(fail=fail, base_url=base_url, timeout=timeout, follow_redirects=False, transport=transport)


def gate_client(base_url: str, timeout: float) -> httpx.Client:
    """An httpx client on ``base_url``: bounded, not following redirects, one timeout per gate run."""
    transport = Breaker(httpx.HTTPTransport(verify=tls_context()))
    return httpx.Client(base_url=base_url, timeout=timeout, follow_redirects=False, transport=transport)
