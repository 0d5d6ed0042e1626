"""What a healthy answer to a health path is, and the header naming the release that answered: shared by the health
molecules, the probe's sampler and the platforms' readiness."""

from __future__ import annotations

from typing import Any

HEALTHY_STATUSES = ("ok", "healthy", "pass")
RELEASE_HEADER = "X-Release"  # the release that answered (the demo app sends it; so can any app)


def healthy_body(body: Any) -> bool:
    """A health body is healthy unless it is a JSON object whose ``status`` is not ok, healthy or pass."""
    return not (isinstance(body, dict) and "status" in body) or str(body["status"]).lower() in HEALTHY_STATUSES
