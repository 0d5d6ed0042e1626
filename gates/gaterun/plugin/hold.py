"""A gate started before what it judges is ready: it holds its molecules until told to go.

``gates`` starts some gates early -- the monitor gate as its window begins, the rollback drill's gates while its
rollback runs -- so that pytest's start-up, its plugins, the collection and the browser's launch happen meanwhile
rather than after. ``--gates-hold PATH`` makes the run wait, before its first molecule, until PATH holds its word
(polled, bounded by ``--gates-hold-timeout``; gates.gaterun.holdword): ``go``, with the options only known by then
(the release the gate must find), or why the gate was called off. The molecules that use the browser run first,
so that the first one's setup launches it while the gate is held. A word that never came, or a gate called off,
fails every molecule saying so: no molecule runs against what is not there yet (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gates.gaterun.holdword import read_word

_PROBLEM = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The molecules that use the browser go first (the others keep their order): the first molecule's setup, held,
    then launches the browser while the gate waits for its word."""
    # browser_name: pytest-playwright's parameter, in the closure of whatever uses the browser, even one that
    # starts it only when it has a page to visit (gates.gaterun.browser's gate_visits).
    items.sort(key=lambda item: "browser_name" not in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session", autouse=True)
def gates_hold(request: pytest.FixtureRequest) -> Iterator[None]:
    """Held runs only: start the browser when the first molecule needs one, then wait for the word to go."""
    path = request.config.getoption("gates_hold")
    if path and _PROBLEM not in request.config.stash:
        if "browser_name" in request.fixturenames:
            request.getfixturevalue("browser")  # Playwright's driver and Chromium start while the gate is held
        problem, options = read_word(Path(path), request.config.getoption("gates_hold_timeout"))
        for name, value in options.items():
            setattr(request.config.option, name, value)
        request.config.stash[_PROBLEM] = problem
    yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    result = yield
    problem = item.config.stash.get(_PROBLEM, "")
    if problem:
        pytest.fail(problem, pytrace=False)
    return result
