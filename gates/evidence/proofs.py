"""The release plan's "Foreground Proof", item by item: what proves each of its 15 items in a record.

Each row names the item as the plan does (1 CI green ... 15 WORK COMPLETE), what the plan asks
as proof, the evidence in the record that gives it (links relative to the record folder, each an
existing file), or the reason it is absent: waived, not configured, failed, not run. Read from the
record alone (its steps and its release state): a step that passed but left none of its evidence
is ``missing``, never proven. ``summary.md`` shows the table; ``index.html`` renders the same rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from gates.evidence.completion import RecordView
from gates.evidence.state import StepRecord

__all__ = ["PROVEN", "ProofRow", "ProofView", "proof_rows", "proof_table"]

PROVEN = "proven"
FAILED = "failed"
WAIVED = "waived"
NOT_CONFIGURED = "not configured"
NOT_RUN = "not run"
NOT_COMMITTED = "not committed"
MISSING = "missing"
PENDING = "pending"

# Which built-in molecules carry an item, to name a waiver of any of them (the state keys them "<env>: <molecule>").
SMOKE = (
    "test_dashboard_loads_inside_the_admin_frame",
    "test_every_tile_shows_data",
    "test_no_console_errors_in_any_frame",
)
HEALTH = ("test_every_health_path_answers_200", "test_every_machine_answers_every_health_path")
FLAGS = ("test_every_flag_is_false_in_production",)
ZERO_DOWNTIME = ("test_no_request_failed_during_the_rollout", "test_environment_serves_the_release_just_deployed")
DATABASE = (
    "test_every_migration_is_applied", "test_no_unknown_migration_is_applied", "test_tables_the_migrations_create_exist",
    "test_no_applied_migration_was_edited", "test_every_exposed_table_has_rls_enabled",
)  # fmt: skip
# How the migrate step says an environment has no database (gates.release.migrate): nothing to prove.
NO_DATABASE = "no database configured"


class ProofView(RecordView, Protocol):
    """What the proofs read of a release record (gates.evidence.record.Record is one)."""

    @property
    def id(self) -> str: ...
    def has(self, relative: str) -> bool:
        """Whether the file ``relative`` (to the record folder) exists."""
        ...

    def failures(self, report: str) -> tuple[str, ...]:
        """'molecule: cause' of each molecule failed in the gate whose JUnit XML is ``report`` (relative)."""
        ...


@dataclasses.dataclass(frozen=True)
class ProofRow:
    """One item of the plan's Foreground Proof and what this release holds for it."""

    number: int
    title: str  # as the plan names the item
    proof: str  # what the plan asks as proof
    status: str  # proven | failed | waived | not configured | not run | not committed | missing | pending
    evidence: tuple[str, ...]  # links relative to the record folder, each an existing file
    note: str  # what the evidence shows, or why it is absent

    @property
    def ok(self) -> bool:
        return self.status == PROVEN


def _last(record: ProofView, name: str, production: bool | None) -> StepRecord | None:
    """The last step of that name (on a production, a non-production, or any environment)."""
    found = [
        s
        for s in record.steps
        if s.name == name and (production is None or (s.env == record.state.production_env) == production)
    ]
    return found[-1] if found else None


def _of(step: StepRecord, *suffixes: str) -> tuple[str, ...]:
    """The step's artifacts ending in one of ``suffixes``, in order."""
    return tuple(a for a in step.artifacts if a.endswith(suffixes))


def _waived(record: ProofView, env: str | None, molecules: Sequence[str]) -> str:
    """The reason a molecule of this item was waived on ``env`` in this release, or ""."""
    return next((r for m in molecules if (r := record.state.waivers.get(f"{env}: {m}"))), "")


def _failed_elsewhere(record: ProofView, step: StepRecord, molecules: Sequence[str]) -> tuple[str, ...]:
    """The molecules a failed gate failed on, when none of them is one of ``molecules``; else ()."""
    if not molecules:
        return ()
    failed = tuple(
        dict.fromkeys(f.split(":", 1)[0].split("[", 1)[0] for xml in _of(step, ".xml") for f in record.failures(xml))
    )
    return failed if failed and not set(failed) & set(molecules) else ()


