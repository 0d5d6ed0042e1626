"""A gate started before what it judges is ready: it holds its molecules until told to go.

``gates`` starts some gates early -- the staging and production gates with the steps before their deploys, the
monitor gate as its window begins, the rollback drill's gates while its rollback runs -- so that pytest's start-up,
its plugins, the collection and the browser's launch happen meanwhile rather than after. ``--gates-hold PATH``
makes the run wait, before its first molecule, until PATH holds its word (polled, bounded by
``--gates-hold-timeout``; gates.gaterun.holdword): ``go``, with the options only known by then (the release the
gate must find, the probe of its rollout, the comparison's baseline), or why the gate was called off. When a
molecule of the run uses the browser, the gate run's one Chromium (gates.gaterun.browser) is launched before the
wait; the molecules keep their order (the health molecules first). A word that never came, or a gate called off,
fails every molecule saying so: no molecule runs against what is not there yet (fail closed). The wait is not the
first molecule's time, nor is the browser's launch before it (both done for the whole run while it was held): its
report says how long each took, and its duration is its own.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from gates.gaterun.holdword import read_word

_PROBLEM = pytest.StashKey[str]()
# Seconds the browser's launch and the wait for the word took before the first molecule, not yet taken out of a report.
_HELD = pytest.StashKey[tuple[float, float]]()
_BROWSER = frozenset({"browser", "browser_name"})


@pytest.fixture(scope="session", autouse=True)
def gates_hold(request: pytest.FixtureRequest) -> Iterator[None]:
    """Held runs only: launch the browser when a molecule of the run uses one, then wait for the word to go."""
    path = request.config.getoption("gates_hold")
    if path and _PROBLEM not in request.config.stash:
        # browser_name: pytest-playwright's parameter, in the closure of what starts the browser only when it has a
        # page to visit (gates.gaterun.browser's gate_visits); browser: in the closure of what uses it at once.
        began = time.monotonic()
        if any(_BROWSER & set(getattr(item, "fixturenames", ())) for item in request.session.items):
            request.getfixturevalue("browser")  # Playwright's driver and Chromium start while the gate is held
        started = time.monotonic()
        problem, options = read_word(Path(path), request.config.getoption("gates_hold_timeout"))
        request.config.stash[_HELD] = (started - began, time.monotonic() - started)
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """The setup that waited for the word: its report's duration without the browser's launch and the wait (done for
    the whole run, before it was told go), which it says instead."""
    report: pytest.TestReport = yield
    held = item.config.stash.get(_HELD, None)
    if report.when == "setup" and held is not None:
        del item.config.stash[_HELD]
        launch, wait = held
        report.duration = max(report.duration - launch - wait, 0.0)
        said = f"held {wait:.1f}s for the word to go, after {launch:.1f}s of the browser's launch (if any)"
        report.sections.append(("gates hold", f"{said}: not counted in its time"))
    return report
