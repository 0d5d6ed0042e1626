"""Runbook timing tables from the recorded releases (DEVOPS-014: "actual timings").

``gates report --runbook-timings`` reads every record under the records folder
and rewrites the block between the timing markers of
``production_deploy.md`` and ``rollback_procedures.md``: the median duration of
each step that passed, per environment, with the number of runs it is the
median of. Text outside the markers is never touched.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gates.errors import UsageError

BEGIN = "<!-- gates:timings:begin -->"
END = "<!-- gates:timings:end -->"
ROLLBACK_STEPS = ("drill", "rollback", "rollback-gate")
RUNBOOKS = {"production_deploy.md": "deploy", "rollback_procedures.md": "rollback"}


def load_records(root: Path) -> list[dict[str, Any]]:
    """Every readable record.json under ``root``, oldest first (folder names sort by time)."""
    if not root.is_dir():
        return []
    records = []
    for path in sorted(root.glob("*/record.json")):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue  # a record being written or damaged is not a timing
    return records


def _seconds(step: dict[str, Any]) -> float | None:
    try:
        took = dt.datetime.fromisoformat(step["ended_at"]) - dt.datetime.fromisoformat(step["started_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return took.total_seconds()


def durations(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str], list[float]]:
    """(step, env) -> seconds of each passed run, in the order steps first appear; drill parts as ``drill: part``."""
    found: dict[tuple[str, str], list[float]] = {}
    for record in records:
        for step in record.get("steps", []):
            seconds = _seconds(step)
            if step.get("outcome") == "passed" and seconds is not None:
                found.setdefault((step["name"], step.get("env") or ""), []).append(seconds)
        drill = record.get("drill") or {}
        for part, seconds in (drill.get("timings") or {}).items():
            if isinstance(seconds, (int, float)):
                found.setdefault((f"drill: {part}", drill.get("env", "")), []).append(float(seconds))
    return found


def table(found: dict[tuple[str, str], list[float]], kind: str, releases: int) -> list[str]:
    """The markdown block (markers included) for one runbook."""

    def wanted(name: str) -> bool:
        rollback = name in ROLLBACK_STEPS or name.startswith("drill: ")
        return rollback if kind == "rollback" else not rollback

    rows = [(k, v) for k, v in found.items() if wanted(k[0])]
    lines = [BEGIN, "", "| step | env | median | runs |", "|---|---|---|---|"]
    lines += [f"| {name} | {env} | {statistics.median(v):.1f} s | {len(v)} |" for (name, env), v in rows]
    if not rows:
        lines.append("| (none recorded yet) | | | 0 |")
    lines += [
        "",
        f"Medians of the steps that passed, from {releases} recorded releases (`gates report --runbook-timings`).",
        "",
        END,
    ]
    return lines


def _split(path: Path) -> tuple[str, str]:
    """The text before and after the timing block."""
    text = path.read_text()
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise UsageError(f"{path}: expected one {BEGIN} ... {END} block for the timing table")
    head, rest = text.split(BEGIN, 1)
    return head, rest.split(END, 1)[1]


def update_runbooks(root: Path, folder: Path) -> list[tuple[Path, int]]:
    """Rewrite the timing table of each runbook in ``folder`` from the records under ``root``."""
    paths = {folder / name: kind for name, kind in RUNBOOKS.items()}
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UsageError(f"no runbook at {', '.join(missing)} (--runbooks names their folder)")
    parts = {path: _split(path) for path in paths}  # every runbook is checked before any is written
    records = load_records(root)
    found = durations(records)
    for path, kind in paths.items():
        head, tail = parts[path]
        path.write_text(head + "\n".join(table(found, kind, len(records))) + tail)
    return [(path, len(records)) for path in paths]
