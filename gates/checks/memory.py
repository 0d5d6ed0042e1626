"""Resident memory of the new release beside the release it replaces, and memory that grows with requests.

Two judgements on RSS readings (bytes; MB here is 2**20 bytes, as the platforms report it):

- ``rss_within_bounds``: the new release's median reading is at most ``max_ratio`` times the replaced
  one's, or within ``min_increase`` of it (a 40 MB app growing to 70 MB is no news);
- ``memory_steady``: over a series of (requests served, RSS), memory that grows steadily with requests
  fails. A least-squares line is fitted past the warm-up (the first ``warmup`` share of the requests,
  where caches fill and code is compiled once); it fails when its slope is above ``max_slope`` MB per
  1000 requests, it fits the readings (R^2 at least ``min_fit``: noise is not growth), the growth over the
  series is at least ``min_growth`` MB, and both halves of the series grow (a single step up is not a
  leak: one half of it is flat).

Too few readings on either side, or no requests served, fail closed.

The ratio, the floors and the slope are ``[comparison]``'s (``MemoryBounds.of``): the judges have no defaults of
their own, so what a team configured, or the config's default, is what is judged. The fit, the fewest readings
and the warm-up are not configurable and are set here.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence

from gates.config.comparison import ComparisonConfig
from gates.core.measurement import Measurement

MB = 2**20
MIN_FIT = 0.8  # R^2 of the line through the readings
MIN_POINTS = 8  # readings after the warm-up
WARMUP = 0.2  # share of the requests served before the fit starts
_STEADY = 0.25  # each half's slope, at least this share of the whole series' slope


@dataclasses.dataclass(frozen=True)
class MemoryBounds:
    """What the memory judges apply: the median's ratio and floor against the release replaced, and the growth
    with requests (a slope in MB per 1000 requests, and the bytes grown over the series) that makes a leak."""

    max_ratio: float
    min_increase: float  # bytes the median must also grow by to count as a regression
    max_slope: float  # MB per 1000 requests
    min_growth: float  # bytes grown over the series, at the least, to call it a leak
    min_fit: float = MIN_FIT
    min_points: int = MIN_POINTS
    warmup: float = WARMUP

    @classmethod
    def of(cls, comparison: ComparisonConfig) -> MemoryBounds:
        """The bounds ``[comparison]`` sets (its floors are in MB)."""
        return cls(
            max_ratio=comparison.max_memory_ratio,
            min_increase=comparison.memory_floor_mb * MB,
            max_slope=comparison.max_growth_mb_per_1000_requests,
            min_growth=comparison.min_growth_mb * MB,
        )


def _mb(size: float) -> str:
    return f"{size / MB:.1f} MB"


def rss_within_bounds(
    baseline: Sequence[float],
    candidate: Sequence[float],
    bounds: MemoryBounds,
    *,
    source: str = "",
) -> Measurement:
    """The new release holds about as much memory as the one it replaces: the medians of the readings (per
    instance, or over the gate) within ``bounds.max_ratio`` or within ``bounds.min_increase`` bytes."""
    max_ratio, min_increase = bounds.max_ratio, bounds.min_increase
    question = "the new release holds about as much memory as the release it replaces"
    expected = f"median RSS within {max_ratio:g}x of the release replaced, or within +{_mb(min_increase)}"
    where = source or "resident memory of both releases' processes"
    readings_before = [v for v in baseline if v > 0]
    readings_now = [v for v in candidate if v > 0]
    if not readings_before or not readings_now:
        side = "the release being replaced" if not readings_before else "the new release"
        problem = f"no memory readings of {side} (fail closed)"
        return Measurement("memory comparison", question, "no readings", expected, False, where, problems=[problem])
    before, now = statistics.median(readings_before), statistics.median(readings_now)
    observed = f"median RSS {_mb(now)} now vs {_mb(before)} before ({now / before:.2f}x)"
    problems = []
    if now > before * max_ratio and now - before > min_increase:
        problems.append(
            f"median RSS {_mb(now)} now vs {_mb(before)} before ({now / before:.2f}x, +{_mb(now - before)}; "
            f"limit {max_ratio:g}x and +{_mb(min_increase)})"
        )
    details = [{"release": "before", "readings": len(readings_before), "median bytes": before},
               {"release": "now", "readings": len(readings_now), "median bytes": now}]  # fmt: skip
    return Measurement("memory comparison", question, observed, expected, not problems, where,
                       details=details, problems=problems)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Growth:
    """The line through a series of (requests served, RSS bytes) past its warm-up."""

    points: int
    slope: float  # bytes per request
    fit: float  # R^2, 0..1 (0 for flat readings)
    growth: float  # bytes the line rises over the requests fitted
    halves: tuple[float, float]  # the slope of each half of the fitted readings

    @property
    def per_1000(self) -> float:
        """MB per 1000 requests."""
        return self.slope * 1000 / MB

    @property
    def steady(self) -> bool:
        """Both halves rise, each at least a share of the whole's slope: growth all along, not one step."""
        return self.slope > 0 and all(h >= _STEADY * self.slope for h in self.halves)

    def describe(self, unit: str) -> str:
        return (
            f"{self.per_1000:.2f} MB per 1000 {unit} (R^2 {self.fit:.2f}, +{_mb(self.growth)} over "
            f"{self.points} readings; halves {self.halves[0] * 1000 / MB:.2f} and {self.halves[1] * 1000 / MB:.2f})"
        )