def _from_step(
    record: ProofView,
    row: tuple[int, str, str],
    step: StepRecord | None,
    evidence: Sequence[str],
    said: str,
    absent: str = "",
    molecules: Sequence[str] = (),
) -> ProofRow:
    """An item proven by a step: its outcome, the evidence it left (existing files only), or why none.

    ``absent``: why the item has no step at all (a release still running says so instead).
    """
    number, title, proof = row
    if step is None:
        if record.outcome == "running":
            return ProofRow(number, title, proof, PENDING, (), "the release has not reached it yet")
        status = NOT_CONFIGURED if absent else NOT_RUN
        return ProofRow(number, title, proof, status, (), absent or "no step of this release's plan gives it")
    found = tuple(e for e in evidence if record.has(e))
    if step.outcome == "running":
        return ProofRow(number, title, proof, PENDING, found, f"{step.title} is running")
    if step.outcome in ("skipped", "interrupted"):
        return ProofRow(number, title, proof, NOT_RUN, found, step.detail or f"{step.title} {step.outcome}")
    others = _failed_elsewhere(record, step, molecules) if step.outcome == "failed" else ()
    if step.outcome != "passed" and not others:
        return ProofRow(number, title, proof, FAILED, found, step.detail or f"{step.title} failed")
    if others:  # the gate failed, but not on this item's molecules: they hold
        said = f"{said}; the gate failed on other molecules: {', '.join(others)}"
    reason = _waived(record, step.env, molecules)
    if reason:
        return ProofRow(number, title, proof, WAIVED, found, f"waived: {reason}")
    if not found:
        note = f"{step.title} passed but left no evidence in the record" + (f": {step.detail}" if step.detail else "")
        return ProofRow(number, title, proof, MISSING, (), note)
    return ProofRow(number, title, proof, PROVEN, found, said)


def _ci(record: ProofView) -> ProofRow:
    step = _last(record, "preflight", None)
    evidence = _of(step, ".html") if step else ()
    said = "the preflight's CI molecule: every check run green on the commit released; config lint"
    return _from_step(record, (1, "CI green", "Screenshot"), step, evidence, said)


def _judged(
    record: ProofView,
    row: tuple[int, str, str],
    step: StepRecord | None,
    own: tuple[str, ...],
    gate: StepRecord | None,
    molecules: Sequence[str],
) -> ProofRow:
    """A step, then the gate that judged what it did: the step's outcome while it did not pass, then the
    gate's verdict on ``molecules``; the evidence is the gate's report and the step's own files ``own``."""
    if step is None or step.outcome != "passed":
        return _from_step(record, row, step, own, "")
    said = f"{step.detail}; gate: {gate.detail}" if gate else ""
    return _from_step(record, row, gate, (*own, *(_of(gate, ".html") if gate else ())), said, molecules=molecules)


def _deployed(record: ProofView, row: tuple[int, str, str], production: bool) -> ProofRow:
    """The rollout's probe file, and the gate's report: every instance on the release and healthy (the
    probe's timeline too, in production)."""
    deploy, gate = _last(record, "deploy", production), _last(record, "gate", production)
    probe = _of(deploy, ".jsonl") if deploy else ()
    if deploy is not None and deploy.outcome == "passed" and production and record.outcome == "rolled_back":
        rollback = record.state.rollback
        found = tuple(e for e in probe if record.has(e))
        return ProofRow(*row, FAILED, found, f"rolled back: {rollback.reason if rollback else record.reason}")
    return _judged(record, row, deploy, probe, gate, (*HEALTH, *ZERO_DOWNTIME))


def _staging_db(record: ProofView) -> ProofRow:
    """The migration log (none when nothing was pending), and the gate's database molecules (tables, RLS)."""
    step, gate = _last(record, "migrate", False), _last(record, "gate", False)
    row = (3, "Staging DB", "Migration log")
    if step is not None and step.outcome == "passed" and step.detail.startswith(NO_DATABASE):
        return ProofRow(*row, NOT_CONFIGURED, (), step.detail)
    return _judged(record, row, step, _of(step, ".log") if step else (), gate, DATABASE)


def _gate(
    record: ProofView, row: tuple[int, str, str], production: bool, said: str, molecules: Sequence[str]
) -> ProofRow:
    step = _last(record, "gate", production)
    return _from_step(record, row, step, _of(step, ".html") if step else (), said, molecules=molecules)


def _monitor(record: ProofView, row: tuple[int, str, str], suffix: str, said: str = "") -> ProofRow:
    step = _last(record, "monitor", None)
    absent = "no monitoring window in this release ([monitor] window is empty)"
    evidence = _of(step, suffix) if step else ()
    return _from_step(record, row, step, evidence, said or (step.detail if step else ""), absent)


