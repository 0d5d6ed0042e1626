"""Fixtures for self-tests of platforms: configs of local environments, faulty demo releases, a request loop.

Environments made here read their database URL from ``DEMO_DB_URL``, set to an address where
nothing listens: the app serves everything but its database routes (analytics health answers
503), which is all a platform test needs, without a Postgres cluster.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from gates.config import Config, load
from gates.platforms.local import down
from tests.selftests.demo import demo_copy, free_port, write_config

DEMO_DB_ENV = "DEMO_DB_URL"
UNREACHABLE_DB_URL = "postgresql://demo@127.0.0.1:9/demo"  # port 9 (discard): refused at once


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    """A function returning a TCP port of 127.0.0.1 that is free right now."""
    return free_port


@pytest.fixture
def make_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Config]]:
    """A factory of configs with local environments staging and production on free ports, state in tmp.

    Keyword arguments are settings of both environments (``instances=1``, ``strategy="immediate"``).
    Teardown stops everything gates started for every config made.
    """
    monkeypatch.setenv(DEMO_DB_ENV, UNREACHABLE_DB_URL)
    monkeypatch.delenv("GATES_STATE_DIR", raising=False)  # the state must stay in tmp
    made: list[Config] = []

    def make(**settings: Any) -> Config:
        table = {"database_url_env": DEMO_DB_ENV, **settings}
        path = write_config(tmp_path / f"config-{len(made)}", environments={"staging": table, "production": table})
        config = load(path)
        made.append(config)
        return config

    yield make
    for config in made:
        down(config)


@pytest.fixture
def faulty_demo(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """A factory of demo app copies with a faults.json (see examples/demo/app.py): faulty releases to deploy."""
    counter = itertools.count()

    def make(faults: dict[str, Any]) -> Path:
        return demo_copy(tmp_path / f"faulty-{next(counter)}", faults)

    return make


@dataclasses.dataclass
class RequestLoop:
    """GET one URL of 127.0.0.1 in a thread as fast as it answers, bounded in count and time.

    Counts answers that are 200 and those that are not (or never came), and the releases
    (``X-Release``) that answered: a zero-downtime probe in its simplest form.
    """

    url: str
    max_requests: int = 20_000
    max_seconds: float = 30.0
    ok: int = 0
    failed: int = 0
    releases: set[int] = dataclasses.field(default_factory=set)
    errors: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if urlsplit(self.url).hostname != "127.0.0.1":
            raise ValueError(f"{self.url}: the request loop only sends to 127.0.0.1")
        self._stop = threading.Event()
        self._first = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"request loop {self.url}", daemon=True)

    def __enter__(self) -> RequestLoop:
        self._thread.start()
        if not self._first.wait(timeout=10):
            self.__exit__()
            raise AssertionError(f"{self.url}: no answer within 10 s before the loop's measurement began")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        with httpx.Client(timeout=5.0) as client:
            while not self._stop.is_set() and self.ok + self.failed < self.max_requests and time.monotonic() < deadline:
                self._send(client)
                self._first.set()

    def _send(self, client: httpx.Client) -> None:
        try:
            response = client.get(self.url)
        except httpx.HTTPError as exc:
            self._fail(f"{type(exc).__name__}: {exc}")
            return
        if response.status_code != 200:
            self._fail(f"{response.status_code} {response.text[:100]}")
            return
        self.ok += 1
        self.releases.add(int(response.headers["X-Release"]))

    def _fail(self, error: str) -> None:
        self.failed += 1
        if len(self.errors) < 20:
            self.errors.append(error)


@pytest.fixture
def request_loop() -> Iterator[Callable[[str], RequestLoop]]:
    """A factory of request loops (use ``with``); any loop still running is stopped at teardown."""
    loops: list[RequestLoop] = []

    def make(url: str) -> RequestLoop:
        loop = RequestLoop(url)
        loops.append(loop)
        return loop

    yield make
    for loop in loops:
        loop.__exit__()
