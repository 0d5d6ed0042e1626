"""Resident memory judged: against the release replaced, and over the requests served (a leak, not noise or a step)."""

from __future__ import annotations

import dataclasses
import inspect
import random
from collections.abc import Sequence

from gates.checks import memory
from gates.checks.memory import MB, MemoryBounds, growth, rss_within_bounds
from gates.config.comparison import ComparisonConfig
from gates.core.measurement import Measurement

# [comparison]'s defaults: the median within 1.5x or +32 MB; growth under 1 MB per 1000 requests or 16 MB in all.
DEFAULTS = MemoryBounds.of(ComparisonConfig())


def memory_steady(series: Sequence[tuple[float, float]], bounds: MemoryBounds = DEFAULTS, **how: str) -> Measurement:
    return memory.memory_steady(series, bounds, **how)


def compared(before: Sequence[float], now: Sequence[float], bounds: MemoryBounds = DEFAULTS) -> Measurement:
    return rss_within_bounds(before, now, bounds)


def readings(rss, n: int = 60, served: int = 6000, noise: float = 2 * MB, seed: int = 7) -> list[tuple[float, float]]:
    """n readings over ``served`` requests: (requests so far, rss(requests) plus up to +-noise bytes)."""
    rng = random.Random(seed)
    return [(i * served / (n - 1), rss(i * served / (n - 1)) + rng.uniform(-noise, noise)) for i in range(n)]


def test_the_judges_take_the_configs_bounds_and_have_none_of_their_own():
    """[comparison] max_memory_ratio, memory_floor_mb, max_growth_mb_per_1000_requests and min_growth_mb are what the
    judges apply (the floors in bytes): the config's default is the only default. Neither judge has a default for its
    bounds, and the module keeps no figure of the config's (the fit, the fewest readings and the warm-up are its own:
    not configurable)."""
    assert MemoryBounds(max_ratio=1.5, min_increase=32 * MB, max_slope=1.0, min_growth=16 * MB) == DEFAULTS
    cfg = ComparisonConfig(
        max_memory_ratio=1.2, memory_floor_mb=8, max_growth_mb_per_1000_requests=0.5, min_growth_mb=4
    )
    assert MemoryBounds.of(cfg) == MemoryBounds(1.2, 8 * MB, 0.5, 4 * MB)
    required = [f.name for f in dataclasses.fields(MemoryBounds) if f.default is dataclasses.MISSING]
    assert required == ["max_ratio", "min_increase", "max_slope", "min_growth"]
    for judge in (memory.rss_within_bounds, memory.memory_steady):
        bounds = inspect.signature(judge).parameters["bounds"]
        assert bounds.default is inspect.Parameter.empty, judge.__name__
    figures = {name for name, value in vars(memory).items() if name.isupper() and isinstance(value, (int, float))}
    assert figures == {"MB", "MIN_FIT", "MIN_POINTS", "WARMUP", "_STEADY"}


def test_memory_growing_with_every_request_fails_naming_the_slope():
    """20 KB per request (about 19.5 MB per 1000 requests) over 6000 requests, under noise: a leak, said in MB per 1000."""
    judged = memory_steady(readings(lambda r: 120 * MB + 20_000 * r), name="instance web-2")
    assert not judged.ok
    (problem,) = judged.problems
    assert (
        problem.startswith("instance web-2: memory grows 19.") and "MB per 1000 requests (limit 1), steadily" in problem
    )
    assert "R^2 0.99" in problem or "R^2 1.00" in problem


def test_noise_and_a_flat_series_pass():
    """Readings that wander +-8 MB around a level are no growth; a perfectly flat series neither."""
    assert memory_steady(readings(lambda r: 150 * MB, noise=8 * MB)).ok
    flat = memory_steady([(float(r), 150.0 * MB) for r in range(0, 2000, 100)])
    assert flat.ok and flat.observed.startswith("0.00 MB per 1000 requests (R^2 0.00")


def test_a_warm_up_step_at_the_start_does_not_alarm():
    """Memory that jumps by 60 MB over the first requests (caches filling) and stays there is not a leak."""
    assert memory_steady(readings(lambda r: 80 * MB if r < 300 else 140 * MB)).ok


def test_a_single_step_later_on_does_not_alarm():
    """One step of 30 MB half-way (a pool grown once) rises but not steadily: one half of it is flat."""
    stepped = readings(lambda r: 100 * MB if r < 3600 else 130 * MB, noise=0.5 * MB)
    fitted = growth(stepped)
    assert fitted is not None and fitted.per_1000 > 1.0 and not fitted.steady
    assert memory_steady(stepped).ok


def test_slow_growth_under_the_limits_passes_and_the_limits_are_parameters():
    """0.5 MB per 1000 requests is under the default 1; a limit of 0.25 catches it once it has grown enough."""
    slow = readings(lambda r: 100 * MB + 0.5 * MB * r / 1000, served=60_000, noise=0.5 * MB)
    assert memory_steady(slow).ok
    stricter = dataclasses.replace(DEFAULTS, max_slope=0.25)
    assert not memory_steady(slow, stricter).ok
    assert memory_steady(slow, dataclasses.replace(stricter, min_growth=64 * MB)).ok  # it grew 24 MB: under the floor


def test_too_few_readings_or_no_requests_fail_closed():
    """Under min_points readings after the warm-up, or no request served at all, is a failure saying so."""
    few = memory_steady(readings(lambda r: 100 * MB, n=6))
    assert few.problems == (
        "the instance: 5 readings after the warm-up, 8 required: growth with requests unknown (fail closed)",
    )
    idle = memory_steady([(0.0, 100.0 * MB)] * 20, name="instance web-1")
    assert idle.problems == (
        "instance web-1: no requests served over its 20 readings: growth with requests unknown (fail closed)",
    )


def test_time_can_stand_for_requests():
    """With unit="seconds", the series is over time and the message says so."""
    judged = memory_steady(readings(lambda t: 100 * MB + 0.5 * MB * t, served=300), unit="seconds")
    assert not judged.ok and "MB per 1000 seconds" in judged.problems[0]


def test_the_new_release_holding_far_more_memory_fails_with_both_figures():
    """Median 300 MB against 120 MB is 2.5x and +180 MB: beyond 1.5x and the 32 MB floor."""
    judged = compared([120 * MB, 118 * MB, 125 * MB], [300 * MB, 296 * MB, 310 * MB])
    assert not judged.ok
    assert judged.problems == (
        "median RSS 300.0 MB now vs 120.0 MB before (2.50x, +180.0 MB; limit 1.5x and +32.0 MB)",
    )


def test_small_or_proportionate_differences_pass():
    """40 MB to 70 MB is 1.75x but +30 MB: under the floor; 200 MB to 280 MB is +80 MB but 1.4x: under the ratio."""
    assert compared([40 * MB], [70 * MB]).ok
    assert compared([200 * MB], [280 * MB]).ok
    assert not compared([200 * MB], [280 * MB], dataclasses.replace(DEFAULTS, max_ratio=1.2)).ok


def test_no_readings_on_either_side_fail_closed():
    """A side with no reading (or only zeros: a process already gone) is a failure naming the side."""
    assert compared([], [100 * MB]).problems == ("no memory readings of the release being replaced (fail closed)",)
    assert compared([100 * MB], [0]).problems == ("no memory readings of the new release (fail closed)",)
