"""``[probe]``: the traffic probe that measures downtime during every deploy step."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gates.core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """The traffic probe that measures downtime during every deploy step (see gates/gaterun/probe.py).

    ``paths`` empty: the app's health paths and the browser's dashboard path. ``rate`` is requests
    per second over ``concurrency`` keep-alive connections; ``timeout`` bounds one request (an answer
    later than that is a failed request). ``max_gap_ms``: the longest time the probe may go without a
    successful answer during the rollout (1 s: what a user clicking sees as "the app hung"). A probe
    of fewer than ``min_requests`` requests proves nothing and fails the zero_downtime molecule.
    """

    rate: float = 200.0
    paths: tuple[str, ...] = ()
    concurrency: int = 4
    timeout: float = 2.0
    max_gap_ms: float = 1000.0
    min_requests: int = 100


def validate_probe(probe: ProbeConfig, path: Path, key: str) -> None:
    for name in ("rate", "timeout", "max_gap_ms"):
        if getattr(probe, name) <= 0:
            raise ConfigError(path, f"{key}.{name}", f"expected a positive number, got {getattr(probe, name)!r}")
    for name in ("concurrency", "min_requests"):
        if getattr(probe, name) < 1:
            raise ConfigError(path, f"{key}.{name}", f"expected at least 1, got {getattr(probe, name)!r}")
    for i, p in enumerate(probe.paths):
        if not p.startswith("/"):
            raise ConfigError(path, f"{key}.paths[{i}]", f"expected a path starting with /, got {p!r}")
