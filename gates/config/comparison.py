"""``[comparison]``: each gate of a new release judged against the release it replaces.

The release being replaced (the warm previous release on the local platform) and the new one are
visited and sampled alike in the same gate run: the dashboard's screenshots are compared, each route's
p50/p95, each instance's resident memory; the monitor window also judges memory growing with requests.
Each judgement is ``fail`` (a regression fails the gate), ``warn`` (it is reported, the molecule
passes) or ``off``. See docs/comparison.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from gates.core.errors import ConfigError

# The latency judge's fewest samples per route and side (gates.checks.latency.LatencyBounds): fewer fail closed.
MIN_SAMPLES = 20
MODES = ("fail", "warn", "off")


@dataclasses.dataclass(frozen=True)
class ComparisonConfig:
    """What the comparison with the release being replaced judges, and its bounds.

    ``layout``: the dashboard's stylesheet applies and its layout did not collapse (judged on the new
    release alone, whatever the one it replaces looked like).
    ``visual``: the dashboard's screenshots; ``visual_environments`` overrides it per environment
    (``{staging = "warn"}``); ``visual_threshold`` is the fraction of the page's blocks that may
    change. ``routes`` (empty: the app's health paths and the dashboard path) are each requested
    ``samples`` times per release, the two releases alternating. A route regresses when its new p50
    is more than ``max_p50_ratio`` times the old one (p95: ``max_p95_ratio``) and slower by more than
    ``latency_floor_ms`` (p95: ``p95_floor_ms``, wider: a tail of a few dozen samples moves with one stall of a
    busy machine); the p95 is judged by its 95 % bounds (the lowest the new samples allow against the highest
    the old ones allow: gates/checks/latency.py), which more ``samples`` narrow. Memory regresses when the new release's median resident memory
    (its instances, read through those requests) is more than ``max_memory_ratio`` times the old release's
    and larger by more than ``memory_floor_mb``.
    ``growth``: through the monitor window, an instance whose memory grows steadily with requests (a line
    that fits its readings) faster than ``max_growth_mb_per_1000_requests`` and by ``min_growth_mb`` at
    least fails the monitor gate. The judges are gates/checks/{layout,visual,latency,memory}.py.
    """

    layout: str = "fail"
    visual: str = "fail"
    visual_environments: Mapping[str, str] = dataclasses.field(default_factory=dict)
    visual_threshold: float = 0.05
    latency: str = "fail"
    routes: tuple[str, ...] = ()
    samples: int = 30
    max_p50_ratio: float = 2.0
    max_p95_ratio: float = 3.0
    latency_floor_ms: float = 20.0
    p95_floor_ms: float = 100.0
    memory: str = "fail"
    max_memory_ratio: float = 1.5
    memory_floor_mb: float = 32.0
    growth: str = "fail"
    max_growth_mb_per_1000_requests: float = 1.0
    min_growth_mb: float = 16.0

    def visual_mode(self, env: str) -> str:
        """The visual judgement's mode in environment ``env``."""
        return self.visual_environments.get(env, self.visual)

    @property
    def enabled(self) -> bool:
        """Whether any judgement needs the release being replaced kept reachable during the gate."""
        modes = (self.visual, self.latency, self.memory, *self.visual_environments.values())
        return any(m != "off" for m in modes)


def validate_comparison(comparison: ComparisonConfig, path: Path, key: str) -> None:
    modes = {
        "layout": comparison.layout,
        "visual": comparison.visual,
        "latency": comparison.latency,
        "memory": comparison.memory,
    }
    modes |= {"growth": comparison.growth}
    modes |= {f"visual_environments.{env}": mode for env, mode in comparison.visual_environments.items()}
    for name, mode in modes.items():
        if mode not in MODES:
            raise ConfigError(path, f"{key}.{name}", f"expected one of: {', '.join(MODES)}, got {mode!r}")
    if not 0 < comparison.visual_threshold < 1:
        raise ConfigError(
            path, f"{key}.visual_threshold", f"expected a fraction in (0, 1), got {comparison.visual_threshold!r}"
        )
    for name in ("max_p50_ratio", "max_p95_ratio", "max_memory_ratio"):
        if getattr(comparison, name) <= 1:
            raise ConfigError(path, f"{key}.{name}", f"expected a ratio above 1, got {getattr(comparison, name)!r}")
    for name in (
        "latency_floor_ms",
        "p95_floor_ms",
        "memory_floor_mb",
        "max_growth_mb_per_1000_requests",
        "min_growth_mb",
    ):
        if getattr(comparison, name) < 0:
            raise ConfigError(path, f"{key}.{name}", f"expected 0 or more, got {getattr(comparison, name)!r}")
    if not MIN_SAMPLES <= comparison.samples <= 1000:
        raise ConfigError(path, f"{key}.samples", f"expected {MIN_SAMPLES} to 1000 requests, got {comparison.samples}")
    for i, route in enumerate(comparison.routes):
        if not route.startswith("/"):
            raise ConfigError(path, f"{key}.routes[{i}]", f"expected a path starting with /, got {route!r}")
