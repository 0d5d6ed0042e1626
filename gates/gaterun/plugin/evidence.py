"""Evidence: each molecule's measurements into the report (HTML extras, JUnit properties, JSON lines), secrets
out of everything."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from gates.core.measurement import Measurement
from gates.core.redact import redact

MEASUREMENTS_KEY = pytest.StashKey[list[Measurement]]()
IMAGES_KEY = pytest.StashKey[list[tuple[str, bytes]]]()
MEASUREMENT_PROPERTY = "gates_measurement"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    _scrub(report)
    if report.when != "call":
        return
    measurements = item.stash.get(MEASUREMENTS_KEY, [])
    images = item.stash.get(IMAGES_KEY, [])
    if measurements or images:
        added = _html_extras(measurements) if measurements else []
        report.extras = [*getattr(report, "extras", []), *added, *_image_extras(images)]  # type: ignore[attr-defined]


def _scrub(report: pytest.TestReport) -> None:
    """Redact tracebacks and captured output, so terminal, JUnit and HTML are all clean."""
    report.sections = [(title, redact(text)) for title, text in report.sections]
    if report.longrepr is not None:
        text = str(report.longrepr)
        clean = redact(text)
        if clean != text:
            report.longrepr = clean


def _html_extras(measurements: list[Measurement]) -> list[dict[str, Any]]:
    try:
        from pytest_html import extras
    except ImportError:  # pytest-html not installed: the JUnit properties still carry the evidence
        return []
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            *(
                html.escape(str(v))
                for v in (m.name, "ok" if m.ok else "FAILED", m.observed, m.expected, m.source, m.at.isoformat())
            )
        )
        + "".join(f"<tr><td></td><td colspan=5>{html.escape(p)}</td></tr>" for p in m.problems)
        for m in measurements
    )
    table = (
        "<table class='gates-measurements'><tr><th>measurement</th><th>verdict</th><th>observed</th>"
        f"<th>expected</th><th>source</th><th>at</th></tr>{rows}</table>"
    )
    return [extras.html(table), *(extras.json(m.as_dict(), name=m.name) for m in measurements)]


def _image_extras(images: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    try:
        from pytest_html import extras
    except ImportError:
        return []
    return [extras.png(base64.b64encode(png).decode(), name=name) for name, png in images]


class MeasurementWriter:
    """Appends each test's Measurements as JSON lines; runs on the controller, so xdist is covered."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        with self.path.open("a") as fh:
            for key, value in report.user_properties:
                if key == MEASUREMENT_PROPERTY:
                    line = {"test": report.nodeid, "outcome": report.outcome, "measurement": json.loads(str(value))}
                    fh.write(json.dumps(line) + "\n")


def property_of(report: pytest.TestReport, key: str) -> str:
    return next((str(v) for k, v in report.user_properties if k == key), "")


def verdict_of(report: pytest.TestReport) -> str:
    """A finished test's verdict as the gate counts it: passed, failed, error (setup/teardown) or skipped."""
    if report.failed:
        return "failed" if report.when == "call" else "error"
    return report.outcome


def problem_of(report: pytest.TestReport) -> str:
    """A failure's message as JUnit gives it (the crash message), else the whole text; redacted, bounded."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(getattr(crash, "message", "") or report.longreprtext or "")
    return redact(text)[:4000]
