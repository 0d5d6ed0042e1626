"""The record of a release: one folder of evidence under reports/deploys/.

``record.json`` (steps with start, end, outcome; releases; commit),
``summary.md`` (what ran, what passed, links to every report and log), ``index.html``
(the summary as a page, with every HTML report of the folder linked), the HTML reports
and the command logs. Written after every step, so a release
that dies still leaves what it did.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from gates.core.errors import GatesError
from gates.core.measurement import utcnow
from gates.core.redact import keep, keep_folder, redact
from gates.evidence.comparison import comparison_html
from gates.evidence.completion import completion_block
from gates.evidence.junit import junit_summary
from gates.evidence.markdown import page, to_html
from gates.evidence.proofs import proof_rows, proof_table
from gates.evidence.state import DocsUpdate, ReleaseState, StepRecord, release_change

__all__ = ["OUTCOMES", "STEP_OUTCOMES", "Listener", "Record", "StepRecord", "latest"]

OUTCOMES = ("passed", "failed", "rolled_back", "interrupted", "running")
STEP_OUTCOMES = ("passed", "failed", "skipped", "interrupted", "running")

# A listener hears "step" (a step ended, with its StepRecord) and "finish" (with None).
Listener = Callable[[str, "Record", "StepRecord | None"], None]


class Record:
    """The evidence folder of one release, kept up to date as the release runs."""

    def __init__(self, root: Path, commit: str = "", config_path: str = "") -> None:
        started = utcnow()
        self.id = f"{started.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
        self.dir = root / self.id
        self.dir.mkdir(parents=True, exist_ok=False)
        (self.dir / "logs").mkdir()
        self.started_at = started
        self.ended_at: dt.datetime | None = None
        self.commit = commit
        self.config_path = config_path
        self.outcome = "running"
        self.reason = ""
        self.steps: list[StepRecord] = []
        self.releases: dict[str, dict[str, int | None]] = {}
        # The facts the steps establish (drill, backups, probes, sign-off, ...): typed, serialised below.
        self.state = ReleaseState()
        # Paperwork (notifications, incident reports) hooks on here, not into the runner.
        self.listeners: list[Listener] = []
        self._kept: dict[str, Any] = {}
        # Steps may run beside each other (gates.release.schedule): whoever changes the record or its state while
        # another step may write it holds this lock, and every write does.
        self.lock = threading.RLock()
        self._forget_proofs()
        self.write()

    @classmethod
    def load(cls, folder: Path) -> Record:
        """The record of a release that ran, from its record.json, to add what comes after it (the docs)."""
        try:
            data = json.loads((folder / "record.json").read_text())
            record = cls.__new__(cls)
            record.id, record.dir = data["id"], folder
            record.started_at = dt.datetime.fromisoformat(data["started_at"])
            record.ended_at = dt.datetime.fromisoformat(data["ended_at"]) if data.get("ended_at") else None
            record.commit, record.config_path = data.get("commit", ""), data.get("config", "")
            record.outcome, record.reason = data["outcome"], data.get("reason", "")
            record.steps = [StepRecord.from_dict(s) for s in data.get("steps", [])]
            record.releases = dict(data.get("releases") or {})
            record.state = ReleaseState.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GatesError(f"{folder / 'record.json'}: not a readable release record ({exc})") from None
        record.listeners = []
        record.lock = threading.RLock()
        record._forget_proofs()
        # Keys another version of gates wrote are kept as they were when the record is written again.
        record._kept = data
        return record

    def has(self, relative: str) -> bool:
        """Whether ``relative`` (to the record folder) names an existing file."""
        self._looked[relative] = stamp = _stamp(self.dir / relative)
        return stamp is not None

    def failures(self, report: str) -> tuple[str, ...]:
        """'molecule: cause' of each molecule failed in the gate whose JUnit XML is ``report``: read once per
        version of the file, however often the record is written."""
        self._looked[report] = stamp = _stamp(self.dir / report)
        known = self._junit.get(report)
        if known is None or known[0] != stamp:
            known = self._junit[report] = (stamp, junit_summary(self.dir / report)[1])
        return known[1]

    def _forget_proofs(self) -> None:
        self._proofs: tuple[str, dict[str, _Stamp], list[str]] | None = None
        self._looked: dict[str, _Stamp] = {}
        self._junit: dict[str, tuple[_Stamp, tuple[str, ...]]] = {}

    def _proof_table(self) -> list[str]:
        """The Foreground Proof table, built again only when what it reads changed: the record's facts, or a file of
        the folder it looked at (evidence that appeared, a gate's JUnit XML written again)."""
        facts = json.dumps(self.as_dict(), sort_keys=True, default=str)
        if self._proofs is not None:
            built_from, looked, table = self._proofs
            if built_from == facts and all(_stamp(self.dir / name) == seen for name, seen in looked.items()):
                return table
        self._looked = {}
        table = proof_table(proof_rows(self))
        self._proofs = (facts, dict(self._looked), table)
        return table

    def note_docs(self, docs: DocsUpdate) -> None:
        """Record the runbooks rewritten (and committed) after this release."""
        self.state.docs = docs
        self.write()

    def log(self, name: str) -> Path:
        """Path of a command log inside the record (``logs/<name>.log``)."""
        return self.dir / "logs" / f"{name}.log"

    def relative(self, path: Path) -> str:
        return os.path.relpath(path, self.dir)

    @contextlib.contextmanager
    def step(self, name: str, env: str | None = None) -> Iterator[StepRecord]:
        """Time and record a step; an exception marks it failed (or interrupted) and propagates."""
        step = StepRecord(name=name, env=env, started_at=utcnow().isoformat())
        with self.lock:
            self.steps.append(step)
            self.write()
        try:
            yield step
        except KeyboardInterrupt:
            step.outcome = "interrupted"
            step.detail = step.detail or "interrupted"
            raise
        except BaseException as exc:
            step.outcome = "failed"
            step.detail = redact(str(exc)) or type(exc).__name__
            raise
        else:
            if step.outcome == "running":
                step.outcome = "passed"
        finally:
            with self.lock:
                step.ended_at = utcnow().isoformat()
                step.artifacts = [a for a in step.artifacts if (self.dir / a).exists()]
                self.write()
            self._tell("step", step)

    def _tell(self, event: str, step: StepRecord | None) -> None:
        """Call every listener. A GatesError (a required notification failed) fails a step that passed."""
        for listener in list(self.listeners):
            try:
                listener(event, self, step)
            except GatesError as exc:
                if step is None or step.outcome != "passed":
                    continue  # the release already stops; the listener kept its own account
                with self.lock:
                    step.outcome = "failed"
                    step.detail = redact(f"{step.detail}; {exc}" if step.detail else str(exc))
                    self.write()
                raise

    def skip(self, name: str, env: str | None, reason: str) -> StepRecord:
        now = utcnow().isoformat()
        step = StepRecord(name, env, now, now, "skipped", reason)
        with self.lock:
            self.steps.append(step)
            self.write()
        return step

    def finish(self, outcome: str, reason: str = "") -> None:
        with self.lock:
            self.outcome = outcome
            self.reason = redact(reason)
            self.ended_at = utcnow()
            self.write()
        self._tell("finish", None)
        self.write()
        # Whatever entered the folder by other hands (a child's reports, a probe's samples) is masked too, by
        # every secret known by the end: one learnt after a file was written still leaves it.
        keep_folder(self.dir)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self._kept,
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "commit": self.commit,
            "config": self.config_path,
            "outcome": self.outcome,
            "reason": self.reason,
            "steps": [s.as_dict() for s in self.steps],
            "releases": self.releases,
            **self.state.as_dict(),
        }

    def write(self) -> None:
        """Rewrite record.json, summary.md and index.html atomically (a reader never sees half a file), one
        writer at a time: steps running beside each other write the same files."""
        with self.lock:
            _atomic_write(self.dir / "record.json", json.dumps(self.as_dict(), indent=2) + "\n")
            summary = self.summary()
            _atomic_write(self.dir / "summary.md", summary)
            _atomic_write(self.dir / "index.html", self.index(summary))

    def index(self, summary: str) -> str:
        """The record as a page: the summary, then every HTML report in the folder, then the raw files."""
        reports = sorted(p.name for p in self.dir.glob("*.html") if p.name != "index.html")
        links = [f"- [{name}]({name})" for name in reports] or ["- no HTML report yet"]
        more = [
            "",
            "## Reports",
            "",
            *links,
            "",
            "## Files",
            "",
            "- [summary.md](summary.md)",
            "- [record.json](record.json)",
        ]
        # The comparison with the release replaced comes first (gates/evidence/comparison.py), then the timeline.
        first = comparison_html(self.dir)
        return page(f"Release {self.id}: {self.outcome}", first + to_html(summary + "\n".join(more) + "\n"))

    def summary(self) -> str:
        lines = [
            f"# Release {self.id}: {self.outcome}",
            "",
            f"- started: {self.started_at.isoformat()}",
            f"- ended: {self.ended_at.isoformat() if self.ended_at else '(running)'}",
            f"- commit: `{self.commit or 'unknown'}`",
        ]
        if self.reason:
            lines.append(f"- reason: {self.reason}")
        for env, versions in self.releases.items():
            lines.append(f"- {env}: {release_change(versions.get('before'), versions.get('after'))}")
        # "at": the step's start after the release's, so steps that ran beside each other show as overlapping.
        lines += ["", "| step | env | outcome | at | took | detail | evidence |", "|---|---|---|---|---|---|---|"]
        for s in self.steps:
            links = ", ".join(f"[{a}]({a})" for a in s.artifacts)
            detail = s.detail.replace("|", "\\|").replace("\n", " ")
            at = _offset(self.started_at, s)
            lines.append(f"| {s.name} | {s.env or ''} | {s.outcome} | {at} | {_took(s)} | {detail} | {links} |")
        lines += ["", "## Foreground Proof", "", *self._proof_table(), "", *completion_block(self)]
        return "\n".join(lines) + "\n"


