"""Reading a fly.toml: its durations and the HTTP checks that gate routing (shared by the lint and the Fly driver)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(value: Any) -> float | None:
    """A Fly duration in seconds: "15s", "1m", "500ms", or a bare number of milliseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) / 1000.0
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
