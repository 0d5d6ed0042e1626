"""The rollback figures' poller: when all traffic is served by another release than the bad one, seen by a client
of its own.

A process of its own (``python -m gates.bench.switchpoll URL BAD``), started and answering before the rollback is
called, as a team's users are: it asks ``/health`` through HAProxy back to back on one kept-alive connection and
ends at the first ``CONFIRMATIONS`` answers in a row from a release other than ``BAD`` (HAProxy's ``X-Release``),
saying on stdout when the first of them arrived (``time.monotonic``: the system's monotonic clock, the same in
every process of the machine). Why not a thread of the bench: it shared the bench's interpreter (one GIL) with the
rollback it timed, and opened its client after the clock started (httpx builds a TLS context first): on a busy
machine that put 20-150 ms of the bench's own into the figure.

Its end is an answer's arrival, never a request's departure: a request sent before the switch and answered after
it counts from its answer, so the figure is never less than "the call -> all traffic served by the previous
release".
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from types import TracebackType
from urllib.parse import urlsplit

CONFIRMATIONS = 10  # answers in a row from another release: all traffic, not one instance of several
TIMEOUT = 60.0  # seconds the poller lives: a rollback that never serves ends in a verdict
REQUEST_TIMEOUT = 2.0  # seconds one request may take


def poll(url: str, bad: str) -> int:
    """Ask ``url``'s /health until CONFIRMATIONS answers in a row come from another release than ``bad``; print
    ``ready`` after the first answer, then one JSON line: the monotonic time the streak's first answer arrived,
    and the requests made. 0, or 1 after TIMEOUT (said on stderr)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    deadline = time.monotonic() + TIMEOUT
    conn = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT)
    ready, streak, first, asked = False, 0, 0.0, 0
    while streak < CONFIRMATIONS:
        if time.monotonic() > deadline:
            print(f"{url} still served release {bad} (or nothing) after {TIMEOUT:g}s", file=sys.stderr)
            return 1
        served = _ask(conn)
        answered = time.monotonic()
        asked += 1
        if served is None:
            conn.close()  # reconnects on the next request
        elif not ready:
            ready = True
            print("ready", flush=True)
        good = served is not None and served != bad
        first = first if good and streak else answered
        streak = streak + 1 if good else 0
    conn.close()
    print(json.dumps({"first_answer": first, "requests": asked}), flush=True)
    return 0


def _ask(conn: http.client.HTTPConnection) -> str | None:
    """The release that answered one GET /health (its X-Release), or None when nothing (or no release) did."""
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        response.read()
    except (OSError, http.client.HTTPException):
        return None
    return response.getheader("X-Release")


class SwitchPoller:
    """The poller as a child process: ``with SwitchPoller(url, bad) as poller`` returns once it has an answer (the
    clock may start); ``poller.first_answer()`` waits for its verdict."""

    def __init__(self, url: str, bad: int) -> None:
        argv = [sys.executable, "-m", "gates.bench.switchpoll", url, str(bad)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def __enter__(self) -> SwitchPoller:
        assert self.proc.stdout is not None
        # Bounded by the child's own TIMEOUT: it exits, closing stdout, if nothing ever answers.
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the switch poller got no answer: {self._said()}")
        return self

    def first_answer(self) -> float:
        """The monotonic time the first of CONFIRMATIONS answers in a row from another release arrived."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if self.proc.wait(timeout=TIMEOUT) != 0 or not line.strip():
            raise RuntimeError(f"the switch poller ended without a verdict: {self._said()}")
        return float(json.loads(line)["first_answer"])

    def _said(self) -> str:
        self.proc.kill()
        _, err = self.proc.communicate(timeout=TIMEOUT)
        return err.strip()[-500:] or f"exit code {self.proc.returncode}"

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


if __name__ == "__main__":
    sys.exit(poll(sys.argv[1], sys.argv[2]))
