"""What a healthy answer to a health path is: shared by the health molecules and the platforms' readiness."""

from __future__ import annotations

from typing import Any

HEALTHY_STATUSES = ("ok", "healthy", "pass")


def healthy_body(body: Any) -> bool:
    """A health body is healthy unless it is a JSON object whose ``status`` is not ok, healthy or pass."""
    return not (isinstance(body, dict) and "status" in body) or str(body["status"]).lower() in HEALTHY_STATUSES
