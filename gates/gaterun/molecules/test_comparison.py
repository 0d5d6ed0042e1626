"""The new release judged against the one it replaces, visited and sampled alike in the same run.

The release replaced stays reachable beside the new one for the gate (the warm previous release);
where there is none (a first release, a platform that runs no previous release beside the new one)
each molecule skips saying why, and one that was expected but is missing fails. See docs/comparison.md.
"""

from __future__ import annotations

import pytest

from gates.checks.comparison import as_configured

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.comparison]


def test_the_dashboard_looks_like_the_release_it_replaces(dashboards, verdict):
    """At most [comparison] visual_threshold of the dashboard's screenshot changed against the release it replaces,
    unless the change was accepted (--accept-visual, by a named person) or the environment only warns."""
    if dashboards.mode == "off":
        pytest.skip('[comparison] visual = "off" in this environment')
    verdict(dashboards.looks_alike())


def test_each_route_answers_as_fast_as_the_release_it_replaces(route_timings, gates_config, verdict):
    """Each route's p50 and p95, sampled alternately from both releases, stay within the configured ratios of the
    release it replaces (or within the floor); each failing route is named with both figures."""
    cfg = gates_config.comparison
    if cfg.latency == "off":
        pytest.skip('[comparison] latency = "off"')
    verdict(as_configured(route_timings.latency(cfg), cfg.latency, what="latency"))


def test_memory_holds_like_the_release_it_replaces(compared_memory, gates_config, verdict):
    """After the same requests, each instance of the new release holds no more resident memory than the release
    it replaces times [comparison] max_memory_ratio (or within memory_floor_mb). On Fly, each machine's memory in
    use from Fly's metrics: the release replaced before it was replaced, the new one since it took over."""
    cfg = gates_config.comparison
    if cfg.memory == "off":
        pytest.skip('[comparison] memory = "off"')
    verdict(as_configured(compared_memory.memory(cfg), cfg.memory, what="memory"))
