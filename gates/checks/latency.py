"""Per-route latency of the new release beside the release it replaces, from the same probe on the same machine.

Each route's p50 and p95 (nearest rank) are compared. A route regressed when a percentile grew by more
than its ratio AND by more than an absolute floor: 4 ms becoming 12 ms is three times slower and no one
notices, so the floor keeps tiny numbers from alarming. Too few samples on either side, or a route only
one side was asked, is a failure of its own (fail closed): no figure, no verdict of "as fast".

The p95 is judged on what the samples can tell. The p95 of 30 samples is their second slowest: two requests
caught by a busy machine's scheduling stall on one side, none on the other, made an unchanged release's p95
3x its predecessor's (185 ms vs 58 ms, measured at load 21 on 2 cores). So the tail regressed only when even
the lowest p95 the new release's samples allow (a distribution-free 95 % bound: an order statistic) is
beyond the ratio and floor of the highest the replaced release's allow: a few stalls on one side cannot do
that, a route whose slowest requests really got slower does. With 30 samples a side that means the new
release's fifth slowest against the replaced one's slowest; more ``[comparison] samples`` narrow both
bounds toward the p95 itself. The p50 holds still under a few stalls and is compared as it is.

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
    p95_low: float | None = None  # the lowest the p95 may be, at 95 % confidence (an order statistic)
    p95_high: float | None = None  # the highest; the slowest sample when the samples cannot bound it


TAIL = 0.95  # the percentile the tail is judged at
CONFIDENCE = 0.95  # of each bound of the tail


def summarize(samples: Mapping[str, Sequence[float]]) -> dict[str, RouteLatency]:
    """Per route: how many samples (finite ones: a failed request has no duration), their p50 and p95, and the
    p95's bounds."""
    found: dict[str, RouteLatency] = {}
    for route, values in samples.items():
        finite = sorted(v for v in values if math.isfinite(v))
        low, high = quantile_bounds(len(finite), TAIL, CONFIDENCE)
        found[route] = RouteLatency(
            route, len(finite), percentile(finite, 0.5), percentile(finite, TAIL),
            finite[low - 1] if finite else None, finite[high - 1] if finite else None,
        )  # fmt: skip
    return found


def quantile_bounds(n: int, q: float, confidence: float) -> tuple[int, int]:
    """Ranks (1-based) of the order statistics bounding the ``q`` quantile of ``n`` samples, each bound at
    ``confidence`` (one-sided): the k-th smallest is below the true quantile when at least k samples are, and the
    number of samples below it is Binomial(n, q). A bound the samples cannot give is their extreme (rank 1 or n).
    (1, 1) for no samples."""
    if n == 0:
        return 1, 1

    def at_most(k: int) -> float:  # P(Binomial(n, q) <= k)
        return sum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k + 1))

    low = max([k for k in range(1, n + 1) if 1 - at_most(k - 1) >= confidence], default=1)
    high = min([k for k in range(1, n + 1) if at_most(k - 1) >= confidence], default=n)
    return low, high


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
        for name, was, got, ratio, floor, (least, most) in (
            ("p50", before.p50, now.p50, bounds.max_p50_ratio, bounds.min_increase, (now.p50, before.p50)),
            ("p95", before.p95, now.p95, bounds.max_p95_ratio, bounds.min_p95_increase, (now.p95_low, before.p95_high)),
        ):  # fmt: skip
            if was is None or got is None or least is None or most is None:  # counted samples always give them
                problems.append(f"{route}: no {name} (fail closed)")
            elif least > most * ratio and least - most > floor:
                times = f"{got / was:.1f}x" if was > 0 else "from zero"
                bounded = "" if name == "p50" else f"; at least {_ms(least)} now vs at most {_ms(most)} before"
                problems.append(
                    f"{route}: {name} {_ms(got)} now vs {_ms(was)} before ({times}, +{_ms(got - was)}{bounded}; "
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
        f"replaced (or within +{_ms(bounds.min_increase)} and +{_ms(bounds.min_p95_increase)}; the p95 by its "
        f"{CONFIDENCE:.0%} bounds), "
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
        "p95 at most before": before.p95_high if before else None,
        "p95 at least now": now.p95_low if now else None,
        "p95 ratio": round(ratio, 3) if ratio is not None else None,
    }


def _ratio(before: RouteLatency | None, now: RouteLatency | None) -> float | None:
    """The new release's p95 over the replaced one's; None without both (or from a zero)."""
    if before is None or now is None or not before.p95 or now.p95 is None:
        return None
    return now.p95 / before.p95
