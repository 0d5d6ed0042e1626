"""Durations as people write them on a command line or in a config: ``30s``, ``5m``, ``1h``, ``250ms``."""

from __future__ import annotations

import re

from gates.core.errors import UsageError

_DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h|d)$")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# The longest window anyone means: a week of monitoring. `--for 99999h` is a typo, not an 11-year plan.
MAX_SECONDS = 7 * 86400.0


def parse_duration(text: str, where: str) -> float:
    """Seconds in ``text``; UsageError naming ``where`` for anything but a positive number with a unit."""
    m = _DURATION.match(text.strip())
    seconds = float(m.group("n")) * _SECONDS[m.group("unit")] if m else 0.0
    if seconds <= 0:
        raise UsageError(f"{where}: expected a duration like 30s, 5m or 1h, got {text!r}")
    if seconds > MAX_SECONDS:
        raise UsageError(f"{where}: {text!r} is longer than the 7d gates allows for one window")
    return seconds
