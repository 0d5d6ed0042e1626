"""Runbook timing tables from the recorded releases (DEVOPS-014: "actual timings").

``gates report --runbook-timings`` reads every record under the records folder
and rewrites the block between the timing markers of
``production_deploy.md`` and ``rollback_procedures.md``: the median duration of
each step that passed, per environment, with the number of runs it is the
median of. Text outside the markers is never touched.

The latest release's record then says which runbooks were rewritten and, with
``--commit``, the commit that holds them: only those files are committed (an
explicit pathspec, whatever else is staged), with a message naming the release.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gates.core.errors import GatesError, UsageError
from gates.core.procs import run
from gates.evidence.record import Record, latest
from gates.evidence.state import DocsUpdate

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


GIT_TIMEOUT = 30.0


def _git(repo: Path, *args: str) -> str:
    return run(["git", "-C", str(repo), *args], timeout=GIT_TIMEOUT).stdout.strip()


def repository_of(folder: Path) -> Path | None:
    """The top of the git work tree holding ``folder``, or None when it is in none."""
    try:
        return Path(_git(folder, "rev-parse", "--show-toplevel"))
    except GatesError:
        return None


def commit_runbooks(repo: Path, paths: Sequence[Path], message: str) -> str:
    """Commit exactly ``paths`` (whatever else is staged stays staged) and return the SHA holding them;
    unchanged runbooks are not committed again: the SHA is then the last commit that touched them."""
    names = [str(p.relative_to(repo)) for p in paths]
    _git(repo, "add", "--", *names)
    if _git(repo, "status", "--porcelain", "--", *names):
        _git(repo, "commit", "--quiet", "-m", message, "--", *names)
        return _git(repo, "rev-parse", "HEAD")
    return _git(repo, "log", "-1", "--format=%H", "--", *names)


def update_docs(root: Path, folder: Path, commit: bool) -> tuple[list[tuple[Path, int]], Record | None]:
    """Rewrite the runbooks' timing tables, commit them with ``commit``, and note both in the latest
    release's record (returned; None when there is none yet). Everything is checked before any file
    changes: the runbooks' markers, and with ``commit`` a release to name and a git repository."""
    found = latest(root)
    record = Record.load(found) if found is not None else None
    running = record is not None and record.outcome == "running"
    repo = repository_of(folder.resolve())
    if commit:
        if record is None or running:
            why = "no release record yet" if record is None else f"release {record.id} is still running"
            raise UsageError(f"gates report --commit: {why}: the commit names the release the timings come from")
        if repo is None:
            raise UsageError(
                f"gates report --commit: {folder} is not in a git repository: nothing to commit the runbooks to"
            )
    updated = update_runbooks(root, folder)
    paths = [path.resolve() for path, _ in updated]
    sha = None
    if commit and record is not None and repo is not None:
        message = f"Runbooks: step timings as of release {record.id}\n\nMedians of {updated[0][1]} recorded releases."
        sha = commit_runbooks(repo, paths, message)
    if record is None or running:
        return updated, None  # a running release writes its own record: it is not touched here
    names = tuple(str(p.relative_to(repo)) if repo is not None else str(p) for p in paths)
    record.note_docs(DocsUpdate(names, sha))
    return updated, record
