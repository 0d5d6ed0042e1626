"""The one sampling engine: GET a list of URLs in turn at a steady rate for a while; one Sample per request.

Generic on purpose (URLs, rate, duration in; samples out): the monitoring window uses it at a few
requests a second, one in flight, and the traffic probe of a rollout (``gates.gaterun.probe``) at hundreds a
second over several keep-alive connections. Requests are paced to a schedule, so a slow answer
delays only its own connection's next request and the achieved rate is recorded, never assumed.

The client is the standard library's ``http.client`` on one keep-alive connection per worker: about
a quarter of the CPU of an httpx client per request (measured: 116 us against 398 us on the local
platform), which is what lets the probe sample finely at a small cost.
"""

from __future__ import annotations

import dataclasses
import http.client
import ipaddress
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import SplitResult, urlsplit

from gates.core.health import RELEASE_HEADER
from gates.core.redact import redact

SERVER_HEADER = "X-Gates-Server"  # the instance that answered (the local platform's HAProxy adds it)
# Resolving a host name is not bounded by the socket's timeout: the resolver's own default bounds it
# (resolv.conf(5): 5 s a try, 2 tries).
RESOLVE_TIMEOUT = 10.0


def request_bound(url: str, timeout: float) -> float:
    """The longest one request to ``url`` can take before it is recorded, answered or failed.

    ``timeout`` is the socket's (``http.client``): it bounds the connect, then each read of the answer
    (the small answers probed are read in two: the head, the body); a host name is resolved first,
    under the resolver's own bound.
    """
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
        resolve = 0.0
    except ValueError:
        resolve = RESOLVE_TIMEOUT
    return resolve + 3 * timeout


@dataclasses.dataclass(frozen=True)
class Sample:
    """One request: when it was sent (epoch seconds), to what, its status (None when no answer), how long it
    took, and the release and instance that answered, when the response names them."""

    at: float
    url: str
    status: int | None
    seconds: float
    error: str = ""
    release: str = ""
    server: str = ""

    @property
    def failed(self) -> bool:
        # Synthetic requests go to paths that must answer 2xx: anything else is an error.
        return self.status is None or not 200 <= self.status < 400

    @property
    def answered_at(self) -> float:
        return self.at + self.seconds

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        return cls(
            float(data["at"]), str(data["url"]), data.get("status"), float(data["seconds"]),
            str(data.get("error", "")), str(data.get("release", "")), str(data.get("server", "")),
        )  # fmt: skip


def sample(
    urls: Sequence[str],
    rate: float,
    duration: float,
    *,
    timeout: float = 5.0,
    on_sample: Callable[[Sample], None] | None = None,
    stop_after: int | None = None,
    stop: threading.Event | None = None,
    concurrency: int = 1,
) -> list[Sample]:
    """Request ``urls`` round robin, ``rate`` per second, for ``duration`` seconds (or ``stop_after`` samples).

    ``concurrency`` connections share the schedule (connection ``i`` sends requests ``i``, ``i + c``, ...):
    with one, a slow answer delays every next request; with several, only its own connection's.
    ``on_sample`` is called once per sample, never from two connections at once. Samples come back in
    the order they were sent.
    """
    if not urls or rate <= 0 or duration <= 0:
        return []
    stop = stop or threading.Event()
    schedule = _Schedule(tuple(urls), rate, time.monotonic(), duration, stop_after, stop, timeout)
    samples: list[Sample] = []
    lock = threading.Lock()

    def record(one: Sample) -> None:
        with lock:
            samples.append(one)
            if on_sample is not None:
                on_sample(one)

    workers = max(1, concurrency)
    if workers == 1:
        schedule.run(0, 1, record)
    else:
        threads = [
            threading.Thread(target=schedule.run, args=(i, workers, record), name=f"sampler {i}", daemon=True)
            for i in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    samples.sort(key=lambda s: s.at)
    return samples


@dataclasses.dataclass(frozen=True)
class _Schedule:
    urls: tuple[str, ...]
    rate: float
    start: float
    duration: float
    stop_after: int | None
    stop: threading.Event
    timeout: float

    def run(self, first: int, step: int, record: Callable[[Sample], None]) -> None:
        """Send requests ``first``, ``first + step``, ... each at its time on the schedule, on one connection."""
        deadline = self.start + self.duration
        connections = _Connections(self.timeout)
        try:
            for n in itertools.count(first, step):
                # Pace to the schedule, not to the last answer: the rate stays steady when answers vary.
                due = self.start + n / self.rate
                self.stop.wait(max(0.0, min(due, deadline) - time.monotonic()))
                if time.monotonic() >= deadline or self.stop.is_set():
                    break
                if self.stop_after is not None and n >= self.stop_after:
                    break
                record(connections.get(self.urls[n % len(self.urls)]))
        finally:
            connections.close()


class _Connections:
    """One keep-alive connection per origin; a connection that failed is closed and opened again on next use."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.open: dict[tuple[str, str], http.client.HTTPConnection] = {}

    def connection(self, parts: SplitResult) -> http.client.HTTPConnection:
        key = (parts.scheme, parts.netloc)
        conn = self.open.get(key)
        if conn is None:
            host, port = parts.hostname or "", parts.port
            kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            conn = self.open[key] = kind(host, port, timeout=self.timeout)
        return conn

    def get(self, url: str) -> Sample:
        parts = urlsplit(url)
        conn = self.connection(parts)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        at = time.time()
        started = time.monotonic()
        try:
            conn.request("GET", target)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()  # the next request opens a fresh connection
            error = redact(f"{type(exc).__name__}: {exc}")[:200]
            return Sample(at, url, None, time.monotonic() - started, error)
        release, server = response.getheader(RELEASE_HEADER) or "", response.getheader(SERVER_HEADER) or ""
        return Sample(at, url, response.status, time.monotonic() - started, "", release, server)

    def close(self) -> None:
        for conn in self.open.values():
            conn.close()
        self.open.clear()
