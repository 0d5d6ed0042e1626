"""A comparison's verdict as the team configured it, on top of the judges (visual, layout, latency, memory).

Each judgement of ``[comparison]`` is ``fail`` (the judge's verdict stands), ``warn`` (a regression is
reported and the molecule passes, saying it only warns) or ``off`` (the molecule skips before judging).
A visual difference approved by a named person (``--accept-visual``) passes saying by whom.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from gates.core.measurement import Measurement


def as_configured(measurement: Measurement, mode: str, accepted_by: str = "", what: str = "") -> Measurement:
    """``measurement`` under its ``[comparison] <what>`` mode: a failure accepted by ``accepted_by`` passes
    saying by whom; in ``warn`` mode it passes saying it only warns; else it stands."""
    if measurement.ok:
        return measurement
    if accepted_by:
        return dataclasses.replace(
            measurement, ok=True, observed=f"{measurement.observed}; accepted by {accepted_by}",
            problems=[f"accepted by {accepted_by} (--accept-visual): {p}" for p in measurement.problems],
        )  # fmt: skip
    if mode == "warn":
        said = f'warned, not failed ([comparison] {what} = "warn")'
        return dataclasses.replace(measurement, ok=True, problems=[f"{said}: {p}" for p in measurement.problems])
    return measurement


def with_failed_requests(measurement: Measurement, failures: Mapping[str, str]) -> Measurement:
    """``measurement`` failing also for each route whose comparison request failed (route -> what it got): a
    failed request has no duration, so the latency judge alone would only see fewer samples."""
    if not failures:
        return measurement
    said = [f"{route}: a request failed: {why}" for route, why in sorted(failures.items())]
    return dataclasses.replace(measurement, ok=False, problems=[*said, *measurement.problems])
