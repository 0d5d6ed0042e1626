"""Reading a fly.toml: its durations and the HTTP checks that gate routing (shared by the lint and the Fly driver)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(value: Any, bare: float = 0.001) -> float | None:
    """A Fly duration in seconds: "15s", "1m", "500ms", or a bare number of ``bare`` seconds (milliseconds
    under [[services.http_checks]] and [checks]; see ``check_seconds`` for [[http_service.checks]])."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) * bare
    m = _DURATION.match(str(value))
    return float(m.group(1)) * _UNIT[m.group(2) or "ms"] if m else None


def service_checks(data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(key, check) of every HTTP check that gates routing: http_service.checks and services.http_checks."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    http_service = data.get("http_service") or {}
    for i, check in enumerate(http_service.get("checks") or []):
        found.append((f"http_service.checks[{i}]", check))
    for s, service in enumerate(data.get("services") or []):
        for i, check in enumerate(service.get("http_checks") or []):
            found.append((f"services[{s}].http_checks[{i}]", check))
    return found


# flyctl reads [[http_service.checks]] durations as Go durations: a bare integer is nanoseconds.
NANOSECONDS = 1e-9


def bare_unit(key: str) -> float:
    """Seconds per unit of a bare number in the check at ``key`` (a ``service_checks`` key)."""
    return NANOSECONDS if key.startswith("http_service.") else 0.001


def check_seconds(key: str, value: Any) -> float | None:
    """A duration of the service check at ``key``, read as flyctl reads it there."""
    return seconds(value, bare_unit(key))