def _line(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope and R^2 of the points; (0, 0) when x or y does not vary."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    if sxx == 0 or syy == 0:
        return 0.0, 0.0
    return sxy / sxx, sxy * sxy / (sxx * syy)


def growth(series: Sequence[tuple[float, float]], *, warmup: float = WARMUP) -> Growth | None:
    """The line through the readings after the first ``warmup`` share of the requests; None with fewer than
    four readings left or no requests served over them."""
    ordered = sorted(series)
    if not ordered:
        return None
    start = ordered[0][0] + warmup * (ordered[-1][0] - ordered[0][0])
    kept = [p for p in ordered if p[0] >= start]
    if len(kept) < 4 or kept[-1][0] == kept[0][0]:
        return None
    slope, fit = _line(kept)
    middle = len(kept) // 2
    halves = (_line(kept[: middle + 1])[0], _line(kept[middle:])[0])
    return Growth(len(kept), slope, fit, slope * (kept[-1][0] - kept[0][0]), halves)


def memory_steady(
    series: Sequence[tuple[float, float]],
    bounds: MemoryBounds,
    *,
    unit: str = "requests",
    name: str = "the instance",
    source: str = "",
) -> Measurement:
    """``name``'s memory does not grow steadily with the requests it serves. ``series``: (requests served so
    far, RSS bytes) readings; ``unit`` names what the first figure counts (requests, or seconds)."""
    max_slope, min_fit, min_growth, min_points = bounds.max_slope, bounds.min_fit, bounds.min_growth, bounds.min_points
    question = f"{name}'s memory does not grow steadily with the {unit} it serves"
    expected = (
        f"no steady growth above {max_slope:g} MB per 1000 {unit} (a line with R^2 >= {min_fit:g} rising "
        f">= {_mb(min_growth)}), >= {min_points} readings after the warm-up"
    )
    where = source or f"resident memory of {name}, sampled while it served {unit}"
    fitted = growth(series, warmup=bounds.warmup)
    if fitted is None or fitted.points < min_points:
        served = {x for x, _ in series}
        if len(series) >= min_points and len(served) == 1:
            problem = (
                f"{name}: no {unit} served over its {len(series)} readings: growth with {unit} unknown (fail closed)"
            )
        else:
            got = 0 if fitted is None else fitted.points
            problem = (
                f"{name}: {got} readings after the warm-up, {min_points} required: growth with {unit} unknown "
                "(fail closed)"
            )
        return Measurement("memory growth", question, f"{len(series)} readings", expected, False, where,
                           problems=[problem])  # fmt: skip
    leaking = fitted.per_1000 > max_slope and fitted.fit >= min_fit and fitted.growth >= min_growth and fitted.steady
    problems = []
    if leaking:
        problems.append(
            f"{name}: memory grows {fitted.per_1000:.2f} MB per 1000 {unit} (limit {max_slope:g}), steadily: "
            f"+{_mb(fitted.growth)} over {fitted.points} readings, R^2 {fitted.fit:.2f}"
        )
    details = [{"served": x, "rss bytes": y} for x, y in sorted(series)]
    return Measurement("memory growth", question, fitted.describe(unit), expected, not leaking, where,
                       details=details, problems=problems)  # fmt: skip
