"""The comparison with the release replaced: which pair a gate compares, and the pure judges of both releases."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from gates.checks.comparison import as_configured, with_failed_requests
from gates.checks.memory import MB, MemoryBounds, rss_within_bounds
from gates.config import Environment
from gates.config.comparison import ComparisonConfig, validate_comparison
from gates.core.errors import ConfigError
from gates.core.measurement import Measurement
from gates.evidence.comparison import comparison_html
from gates.gaterun.comparison.baseline import find_pair
from gates.platforms.base import Instance, Release, Status

STAGING = Environment("staging", "local", "http://127.0.0.1:8081")


def _instance(name: str, release: int, port: int, *, healthy: bool = True) -> Instance:
    return Instance(name, release, "UP", healthy, f"127.0.0.1:{port}", pid=port, port=port)


def _release(version: int) -> Release:
    return Release(version, f"ref{version}", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "complete")


def test_the_warm_previous_release_is_the_baseline_of_the_release_serving():
    """The pair is the serving release's instances and the warm ones of the release replaced, each by address."""
    status = Status("staging", STAGING.url, 5, (_instance("a", 5, 9001),), warm=(_instance("w", 4, 9002),))
    pair = find_pair(STAGING, status, [_release(4), _release(5)], serving=5, expected_baseline=4, runs_locally=True)
    assert pair.baseline and pair.candidate and not pair.problem and not pair.skip
    assert pair.baseline.urls == ("http://127.0.0.1:9002",) and pair.candidate.release == 5


def test_a_first_release_has_nothing_to_compare_and_skips_saying_so():
    """No release before the one serving: a skip naming the first release, never a failure."""
    status = Status("staging", STAGING.url, 1, (_instance("a", 1, 9001),))
    pair = find_pair(STAGING, status, [_release(1)], serving=1, expected_baseline=None, runs_locally=True)
    assert "first release of staging" in pair.skip and not pair.problem


def test_a_platform_without_the_previous_release_beside_the_new_one_skips_naming_it():
    """On Fly nothing of the release replaced runs beside the new one: the skip names the platform."""
    fly = Environment("staging", "fly", "https://x.fly.dev")
    status = Status("staging", fly.url, 3, (_instance("m1", 3, 443),))
    pair = find_pair(fly, status, [_release(2), _release(3)], serving=3, expected_baseline=None)
    assert "platform fly" in pair.skip


def test_an_expected_baseline_that_does_not_run_or_is_sick_is_a_problem_not_a_skip():
    """Told which release to compare with, its absence or ill health fails closed; ill health names the instance
    and its cause (here no answer, not an error status)."""
    serving = (_instance("a", 5, 9001),)
    gone = find_pair(STAGING, Status("staging", "", 5, serving), [], serving=5, expected_baseline=4, runs_locally=True)
    assert "release 4, the release replaced, was to stay reachable" in gone.problem and not gone.skip
    silent = dataclasses.replace(
        _instance("w", 4, 9002, healthy=False),
        checks=(("GET /health", "no answer within 5s (ReadTimeout)"), ("haproxy", "DRAIN")),
    )
    sick = Status("staging", "", 5, serving, warm=(silent,))
    assert find_pair(STAGING, sick, [], serving=5, expected_baseline=4).problem == (
        "the release replaced (4) is not healthy: w (UP: GET /health: no answer within 5s (ReadTimeout), haproxy: DRAIN)"
    )


def test_a_failed_comparison_request_fails_the_latency_verdict_naming_its_route():
    """A route whose request failed fails the latency verdict even when the judge saw enough samples."""
    ok = Measurement("latency comparison", "q", "fine", "e", True, "s")
    failed = with_failed_requests(ok, {"/x": "candidate (5): HTTP 500"})
    assert not failed.ok and failed.problems[0] == "/x: a request failed: candidate (5): HTTP 500"
    assert with_failed_requests(ok, {}).ok


def test_an_accepted_or_warned_difference_passes_saying_so():
    """A failed comparison accepted by a person passes naming them; in warn mode it passes saying it warned."""
    failed = rss_within_bounds([50 * MB], [150 * MB], MemoryBounds(1.5, 30 * MB, 1.0, 16 * MB))
    accepted = as_configured(failed, "fail", "Ada <ada@example.com>")
    assert accepted.ok and "accepted by Ada <ada@example.com>" in accepted.observed
    warned = as_configured(failed, "warn", what="memory")
    assert warned.ok and warned.problems[0].startswith('warned, not failed ([comparison] memory = "warn")')
    assert not as_configured(failed, "fail").ok


@pytest.mark.parametrize(
    ("settings", "key"),
    [({"visual": "loud"}, "visual"), ({"visual_environments": {"staging": "x"}}, "visual_environments.staging"),
     ({"max_p50_ratio": 1.0}, "max_p50_ratio"), ({"visual_threshold": 0}, "visual_threshold"),
     ({"samples": 19}, "samples"), ({"routes": ["app"]}, "routes[0]")],
)  # fmt: skip
def test_a_bad_comparison_setting_names_its_key(settings, key):
    """Each bad [comparison] key is refused naming it."""
    with pytest.raises(ConfigError, match=rf"comparison\.{key.replace('[', '.').replace(']', '.')}"):
        validate_comparison(ComparisonConfig(**settings), Path("gates.toml"), "comparison")


def test_the_record_page_opens_with_the_comparison_images(tmp_path):
    """index.html's comparison: each gate's screenshots, difference and plots in order, with what changed."""
    images = [f"staging-gate-comparison-{k}.png" for k in ("memory", "baseline", "difference")]
    for name in images:
        (tmp_path / name).write_bytes(b"png")
    facts = {"images": images, "visual": {"pair": "release 5 against release 4", "said": "0.0% of the page changed"}}
    (tmp_path / "staging-gate-comparison.json").write_text(json.dumps(facts))
    shown = comparison_html(tmp_path)
    assert shown.index("comparison-baseline") < shown.index("comparison-difference") < shown.index("comparison-memory")
    assert "staging-gate: release 5 against release 4" in shown and comparison_html(tmp_path / "none") == ""