def _took(step: StepRecord) -> str:
    if not step.started_at or not step.ended_at:
        return ""
    seconds = (dt.datetime.fromisoformat(step.ended_at) - dt.datetime.fromisoformat(step.started_at)).total_seconds()
    return f"{seconds:.1f}s"


def _offset(started: dt.datetime, step: StepRecord) -> str:
    """When ``step`` started, after the release started: ``+12.3s`` (empty for a step that never started)."""
    if not step.started_at or step.outcome == "skipped":
        return ""
    return f"+{(dt.datetime.fromisoformat(step.started_at) - started).total_seconds():.1f}s"


# A file as the proofs saw it: its modification time and size, or None when it is not a file.
_Stamp = tuple[int, int] | None


def _stamp(path: Path) -> _Stamp:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size) if stat.S_ISREG(st.st_mode) else None


def _atomic_write(path: Path, text: str) -> None:
    keep(path, text)  # atomic, and masked like everything else that enters the record


def latest(root: Path) -> Path | None:
    """The newest record folder under ``root`` (names sort by time)."""
    if not root.is_dir():
        return None
    folders = sorted(p for p in root.iterdir() if (p / "record.json").is_file())
    return folders[-1] if folders else None


def mark_crashed(folder: Path, *steps: tuple[str, str]) -> Record | None:
    """End a record its process left running when it died in ``steps`` ((step, env) each: its journal's steps in
    progress, or the last one it began): outcome interrupted, ``crashed at <step> <env>[, ...]``, an end time.

    The record folder of a release that died keeps what it did; this closes it everywhere it is shown
    (record.json, summary.md, index.html are written again from it), so that nothing reads it as still
    running. A step the journal named but the record never began (the process died between the two
    writes) is added, interrupted: the record then says where it died. The closed record; None when the
    folder has no record that is still running.
    """
    try:
        record = Record.load(folder)
    except GatesError:
        return None
    if record.outcome != "running":
        return None
    now = utcnow()
    begun = {s.title for s in record.steps}
    for step, env in steps:
        named = StepRecord(step, env or None, started_at=now.isoformat(), outcome="running")
        if named.title not in begun:
            record.steps.append(named)
    for rec in record.steps:
        if rec.outcome == "running":
            rec.outcome, rec.ended_at = "interrupted", now.isoformat()
            rec.detail = rec.detail or "the gates process died"
    where = ", ".join(f"{step} {env}".strip() for step, env in steps) or "start"
    record.outcome, record.reason, record.ended_at = "interrupted", f"interrupted (crashed at {where})", now
    record.write()
    return record
