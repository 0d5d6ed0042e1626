"""The memory molecule's two sides: both releases' process trees on this machine, or Fly's machine metrics.

On the local platform both releases run side by side and are read through the same requests
(``route_timings``). On Fly nothing of the release replaced runs beside the new one: its machines'
memory comes from Fly's Prometheus API, read over the minutes before it was replaced, beside the new
release's machines since they took it (gates.monitor.flymemory). The API is ``[monitor] prometheus_url``
with the token in ``prometheus_token_env`` when set, else Fly's API of the app's organization
(``https://api.fly.io/prometheus/<org slug>``, the slug from ``fly status --json``) with ``FLY_API_TOKEN``.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
from pathlib import Path
from typing import Any

import pytest

from gates.config import Config, Environment
from gates.config.comparison import ComparisonConfig
from gates.core.errors import GatesError
from gates.core.measurement import Measurement
from gates.core.redact import redact
from gates.monitor.flymemory import FlyMemory, Windows, metrics_access, plan, read
from gates.target import Target

WHAT = "memory comparison"


@dataclasses.dataclass(frozen=True)
class FlySides:
    """Both releases' machines as Fly's metrics saw them, or why they could not be read."""

    found: FlyMemory | None
    trouble: str = ""

    def memory(self, cfg: ComparisonConfig) -> Measurement:
        from gates.checks.memory import MemoryBounds, rss_within_bounds

        problems = [self.trouble] if self.trouble else list(self.found.problems if self.found else ())
        if problems or self.found is None:
            return Measurement(WHAT, "the new release holds about as much memory as the release it replaces",
                               "no readings", "both releases' machines read from Fly's metrics", False,
                               self.found.source if self.found else "Fly's machine metrics",
                               problems=problems or ["nothing read (fail closed)"])  # fmt: skip
        found = rss_within_bounds(
            self.found.medians("baseline"), self.found.medians("candidate"), MemoryBounds.of(cfg),
            source=self.found.source,
        )  # fmt: skip
        rows = [
            {"release": side, "instance": instance, "readings": len(points),
             "median bytes": statistics.median(v for _, v in points)}
            for side, readings in (("replaced", self.found.baseline), ("new", self.found.candidate))
            for instance, points in sorted(readings.items())
        ]  # fmt: skip
        return dataclasses.replace(found, details=rows)


@pytest.fixture(scope="session")
def compared_memory(
    request: pytest.FixtureRequest, target: Target, gates_config: Config, environment: Environment,
    expected_release: int | None,
) -> Any:  # fmt: skip
    """What the memory molecule judges (``.memory(cfg)``): Fly's machine metrics on Fly, else both releases' process
    trees read through the comparison's requests (which skip, saying why, where there is nothing to compare)."""
    if getattr(target.platform, "name", "") != "fly":
        return request.getfixturevalue("route_timings")
    if gates_config.comparison.memory == "off":
        pytest.skip('[comparison] memory = "off"')
    sides = fly_sides(target.platform, gates_config, environment, expected_release)
    if sides.found is not None and sides.found.windows.skip:
        pytest.skip(sides.found.windows.skip)
    if sides.found is not None and not sides.trouble:
        _plot(request.config, sides.found)
    return sides


def fly_sides(platform: Any, config: Config, env: Environment, serving: int | None, **reading: Any) -> FlySides:
    """Both releases' machines read from Fly's Prometheus API; what failed is said, the token never."""
    try:
        url, token = metrics_access(platform, config, env)
        windows = plan(platform.releases(env), platform.machines(env), serving, env.name)
    except GatesError as exc:
        return FlySides(None, redact(str(exc)))
    if windows.problem or windows.skip:
        return FlySides(FlyMemory(windows, {}, {}, (windows.problem,) if windows.problem else (), url))
    return FlySides(read(url, token, env.app, windows, **reading))


def _plot(config: pytest.Config, found: FlyMemory) -> None:
    """Both releases' machines over their windows, beside the report (as the local comparison's memory plot)."""
    from gates.gaterun.comparison.fixtures import _keep
    from gates.monitor.compareplot import plot_memory_comparison

    windows: Windows = found.windows
    labels = (f"release {windows.baseline_release} (replaced)", f"release {windows.candidate_release} (new)")
    with tempfile.TemporaryDirectory(prefix="gates-comparison-") as tmp:
        png = plot_memory_comparison(
            found.series("baseline"), found.series("candidate"), "memory in use of each Fly machine, both releases",
            Path(tmp) / "memory.png", unit="seconds from each release's first reading", labels=labels,
        ).read_bytes()  # fmt: skip
    _keep(config, {"memory": png}, {"memory": {"baseline": found.medians("baseline"),
                                               "candidate": found.medians("candidate")}})  # fmt: skip
