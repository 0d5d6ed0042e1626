"""The machine's load while the bench ran: a figure is only as good as the quiet it was measured in.

Before the first scenario and after the last, the 1-minute load average; in between, sampled every
``every`` seconds by a daemon thread. With the number of processors the bench may use (what ``nproc``
says: the affinity mask), a reader can tell a quiet run from a loaded one.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import threading
from types import TracebackType


@dataclasses.dataclass(frozen=True)
class Load:
    nproc: int
    before: float
    after: float
    during: tuple[float, ...]

    def as_dict(self) -> dict[str, object]:
        during = self.during or (self.after,)
        return {
            "nproc": self.nproc,
            "before": self.before,
            "after": self.after,
            "during": {"min": min(during), "median": statistics.median(during), "max": max(during)},
            "samples": len(self.during),
        }

    def line(self) -> str:
        during = self.during or (self.after,)
        return (
            f"load average (1 min) before {self.before:.2f}, during {min(during):.2f}-{max(during):.2f} "
            f"(median {statistics.median(during):.2f}), after {self.after:.2f}; nproc {self.nproc}"
        )


def nproc() -> int:
    """The processors this process may run on, as ``nproc`` counts them."""
    return len(os.sched_getaffinity(0))


class LoadWatch:
    """``with LoadWatch() as watch: ...`` then ``watch.load``: the load average before, during and after."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self._samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="bench-load", daemon=True)
        self._before = 0.0
        self.load: Load | None = None

    def __enter__(self) -> LoadWatch:
        self._before = os.getloadavg()[0]
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 1)
        self.load = Load(nproc(), self._before, os.getloadavg()[0], tuple(self._samples))

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            self._samples.append(os.getloadavg()[0])
