"""The bench's scenarios, in the order they run: adding a figure is one decorated function.

    @scenario("rollback", cheap=True)
    def rollback(tmp: Path, runs: int) -> list[Figure]: ...

A scenario is given a scratch folder of its own and the number of runs to make (at least
``MIN_RUNS``), and returns its figures, each the median of those runs with min and max beside it.
``cheap`` scenarios are the quick run's (``make bench QUICK=1``), with as many runs as the full one;
the others are skipped there, and the run says which. A figure planned but not measured yet is a
scenario returning ``stats.pending`` figures: its row shows in the table until the scenario is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from gates.bench.stats import MIN_RUNS, Figure

Measure = Callable[[Path, int], list[Figure]]


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    measure: Measure
    cheap: bool
    runs: int = MIN_RUNS
    last: bool = False  # runs after every other (its load would fall on the figures measured beside it)


SCENARIOS: list[Scenario] = []


def scenario(name: str, *, cheap: bool, runs: int = MIN_RUNS, last: bool = False) -> Callable[[Measure], Measure]:
    """Register the decorated function as the scenario ``name`` (names are unique); they run in the order they
    were registered, those registered ``last`` after the others."""
    if runs < MIN_RUNS:
        raise ValueError(f"scenario {name!r}: {runs} runs, fewer than the bench's {MIN_RUNS}")

    def register(measure: Measure) -> Measure:
        if any(s.name == name for s in SCENARIOS):
            raise ValueError(f"scenario {name!r} is registered twice")
        SCENARIOS.append(Scenario(name, measure, cheap, runs, last))
        SCENARIOS.sort(key=lambda s: s.last)  # stable: registration order otherwise
        return measure

    return register
