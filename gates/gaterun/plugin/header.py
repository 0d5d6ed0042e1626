"""The HTML report opens with what was gated, and each row names its seed step."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from pathlib import Path
from typing import Any

import pytest

from gates import config as config_mod
from gates.core.errors import GatesError
from gates.core.markers import gate_of_run
from gates.core.redact import redact
from gates.gaterun.plugin.evidence import property_of
from gates.gaterun.plugin.selection import (
    CONCERN_PROPERTY,
    SEED_STEP_PROPERTY,
    TARGET_KEY,
    explicit_env,
    select_environment,
)
from gates.target import open_config


class GatedHeader:
    """What a gate's HTML report says first: environment, URL, release, commit, when, verdict, the record."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = dt.datetime.now(dt.UTC)
        self.report: Any = None  # pytest-html's report, kept from the title hook to retitle it at the end

    def environment(self) -> config_mod.Environment | None:
        """The gated environment: the resolved target, else (on an xdist controller, which does not collect)
        the one its options select; None when there is none."""
        target = self.config.stash.get(TARGET_KEY, None)
        if target is not None:
            return target.env
        try:
            cfg = open_config(self.config.getoption("gates_config"))
            return select_environment(cfg, explicit_env(self.config), self.config.getoption("markexpr") or "")
        except GatesError:
            return None

    def record(self) -> tuple[Path | None, dict[str, Any]]:
        folder = self.config.getoption("gates_record")
        if not folder:
            return None, {}
        try:
            data = json.loads((Path(folder) / "record.json").read_text())
        except (OSError, ValueError):
            return Path(folder), {}
        return Path(folder), data if isinstance(data, dict) else {}

    def facts(self, verdict: str) -> list[tuple[str, str]]:
        """(label, HTML) rows; every value escaped, links relative to the report (it lives in the record)."""
        env = self.environment()
        folder, record = self.record()
        release = self.config.getoption("gates_expect_release")
        commit = self.config.getoption("gates_commit") or record.get("commit") or os.environ.get("GITHUB_SHA", "")
        gate = gate_of_run(self.config.getoption("markexpr") or "", bool(env and env.is_production))
        rows = [
            ("Gate", f"{gate} (-m {self.config.getoption('markexpr') or ''})"),
            ("Environment", f"{env.name} ({env.platform})" if env else "none selected"),
            ("URL", env.url if env else ""),
            ("Release", f"release {release}" if release is not None else "the newest complete release (not pinned)"),
            ("Commit", str(commit or "unknown")),
            ("When", f"{self.started.isoformat(timespec='seconds')} to "
                     f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}"),
            ("Verdict", verdict),
        ]  # fmt: skip
        escaped = [(label, html.escape(redact(value))) for label, value in rows]
        if folder is not None:
            names = ("index.html", "summary.md", "record.json")
            links = ", ".join(f"<a href='{n}'>{n}</a>" for n in names if (folder / n).exists() or n == "index.html")
            escaped.append(("Record", f"{html.escape(str(record.get('id') or folder.name))}: {links}"))
        return escaped

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        self.report = report
        report.title = self.title("running")

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: Any
    ) -> None:
        """Before the counts: what was gated, and the verdict; the title says it too."""
        verdict = _verdict(session)
        if self.report is not None:
            self.report.title = self.title(verdict)
        rows = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in self.facts(verdict))
        prefix.insert(0, f"<style>{_FIRST_SCREEN}</style><table class='gates-gated' id='gates-gated'>{rows}</table>")

    def title(self, verdict: str) -> str:
        env = self.environment()
        if env is None:
            return f"gates: release evidence ({verdict})"
        _, record = self.record()
        release = self.config.getoption("gates_expect_release")
        commit = self.config.getoption("gates_commit") or record.get("commit") or os.environ.get("GITHUB_SHA", "")
        gate = gate_of_run(self.config.getoption("markexpr") or "", bool(env and env.is_production))
        said = [
            f"{gate} gate {verdict}",
            f"{env.name} at {env.url}" if env else "",
            f"release {release}" if release is not None else "",
            f"commit {str(commit)[:12]}" if commit else "",
        ]
        return redact(": ".join([said[0], ", ".join(p for p in said[1:] if p)]))


# The report opens with the title and what was gated (in the summary), then the results; pytest-html's
# Python/platform table moves below them (the page is a flex column, so only the order changes).
_FIRST_SCREEN = (
    "body{display:flex;flex-direction:column}#environment-header,#environment{order:1}"
    "#environment{align-self:flex-start}footer{order:2}"
    ".gates-gated th{text-align:right;padding-right:.6em}.gates-gated td,.gates-gated th{color:#000}"
    ".gates-gated{margin-bottom:1em;font-size:1.05em}"
)


def _verdict(session: pytest.Session) -> str:
    failed = session.testsfailed
    if failed:
        return f"FAILED ({failed} of {session.testscollected} molecules failed)"
    if not session.testscollected:
        return "FAILED (no molecule ran)"
    return f"PASSED ({session.testscollected} molecules)"


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(2, '<th class="sortable" data-column-type="seedstep">Step</th>')
    cells.insert(3, '<th class="sortable" data-column-type="concern">Concern</th>')


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    cells.insert(2, f'<td class="col-seedstep">{html.escape(property_of(report, SEED_STEP_PROPERTY))}</td>')
    cells.insert(3, f'<td class="col-concern">{html.escape(property_of(report, CONCERN_PROPERTY))}</td>')


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_html(report: pytest.TestReport, data: list[str]) -> None:
    # A passing molecule with nothing captured gets no empty "No log output captured." box.
    if report.passed and data == ["No log output captured."]:
        data.clear()
