"""Evaluation of samples against thresholds: pure functions, no I/O.

The error rate is failed requests over all requests; p95 is the nearest-rank 95th percentile of
the request durations. Fewer samples than the minimum is a verdict of its own (fail closed).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from gates.monitor.sampler import Sample


@dataclasses.dataclass(frozen=True)
class Thresholds:
    max_error_rate: float = 0.001
    max_p95: float = 3.0
    min_samples: int = 20


@dataclasses.dataclass(frozen=True)
class Breach:
    metric: str  # "error rate" | "p95" | "samples"
    value: float
    threshold: float

    def describe(self) -> str:
        if self.metric == "error rate":
            return f"error rate {self.value:.2%} >= {self.threshold:.2%}"
        if self.metric == "p95":
            return f"p95 {self.value:.3f}s >= {self.threshold:g}s"
        return f"{int(self.value)} samples < {int(self.threshold)} required"


@dataclasses.dataclass(frozen=True)
class Stats:
    """What a window (or a rolling slice of it) measured, whatever the source."""

    source: str
    count: int
    error_rate: float | None
    p95: float | None
    errors: int = 0


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0 < q <= 1); None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def p95(durations: Sequence[float]) -> float | None:
    """Nearest-rank 95th percentile; None for no data."""
    return percentile(durations, 0.95)


def stats(samples: Sequence[Sample], source: str = "synthetic") -> Stats:
    errors = sum(1 for s in samples if s.failed)
    rate = errors / len(samples) if samples else None
    return Stats(source, len(samples), rate, p95([s.seconds for s in samples]), errors)


def breaches(measured: Stats, limits: Thresholds, *, min_samples: int | None = None) -> list[Breach]:
    """Every threshold the stats break; missing data and too few samples break them too (fail closed)."""
    need = limits.min_samples if min_samples is None else min_samples
    found: list[Breach] = []
    if measured.count < need:
        found.append(Breach("samples", measured.count, need))
    for metric, value, limit in (
        ("error rate", measured.error_rate, limits.max_error_rate),
        ("p95", measured.p95, limits.max_p95),
    ):
        # None and NaN are no data; NaN would also slip through a comparison.
        if value is None or not math.isfinite(value) or value >= limit:
            found.append(Breach(metric, value if value is not None else math.nan, limit))
    return found


def rolling(samples: Sequence[Sample], size: int) -> Sequence[Sample]:
    """The latest ``size`` samples: what alerts are evaluated over."""
    return samples[-size:]
