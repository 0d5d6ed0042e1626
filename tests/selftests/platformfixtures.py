"""Fixtures for self-tests of platforms: configs of local environments and faulty demo releases.

Environments made here read their database URL from ``DEMO_DB_URL``, set to an address where
nothing listens: the app serves everything but its database routes (analytics health answers
503), which is all a platform test needs, without a Postgres cluster.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
