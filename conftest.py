"""This repository's own runs: gates must be installed in the environment that runs them.

The plugin comes in through gates' ``pytest11`` entry point, exactly as in a team's repository
(no ``pytest_plugins`` here: the molecules under gates/ are collected from other folders too, and
pytest refuses that variable in a conftest that is not at the top of the run). Without the entry
point, say how to get it instead of failing later on an unknown fixture.
"""

from importlib.metadata import entry_points

import pytest

from tests.xdist_groups import pytest_collection_modifyitems

__all__ = ["pytest_collection_modifyitems", "pytest_configure"]


def pytest_configure(config: pytest.Config) -> None:
    if not any(ep.name == "gates" for ep in entry_points(group="pytest11")):
        raise pytest.UsageError("gates is not installed in this environment: run `make setup` (or pip install -e .)")
