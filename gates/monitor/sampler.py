"""The synthetic sampler: GET a list of URLs in turn at a steady rate for a while; one Sample per request.

Generic on purpose (URLs, rate, duration in; samples out): the monitoring window uses it, and a
traffic probe during a rollout needs the same loop. A slow answer delays the next request (one
request in flight at a time), so the achieved rate is recorded rather than assumed.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from gates.redact import redact


@dataclasses.dataclass(frozen=True)
class Sample:
    """One request: when (epoch seconds), to what, its status (None when no answer) and how long it took."""

    at: float
    url: str
    status: int | None
    seconds: float
    error: str = ""

    @property
    def failed(self) -> bool:
        # Synthetic requests go to paths that must answer 2xx: anything else is an error.
        return self.status is None or not 200 <= self.status < 400

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        return cls(
            float(data["at"]), str(data["url"]), data.get("status"), float(data["seconds"]), str(data.get("error", ""))
        )


def sample(
    urls: Sequence[str],
    rate: float,
    duration: float,
    *,
    timeout: float = 5.0,
    on_sample: Callable[[Sample], None] | None = None,
    stop_after: int | None = None,
    stop: threading.Event | None = None,
    client: httpx.Client | None = None,
) -> list[Sample]:
    """Request ``urls`` round robin, ``rate`` per second, for ``duration`` seconds (or ``stop_after`` samples)."""
    if not urls or rate <= 0 or duration <= 0:
        return []
    stop = stop or threading.Event()
    interval = 1.0 / rate
    start = time.monotonic()
    deadline = start + duration
    samples: list[Sample] = []
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    try:
        for n, url in enumerate(itertools.cycle(urls)):
            now = time.monotonic()
            if now >= deadline or stop.is_set() or (stop_after is not None and n >= stop_after):
                break
            one = _request(http, url, timeout)
            samples.append(one)
            if on_sample is not None:
                on_sample(one)
            # Pace to the schedule, not to the last answer: the rate stays steady when answers vary.
            next_at = start + (n + 1) * interval
            stop.wait(max(0.0, min(next_at, deadline) - time.monotonic()))
    finally:
        if own:
            http.close()
    return samples


def _request(client: httpx.Client, url: str, timeout: float) -> Sample:
    at = time.time()
    started = time.monotonic()
    try:
        response = client.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return Sample(at, url, None, time.monotonic() - started, redact(f"{type(exc).__name__}: {exc}")[:200])
    return Sample(at, url, response.status_code, time.monotonic() - started)
