"""Per-route latency of the new release beside the one it replaces: a slower route fails naming both figures."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

from gates.checks.latency import LatencyBounds, latency_within_bounds, quantile_bounds, summarize
from gates.config.comparison import ComparisonConfig
from gates.core.measurement import Measurement
from gates.monitor.evaluate import percentile

# [comparison]'s defaults: p50 within 2x or +20 ms, p95 within 3x or +100 ms.
DEFAULTS = LatencyBounds.of(ComparisonConfig())


def judge(
    base: Mapping[str, Sequence[float]], now: Mapping[str, Sequence[float]], bounds: LatencyBounds = DEFAULTS
) -> Measurement:
    return latency_within_bounds(base, now, bounds)


def spread(median: float, n: int = 40) -> list[float]:
    """n durations around ``median`` seconds: 0.8x to 1.2x of it, evenly."""
    return [median * (0.8 + 0.4 * i / (n - 1)) for i in range(n)]


def test_percentiles_are_nearest_rank():
    """p50 and p95 of 1..100 are 50 and 95; no data has none."""
    values = [float(v) for v in range(100, 0, -1)]
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (50.0, 95.0)
    assert percentile([], 0.5) is None


def test_the_judge_takes_the_configs_bounds_and_has_none_of_its_own():
    """[comparison] latency_floor_ms, p95_floor_ms and both ratios are what the judge applies, in seconds: the
    config's default is the only default (the judge's bounds have no defaults of their own)."""
    expected = LatencyBounds(max_p50_ratio=2.0, max_p95_ratio=3.0, min_increase=0.020, min_p95_increase=0.100)
    assert expected == DEFAULTS
    cfg = ComparisonConfig(max_p50_ratio=1.5, max_p95_ratio=4.0, latency_floor_ms=35, p95_floor_ms=250)
    assert LatencyBounds.of(cfg) == LatencyBounds(1.5, 4.0, 0.035, 0.250)
    required = [f.name for f in dataclasses.fields(LatencyBounds) if f.default is dataclasses.MISSING]
    assert required == ["max_p50_ratio", "max_p95_ratio", "min_increase", "min_p95_increase"]


def test_the_same_speed_passes_with_both_figures_per_route():
    """Two releases as fast as each other pass; the report's rows carry both releases' p50 and p95 per route."""
    base = {"/app": spread(0.120), "/api/tiles": spread(0.040)}
    judged = judge(base, {"/app": spread(0.130), "/api/tiles": spread(0.038)})
    assert judged.ok, judged.explain()
    rows = {row["route"]: row for row in judged.details}
    assert rows["/app"]["samples before"] == 40 and math.isclose(rows["/app"]["p95 ratio"], 130 / 120, rel_tol=1e-3)
    assert judged.observed.startswith("2 routes, worst p95 ratio 1.08x")


def test_a_route_three_times_slower_fails_naming_the_route_and_both_figures():
    """One route 3x slower beyond the floor fails on its p50 and p95, each line saying now, before and the limit."""
    bounds = dataclasses.replace(DEFAULTS, max_p95_ratio=2.0)
    judged = judge({"/app": spread(0.1), "/health": spread(0.01)}, {"/app": spread(0.3), "/health": spread(0.01)},
                   bounds)  # fmt: skip
    assert not judged.ok
    assert judged.problems == (
        "/app: p50 298 ms now vs 99 ms before (3.0x, +199 ms; limit 2x and +20 ms)",
        "/app: p95 354 ms now vs 118 ms before (3.0x, +236 ms; at least 348 ms now vs at most 120 ms before; "
        "limit 2x and +100 ms)",
    )


def test_tiny_numbers_do_not_alarm_below_the_floor():
    """4 ms becoming 12 ms is 3x but +8 ms: under the 20 ms floor it is no regression; a floor of 5 ms makes it one."""
    base, slow = {"/health": spread(0.004)}, {"/health": spread(0.012)}
    assert judge(base, slow).ok
    judged = judge(base, slow, dataclasses.replace(DEFAULTS, min_increase=0.005))
    assert not judged.ok and judged.problems[0].startswith("/health: p50 12 ms now vs 4 ms before (3.0x, +8 ms")


def test_the_ratios_are_bounds_of_their_own():
    """A p95 ratio of 2.5 passes under a limit of 3 and fails under 2."""
    base, slow = {"/app": spread(0.2)}, {"/app": spread(0.5)}
    assert judge(base, slow, dataclasses.replace(DEFAULTS, max_p50_ratio=3.0, max_p95_ratio=3.0)).ok
    judged = judge(base, slow, dataclasses.replace(DEFAULTS, max_p50_ratio=3.0, max_p95_ratio=2.0))
    assert [p.split(":")[1].split()[0] for p in judged.problems] == ["p95"]


def test_too_few_samples_or_a_route_only_one_side_has_fail_closed():
    """Under min_samples on either side, or a route missing on one side, or nothing at all: a failure saying so."""
    judged = judge({"/app": spread(0.1, n=5), "/old": spread(0.1)}, {"/app": spread(0.1), "/new": spread(0.1)})
    assert not judged.ok
    assert judged.problems == (
        "/app: too few samples to compare (5 before, 40 now; 20 required on each side) (fail closed)",
        "/new: no samples of the release being replaced (fail closed)",
        "/old: no samples of the new release (fail closed)",
    )
    assert judge({}, {}).problems == ("no samples of either release (fail closed)",)


def test_failed_requests_without_a_duration_are_not_samples():
    """NaN durations (a request that got no answer) are not counted, so they cannot make up the minimum."""
    (summary,) = summarize({"/app": [0.1] * 10 + [math.nan] * 30}).values()
    assert summary.count == 10 and summary.p95 == 0.1


def test_a_stall_in_the_tail_of_a_few_dozen_samples_is_no_regression():
    """Two of 30 samples caught by a busy machine's stall move the p95 from 10 to 39 ms while the p50 holds: with
    a 20 ms floor for the p50, the p95's own 100 ms floor keeps it from alarming (a false alarm measured at load
    12); the same p50 grown by 30 ms is one."""
    base = {"/health": [0.008] * 28 + [0.010, 0.010]}
    stalled = {"/health": [0.008] * 28 + [0.039, 0.039]}
    assert judge(base, stalled).ok
    slower = {"/health": [0.038] * 28 + [0.040, 0.040]}
    assert "/health: p50 38 ms now vs 8 ms before" in judge(base, slower).problems[0]


def test_the_p95_is_bounded_by_order_statistics_at_95_percent():
    """The p95's bounds are the order statistics a Binomial(n, 0.95) gives at 95 % each side: of 30 samples the
    fifth slowest and (no closer bound possible) the slowest; of 100, the tenth slowest and the second slowest."""
    assert quantile_bounds(30, 0.95, 0.95) == (26, 30)
    assert quantile_bounds(100, 0.95, 0.95) == (91, 99)
    (summary,) = summarize({"/app": [i / 1000 for i in range(1, 31)]}).values()
    assert (summary.p95, summary.p95_low, summary.p95_high) == (0.029, 0.026, 0.030)


def test_two_stalls_on_one_side_do_not_make_a_tail_regression():
    """An unchanged release whose 30 samples caught two scheduling stalls (185 ms) where the release replaced caught
    none (58 ms at most) has a p95 3.2x its predecessor's, +127 ms: a false alarm measured at load 21 on 2 cores.
    Its lowest possible p95 (the fifth slowest) is no regression, so it passes."""
    base = {"/api/health": [0.040 + i * 0.0006 for i in range(30)]}
    stalled = {"/api/health": [0.040 + i * 0.0006 for i in range(28)] + [0.185, 0.190]}
    assert judge(base, stalled).ok


def test_a_tail_that_really_got_slower_fails_on_its_p95_naming_both_bounds():
    """One request in five of the new release taking 400 ms where the replaced one never took over 60 ms fails on the
    p95 (the p50 holds), the line saying both p95s and both bounds."""
    base = {"/api/health": [0.040 + i * 0.0006 for i in range(30)]}
    tail = {"/api/health": [0.040 + i * 0.0006 for i in range(24)] + [0.400] * 6}
    judged = judge(base, tail)
    assert not judged.ok
    assert judged.problems == (
        "/api/health: p95 400 ms now vs 57 ms before (7.0x, +343 ms; at least 400 ms now vs at most 57 ms before; "
        "limit 3x and +100 ms)",
    )
