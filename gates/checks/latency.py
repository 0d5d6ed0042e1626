"""Per-route latency of the new release beside the release it replaces, from the same probe on the same machine.

Each route's p50 and p95 (nearest rank) are compared. A route regressed when a percentile grew by more
than its ratio AND by more than an absolute floor: 4 ms becoming 12 ms is three times slower and no one
notices, so the floor keeps tiny numbers from alarming. Too few samples on either side, or a route only
one side was asked, is a failure of its own (fail closed): no figure, no verdict of "as fast".

The ratios and floors are ``[comparison]``'s (``LatencyBounds.of``): the judge has no defaults of its own,
so what a team configured, or the config's default, is what is judged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

from gates.config.comparison import MIN_SAMPLES, ComparisonConfig
from gates.core.measurement import Measurement
from gates.monitor.evaluate import percentile


@dataclasses.dataclass(frozen=True)
class LatencyBounds:
    """A percentile regressed when above its ratio of the release replaced AND slower by its floor (seconds).

    The p95 of a few dozen samples is their second or third slowest: one scheduling stall on a busy machine moves
    it by tens of milliseconds while the p50 holds, so the tail has a floor of its own (``min_p95_increase``)."""

    max_p50_ratio: float
    max_p95_ratio: float
    min_increase: float  # seconds the p50 must also grow by
    min_p95_increase: float  # seconds the p95 must also grow by
    min_samples: int = MIN_SAMPLES  # per route and side: fewer fail closed

    @classmethod
    def of(cls, comparison: ComparisonConfig) -> LatencyBounds:
        """The bounds ``[comparison]`` sets (its floors are in milliseconds)."""
        return cls(
            max_p50_ratio=comparison.max_p50_ratio,
            max_p95_ratio=comparison.max_p95_ratio,
            min_increase=comparison.latency_floor_ms / 1000,
            min_p95_increase=comparison.p95_floor_ms / 1000,
        )


@dataclasses.dataclass(frozen=True)
class RouteLatency:
    """One route's durations (seconds) on one release, summed up."""

    route: str
    count: int
    p50: float | None
    p95: float | None


def summarize(samples: Mapping[str, Sequence[float]]) -> dict[str, RouteLatency]:
    """Per route: how many samples (finite ones: a failed request has no duration), their p50 and p95."""
    found: dict[str, RouteLatency] = {}
    for route, values in samples.items():
        finite = [v for v in values if math.isfinite(v)]
        found[route] = RouteLatency(route, len(finite), percentile(finite, 0.5), percentile(finite, 0.95))
    return found


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def compare_routes(
    baseline: Mapping[str, RouteLatency], candidate: Mapping[str, RouteLatency], bounds: LatencyBounds
) -> list[str]:
    """Every problem, one line each naming the route and both figures."""
    problems: list[str] = []
    for route in sorted(set(baseline) | set(candidate)):
        before, now = baseline.get(route), candidate.get(route)
        if before is None or now is None:
            side = "the release being replaced" if before is None else "the new release"
            problems.append(f"{route}: no samples of {side} (fail closed)")
            continue
        if min(before.count, now.count) < bounds.min_samples:
            problems.append(
                f"{route}: too few samples to compare ({before.count} before, {now.count} now; "
                f"{bounds.min_samples} required on each side) (fail closed)"
            )
            continue
        for name, was, got, ratio, floor in (
            ("p50", before.p50, now.p50, bounds.max_p50_ratio, bounds.min_increase),
            ("p95", before.p95, now.p95, bounds.max_p95_ratio, bounds.min_p95_increase),
        ):
            if was is None or got is None:  # counted samples always give a percentile; kept for the types
                problems.append(f"{route}: no {name} (fail closed)")
            elif got > was * ratio and got - was > floor:
                times = f"{got / was:.1f}x" if was > 0 else "from zero"
                problems.append(
                    f"{route}: {name} {_ms(got)} now vs {_ms(was)} before ({times}, +{_ms(got - was)}; "
                    f"limit {ratio:g}x and +{_ms(floor)})"
                )
    return problems


def latency_within_bounds(
    baseline: Mapping[str, Sequence[float]],
    candidate: Mapping[str, Sequence[float]],
    bounds: LatencyBounds,
    *,
    source: str = "",
) -> Measurement:
    """The new release answers each route about as fast as the one it replaces: no p50 or p95 beyond its ratio
    and the floor. ``baseline``/``candidate``: per route, request durations in seconds."""
    before, now = summarize(baseline), summarize(candidate)
    problems = compare_routes(before, now, bounds)
    if not before and not now:
        problems.append("no samples of either release (fail closed)")
    routes = sorted(set(before) | set(now))
    rows = [_row(route, before.get(route), now.get(route)) for route in routes]
    ratios = [r for r in (_ratio(before.get(route), now.get(route)) for route in routes) if r is not None]
    observed = f"{len(routes)} routes, worst p95 ratio " + (f"{max(ratios):.2f}x" if ratios else "unknown")
    expected = (
        f"per route p50 within {bounds.max_p50_ratio:g}x and p95 within {bounds.max_p95_ratio:g}x of the release "
        f"replaced (or within +{_ms(bounds.min_increase)} and +{_ms(bounds.min_p95_increase)}), "
        f">= {bounds.min_samples} samples each"
    )
    return Measurement("latency comparison", "each route answers about as fast as in the release it replaces",
                       observed, expected, not problems, source or "the same probe against both releases",
                       details=rows, problems=problems)  # fmt: skip


def _row(route: str, before: RouteLatency | None, now: RouteLatency | None) -> dict[str, float | int | str | None]:
    """A table row of the report: both releases' figures, in seconds, and the p95 ratio."""
    ratio = _ratio(before, now)
    return {
        "route": route,
        "samples before": before.count if before else 0,
        "samples now": now.count if now else 0,
        "p50 before": before.p50 if before else None,
        "p50 now": now.p50 if now else None,
        "p95 before": before.p95 if before else None,
        "p95 now": now.p95 if now else None,
        "p95 ratio": round(ratio, 3) if ratio is not None else None,
    }


def _ratio(before: RouteLatency | None, now: RouteLatency | None) -> float | None:
    """The new release's p95 over the replaced one's; None without both (or from a zero)."""
    if before is None or now is None or not before.p95 or now.p95 is None:
        return None
    return now.p95 / before.p95
