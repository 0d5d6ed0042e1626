"""A local HTTP server speaking the Prometheus HTTP API's query endpoint, for Fly's metrics (api.fly.io is never reached).

``GET /api/v1/query?query=<selector>[<N>s]&time=<epoch>`` with ``Authorization: Bearer <token>``: a range
selector evaluated at ``time`` (default now) answers the raw samples of each matching series in
``(time - N, time]``, as Prometheus (and VictoriaMetrics, behind Fly's API) answers it:
``{"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {"__name__": ..., ...},
"values": [[<epoch>, "<number>"], ...]}]}}``. Label matchers ``=`` and ``=~`` (anchored RE2-like
regex, Python's ``re`` here) are understood, with the metric's name outside or inside the braces. A
wrong or missing token answers 401 with an error body; ``fail`` answers a canned status and body instead;
``hang`` holds every answer until the server is closed (a client's timeout must end the wait). Each
request's path and headers are recorded. ``monitor_window`` writes the evidence of a monitor window, whose
requests Fly's readings are set against.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gates.monitor.sampler import Sample

SELECTOR = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)?\{(?P<matchers>[^}]*)\}\[(?P<seconds>\d+)s\]$")
MATCHER = re.compile(r'\s*(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*,?')


class PrometheusFake:
    """Series of raw samples, answered to range-selector queries; ``token`` is the bearer token it accepts."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.series: list[tuple[dict[str, str], list[tuple[float, float]]]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.fail: tuple[int, Any] | None = None  # (status, JSON body or raw text) answered to every query
        self.hang = False
        self.on_request: Callable[[int], None] | None = None  # hears the number of each request, before answering
        self._released = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append((self.path, dict(self.headers)))
                if fake.on_request is not None:
                    fake.on_request(len(fake.requests))
                if fake.hang:
                    fake._released.wait(60)
                status, body = fake.answer(self.path, self.headers.get("Authorization", ""))
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, name: str, labels: dict[str, str], samples: list[tuple[float, float]]) -> None:
        """One series' raw samples (epoch seconds, value)."""
        self.series.append(({"__name__": name, **labels}, sorted(samples)))

    def answer(self, path: str, authorization: str) -> tuple[int, Any]:
        if authorization != f"Bearer {self.token}":
            return 401, {"status": "error", "errorType": "unauthorized", "error": f"bad credentials: {authorization}"}
        if self.fail is not None:
            return self.fail
        url = urlsplit(path)
        if url.path != "/api/v1/query":
            return 404, {"status": "error", "errorType": "not_found", "error": f"no endpoint {url.path}"}
        params = parse_qs(url.query)
        query = params.get("query", [""])[0]
        at = float(params.get("time", [str(time.time())])[0])
        found = SELECTOR.match(query.strip())
        if found is None:
            return 400, {"status": "error", "errorType": "bad_data", "error": f"unsupported query {query!r}"}
        wanted = [(m["label"], m["op"], m["value"]) for m in MATCHER.finditer(found["matchers"])]
        if found["name"]:
            wanted.append(("__name__", "=", found["name"]))
        since = at - int(found["seconds"])
        result = [
            {"metric": labels, "values": [[t, repr(v)] for t, v in samples if since < t <= at]}
            for labels, samples in self.series
            if all(_matches(labels.get(label, ""), op, value) for label, op, value in wanted)
        ]
        result = [r for r in result if r["values"]]
        return 200, {"status": "success", "data": {"resultType": "matrix", "result": result}}

    def __enter__(self) -> PrometheusFake:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()


def _matches(got: str, op: str, value: str) -> bool:
    return got == value if op == "=" else re.fullmatch(value, got) is not None


def machine_memory(
    fake: PrometheusFake, app: str, instance: str, start: float, end: float, used: Callable[[float], float],
    *, total: float = 512 * 2**20, every: float = 15.0, region: str = "iad",
) -> None:  # fmt: skip
    """One machine's two memory series, as Fly publishes them, every ``every`` seconds from ``start`` to ``end``:
    ``used(t)`` bytes in use of ``total``."""
    times = [start + i * every for i in range(int((end - start) // every) + 1)]
    labels = {"app": app, "region": region, "host": "a1b2", "instance": instance}
    fake.add("fly_instance_memory_mem_total", labels, [(t, total) for t in times])
    fake.add("fly_instance_memory_mem_available", labels, [(t, total - used(t)) for t in times])


def two_releases(
    fake: PrometheusFake, app: str, machines: tuple[str, ...], released: float, updated: float, until: float,
    *, before_mb: float = 200, now_mb: float = 205,
) -> None:  # fmt: skip
    """Ten minutes of the release replaced on ``machines`` up to ``released`` (the new release's creation), one
    reading of it taken during the rollout but before each machine took the new release at ``updated`` (far bigger:
    it must count on neither side), then the new release until ``until``; the i-th machine holds i MB more."""
    for i, machine in enumerate(machines):
        machine_memory(fake, app, machine, released - 600, released - 1, lambda t, i=i: (before_mb + i) * 2**20)
        machine_memory(fake, app, machine, released + 10, released + 10, lambda t: 480 * 2**20)
        machine_memory(fake, app, machine, updated + 5, until, lambda t, i=i: (now_mb + i) * 2**20)


def monitor_window(folder: Path, start: float, end: float, *, rate: float = 2.0) -> Path:
    """A monitor window's evidence as `gates monitor` leaves it (``monitor.json`` and its samples, one JSON line per
    request): ``rate`` requests a second from ``start`` to ``end``, each answered 200 in 50 ms. Its JSON's path."""
    folder.mkdir(parents=True, exist_ok=True)
    count = int((end - start) * rate)
    taken = [Sample(start + i / rate, "https://staging.example/health", 200, 0.05) for i in range(count)]
    (folder / "monitor-samples.jsonl").write_text("".join(json.dumps(s.as_dict()) + "\n" for s in taken))
    data = {"env": "staging", "seconds": end - start, "rate": rate, "samples": "monitor-samples.jsonl", "memory": None,
            "stats": {"source": "synthetic"}}  # fmt: skip
    (folder / "monitor.json").write_text(json.dumps(data))
    return folder / "monitor.json"
