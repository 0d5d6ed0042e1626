"""Incident reports: what a rollback or a failed production gate leaves for the post-mortem.

``<incidents>/<date>-<record id>.md``: the timeline from the record, the failed
molecules with their measurements (from the gate's measurements JSON lines),
the evidence links, the command that restores the database from this
release's backup, and sections left to fill for the cause and the follow-ups.
``<incidents>`` is ``[record] incidents``, else ``incidents`` beside the records
folder (``reports/deploys`` -> ``reports/incidents``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from gates.core.redact import keep, redact
from gates.evidence.state import release_change

if TYPE_CHECKING:
    from gates.config import Config
    from gates.evidence.record import Record
    from gates.evidence.state import StepRecord

GATE_STEPS = ("gate", "rollback-gate")


def incidents_dir(config: Config, record: Record) -> Path:
    if config.record.incidents:
        return config.resolve(config.record.incidents)
    return record.dir.parent.parent / "incidents"


def is_incident(record: Record) -> bool:
    """A rollback happened, or a gate on production failed."""
    production = record.state.production_env
    if record.outcome == "rolled_back" or record.state.rollback is not None:
        return True
    return any(s.name in GATE_STEPS and s.env == production and s.outcome == "failed" for s in record.steps)


class IncidentWriter:
    """A Record listener: at the finish of an incident, writes the report and links it from the record."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def __call__(self, event: str, record: Record, step: StepRecord | None) -> None:
        if event == "finish" and is_incident(record):
            try:
                path = write_report(record, incidents_dir(self.config, record))
            except OSError as exc:
                # The release's verdict stands; the record says why its report is missing.
                record.state.incident_error = redact(f"incident report not written: {exc}")
                return
            record.state.incident = os.path.relpath(path, record.dir)


def write_report(record: Record, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record.started_at.date().isoformat()}-{record.id}.md"
    keep(path, report(record, path))
    return path


def report(record: Record, path: Path) -> str:
    """The incident report's markdown; links are relative to where it is written."""

    def rel(relative: str) -> str:
        return os.path.relpath(record.dir / relative, path.parent)

    production = record.state.production_env
    versions = record.releases.get(production, {})
    lines = [
        f"# Incident: release {record.id} {record.outcome.replace('_', ' ')}",
        "",
        f"- release record: [summary.md]({rel('summary.md')}), [record.json]({rel('record.json')})",
        f"- commit: `{record.commit or 'unknown'}`",
        f"- outcome: {record.outcome}: {record.reason}",
        f"- {production}: {release_change(versions.get('before'), versions.get('after'))}",
    ]
    rollback = record.state.rollback
    if rollback is not None:
        gate = "passed" if rollback.gate_passed else "FAILED"
        lines.append(
            f"- rolled back {rollback.env}: {rollback.from_version} -> {rollback.to_version}, "
            f"gate after the rollback {gate}"
        )
    lines += [
        "",
        "## Timeline (UTC)",
        "",
        "| started | ended | step | env | outcome | detail |",
        "|---|---|---|---|---|---|",
    ]
    for s in record.steps:
        detail = s.detail.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {s.started_at} | {s.ended_at} | {s.name} | {s.env or ''} | {s.outcome} | {detail} |")
    ended = record.ended_at.isoformat() if record.ended_at else "(running)"
    lines += ["", f"Release ended {ended}: {record.outcome}.", "", "## Failed molecules", ""]
    lines += failed_molecules(record, production) or ["None recorded (see the timeline)."]
    lines += ["", "## Evidence", ""]
    for s in record.steps:
        if s.artifacts and (s.outcome == "failed" or s.name in ("rollback", *GATE_STEPS)):
            lines += [f"- {s.title} ({s.outcome}): " + ", ".join(f"[{a}]({rel(a)})" for a in s.artifacts)]
    lines += ["", "## Restore the database", "", *restore_section(record, production)]
    lines += [
        "",
        "## Cause",
        "",
        "_To fill: what broke, and why no earlier gate caught it._",
        "",
        "## Follow-ups",
        "",
        "- [ ] _To fill: the fix, and the molecule that will catch this next time._",
    ]
    return "\n".join(lines) + "\n"


def failed_molecules(record: Record, production: str) -> list[str]:
    """Each failed molecule of a production gate with its measurements; the rollback's list fills gaps."""
    lines: list[str] = []
    seen: set[str] = set()
    for s in record.steps:
        if s.name not in GATE_STEPS or s.env != production or s.outcome != "failed":
            continue
        stem = next((a[: -len(".html")] for a in s.artifacts if a.endswith(".html")), "")
        measurements = record.dir / f"{stem}-measurements.jsonl" if stem else None
        if measurements is None or not measurements.is_file():
            lines.append(f"- {s.title}: no measurements file in the record ({s.detail})")
            continue
        for name, summaries in _failed_in(measurements).items():
            seen.add(name)
            lines.append(f"### {name} ({s.title})")
            lines += ["", *summaries, ""]
    for entry in record.state.rollback.failed if record.state.rollback else []:
        name = str(entry).split(":", 1)[0]
        if name not in seen:
            lines.append(f"- {entry}")
    return lines


def _failed_in(path: Path) -> dict[str, list[str]]:
    """Test name -> a line per measurement (summary, then its problems), for each failed test."""
    failed: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if line.get("outcome") != "failed":
            continue
        name = str(line.get("test", "?")).rsplit("::", 1)[-1]
        m = line.get("measurement", {})
        verdict = "ok" if m.get("ok") else "FAILED"
        entry = [
            f"- {m.get('name')}: {verdict}: {m.get('source')} -> {m.get('observed')}, expected {m.get('expected')} ({m.get('at')})"
        ]
        entry += [f"  - {p}" for p in m.get("problems", [])]
        failed.setdefault(name, []).extend(entry)
    return failed


def restore_command(env: str, backup: Path) -> str:
    """The command that restores ``env``'s database from a backup this release took."""
    return f"gates restore --env {env} --backup {backup} --yes"


def restore_section(record: Record, production: str) -> list[str]:
    command = record.state.rollback.restore_command if record.state.rollback else ""
    backup = record.state.proven_backup(production)
    if not command and backup is not None:
        command = restore_command(backup.env, record.dir / backup.path)
    if not command:
        return ["No proven backup was taken in this release: there is nothing of this release to restore from."]
    return [
        "The backup taken before this release migrated production (proven by a scratch restore):",
        "",
        f"    {command}",
        "",
        "Rows written since the backup are lost: prefer a forward fix migration when you can.",
    ]
