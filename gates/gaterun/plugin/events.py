"""The events of a gate run: one JSON line per molecule as it finishes, for whoever tells the release."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gates.core.redact import redact
from gates.gaterun.plugin.evidence import problem_of, property_of, verdict_of
from gates.gaterun.plugin.selection import CONCERN_PROPERTY, SEED_STEP_PROPERTY


class EventWriter:
    """One JSON line per molecule as it finishes (and one when collection ends), flushed at once, so the
    release can say each verdict while the gate still runs. Runs on the controller: xdist is covered."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def _write(self, event: dict[str, Any]) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps(event) + "\n")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._write({"event": "collected", "total": len(session.items)})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # A test ends at its call, or earlier when its setup failed or skipped; a failed teardown adds an error.
        ended = (
            report.when == "call"
            or (report.when == "setup" and not report.passed)
            or (report.when == "teardown" and report.failed)
        )
        if not ended:
            return
        verdict = verdict_of(report)
        message = problem_of(report) if verdict in ("failed", "error") else ""
        if verdict == "skipped" and isinstance(report.longrepr, tuple):
            message = redact(str(report.longrepr[2]).removeprefix("Skipped: "))  # the reason (a waiver says so)
        self._write(
            {
                "event": "molecule", "name": report.head_line or report.nodeid, "nodeid": report.nodeid,
                "outcome": verdict, "message": message, "seconds": round(report.duration, 3),
                "seed_step": property_of(report, SEED_STEP_PROPERTY), "concern": property_of(report, CONCERN_PROPERTY),
            }
        )  # fmt: skip