def _signoff(record: ProofView) -> ProofRow:
    step, signoff = _last(record, "signoff", True), record.state.signoff
    said = f"signed by {signoff.by} at {signoff.at} ({signoff.how})" if signoff and signoff.signed else ""
    if step is not None and step.outcome == "passed" and not said:
        return ProofRow(6, "Production plan", "Signed checklist", MISSING, (), "the sign-off passed unsigned")
    return _from_step(record, (6, "Production plan", "Signed checklist"), step, ("record.json",), said)


def _backup(record: ProofView) -> ProofRow:
    step = _last(record, "backup", True)
    backup = record.state.proven_backup(record.state.production_env)
    row = (7, "Production DB backup", "File path")
    if step is not None and step.outcome == "passed" and backup is None:
        return ProofRow(*row, FAILED, (), "the backup was not proven by a restore")
    evidence = (backup.path,) if backup else ()
    return _from_step(record, row, step, evidence, f"{backup.path}: {backup.said}" if backup else "")


def _video(record: ProofView) -> ProofRow:
    gate = _last(record, "gate", True)
    row = (11, "Production smoke", "Video")
    if gate is None:
        return _from_step(record, row, None, (), "")
    videos = _of(gate, ".webp") or tuple(f"{a[: -len('.html')]}-video.webp" for a in _of(gate, ".html"))
    found = tuple(v for v in videos if record.has(v))
    said = "smoke molecules passed; " + (
        "the visit's video" if found else "no video file: the screenshot (and any recording) is in the report"
    )
    return _from_step(record, row, gate, (*found, *_of(gate, ".html")), said, molecules=SMOKE)


def _drill(record: ProofView) -> ProofRow:
    drill, step = record.state.drill, _last(record, "drill", None)
    row = (13, "Rollback test", "Success log")
    if drill is not None and drill.waived and step is not None and step.outcome == "passed":
        return ProofRow(*row, WAIVED, (), drill.said)
    evidence = (drill.report, *drill.reports) if drill else ()
    return _from_step(record, row, step, tuple(dict.fromkeys(e for e in evidence if e)), drill.said if drill else "")


def _docs(record: ProofView) -> ProofRow:
    docs = record.state.docs
    row = (14, "Docs updated", "Commit SHA")
    if docs is None:
        return ProofRow(
            *row, NOT_RUN, (), "runbooks not updated from this release yet (`gates report --runbook-timings`)"
        )
    return ProofRow(*row, NOT_COMMITTED if docs.commit is None else PROVEN, ("record.json",), docs.said)


def _feedback(record: ProofView) -> ProofRow:
    state = record.state
    row = (15, "WORK COMPLETE", "Feedback entry")
    if state.feedback:
        found = (state.feedback,) if record.has(state.feedback) else ()
        status = PROVEN if found else MISSING
        return ProofRow(*row, status, found, "this release's entry in the team's feedback log: its WORK COMPLETE block")
    if state.feedback_error:
        return ProofRow(*row, FAILED, ("summary.md",), state.feedback_error)
    if record.outcome == "running":
        return ProofRow(*row, PENDING, (), "appended when the release ends")
    note = "no feedback log ([record] feedback is empty): the block ends this summary"
    return ProofRow(*row, NOT_CONFIGURED, ("summary.md",), note)


def proof_rows(record: ProofView) -> list[ProofRow]:
    """The 15 items of the Foreground Proof, in the plan's order, each with its evidence or why not."""
    production = "production gate: "
    return [
        _ci(record),
        _deployed(record, (2, "Staging deployed", "Fly.io status"), False),
        _staging_db(record),
        _gate(record, (4, "Staging smoke tests", "Pass output"), False, "the staging gate passed", SMOKE),
        _monitor(record, (5, "Monitoring", "Screenshot"), "-gate.html", "health checks every <=30s, a test alert"),
        _signoff(record),
        _backup(record),
        _deployed(record, (8, "Production deploy", "Fly.io log"), True),
        _gate(record, (9, "Health checks", "All 200 responses"), True, production + "every health path 200", HEALTH),
        _gate(record, (10, "Feature flags", "All false"), True, production + "every flag false", FLAGS),
        _video(record),
        _monitor(record, (12, "Metrics (1 hour)", "Dashboard screenshot"), ".png"),
        _drill(record),
        _docs(record),
        _feedback(record),
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def proof_table(rows: Sequence[ProofRow]) -> list[str]:
    """The rows as a markdown table (links relative to the record folder)."""
    lines = ["| # | proof | asked | status | evidence | note |", "|---|---|---|---|---|---|"]
    for r in rows:
        links = ", ".join(f"[{e}]({e})" for e in r.evidence)
        lines.append(f"| {r.number} | {r.title} | {r.proof} | {r.status} | {links} | {_cell(r.note)} |")
    return lines
