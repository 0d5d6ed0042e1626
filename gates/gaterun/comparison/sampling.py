"""The same requests to both releases, interleaved.

Requests alternate between the two releases (baseline then candidate, then candidate then baseline,
...), route by route, each side's instances in turn: a busy machine's noise lands on both alike, and
neither side always goes first. One request per route and side warms its connection first and is not
counted. Every request is bounded by the app's health timeout; a request that fails is said per route.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from gates.gaterun.comparison.baseline import Side

# httpx is imported where a request is made: every gate's collection imports this module, and httpx (with
# the command line it loads) is 50-60 ms of CPU, paid by every gate that makes no request through it.
if TYPE_CHECKING:
    import httpx


@dataclasses.dataclass(frozen=True)
class Timing:
    """One request of the comparison: which side, route, when (epoch seconds), how long, its status."""

    side: str  # "baseline" | "candidate"
    route: str
    at: float
    seconds: float
    status: int | None


@dataclasses.dataclass(frozen=True)
class Sampled:
    timings: tuple[Timing, ...]
    failures: dict[str, str]  # route -> the first failed request's story

    def seconds(self, side: str) -> dict[str, list[float]]:
        """Route -> durations of ``side``'s answered requests."""
        found: dict[str, list[float]] = {}
        for t in self.timings:
            if t.side == side and t.status is not None and t.status < 400:
                found.setdefault(t.route, []).append(t.seconds)
        return found


def interleaved(
    baseline: Side,
    candidate: Side,
    routes: Sequence[str],
    samples: int,
    timeout: float,
    on_timing: Callable[[Timing], None] | None = None,
) -> Sampled:
    """``samples`` requests per route to each release, alternating between them; ``on_timing`` hears each
    counted request as it ends (the memory sampler counts them)."""
    timings: list[Timing] = []
    failures: dict[str, str] = {}
    sides = {"baseline": baseline, "candidate": candidate}
    clients = {name: [_client(url, timeout) for url in side.urls] for name, side in sides.items()}
    try:
        for route in routes:
            for name in sides:  # warm each connection once: a first request pays its setup
                _get(clients[name][0], route)
            for n in range(samples):
                order = ("baseline", "candidate") if n % 2 == 0 else ("candidate", "baseline")
                for name in order:
                    pool = clients[name]
                    timing, error = _timed(pool[n % len(pool)], name, route)
                    timings.append(timing)
                    if on_timing is not None:
                        on_timing(timing)
                    if error and route not in failures:
                        failures[route] = f"{name} ({sides[name].release}): {error}"
    finally:
        for pool in clients.values():
            for client in pool:
                client.close()
    return Sampled(tuple(timings), failures)


def _client(url: str, timeout: float) -> httpx.Client:
    import httpx

    return httpx.Client(base_url=url, timeout=timeout, follow_redirects=False)


def _get(client: httpx.Client, route: str) -> None:
    import httpx

    with contextlib.suppress(httpx.HTTPError):  # the counted requests say it
        client.get(route)


def _timed(client: httpx.Client, side: str, route: str) -> tuple[Timing, str]:
    import httpx

    at = time.time()
    start = time.perf_counter()
    try:
        response = client.get(route)
    except httpx.HTTPError as exc:
        return Timing(side, route, at, time.perf_counter() - start, None), f"no answer ({type(exc).__name__})"
    seconds = time.perf_counter() - start
    error = f"HTTP {response.status_code}" if response.status_code >= 400 else ""
    return Timing(side, route, at, seconds, response.status_code), error
