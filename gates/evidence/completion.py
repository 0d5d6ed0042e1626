"""The WORK COMPLETE block that ends every release summary (DEVOPS-015).

Each line is a claim with the evidence that proves it, read from the record
alone: a line whose evidence is missing is shown unchecked, never assumed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from gates.core.errors import UsageError
from gates.evidence.state import ReleaseState, StepRecord

HEADING = "## WORK COMPLETE"
NOT_COMPLETE = "## Work not complete"


class RecordView(Protocol):
    """What the block reads of a release record (gates.evidence.record.Record is one)."""

    @property
    def outcome(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def steps(self) -> Sequence[StepRecord]: ...
    @property
    def releases(self) -> Mapping[str, Mapping[str, int | None]]: ...
    @property
    def state(self) -> ReleaseState: ...


@dataclasses.dataclass(frozen=True)
class Claim:
    text: str
    done: bool
    evidence: str

    def line(self) -> str:
        return f"- [{'x' if self.done else ' '}] {self.text} ([evidence]({self.evidence}))"


def last_step(record: RecordView, name: str, production: bool) -> StepRecord | None:
    """The last step of that name on a production (or a non-production) environment."""
    found = [
        s for s in record.steps if s.name == name and s.env and (s.env == record.state.production_env) == production
    ]
    return found[-1] if found else None


def _evidence(step: StepRecord | None, suffix: str = ".html") -> str:
    if step is None:
        return "record.json"
    return next(
        (a for a in step.artifacts if a.endswith(suffix)), step.artifacts[0] if step.artifacts else "record.json"
    )


def _deployed(record: RecordView, production: bool, label: str) -> Claim:
    deploy, gate = last_step(record, "deploy", production), last_step(record, "gate", production)
    ok = bool(deploy and gate and deploy.outcome == gate.outcome == "passed")
    if production and record.outcome == "rolled_back":
        ok = False
    env = gate.env if gate else ("production" if production else "staging")
    after = record.releases.get(env or "", {}).get("after")
    state = "gate passed" if ok else f"gate {gate.outcome if gate else 'not run'}"
    if production and record.outcome == "rolled_back":
        state += ", then rolled back"
    return Claim(f"{label}: {env} release {after if after is not None else '-'}, {state}", ok, _evidence(gate))


def _monitoring(record: RecordView) -> Claim:
    monitor = last_step(record, "monitor", True)
    if monitor is None:
        return Claim("Monitoring active: no monitoring window in this release ([monitor] window)", False, "record.json")
    ok = monitor.outcome == "passed"
    return Claim(f"Monitoring active: {monitor.detail or monitor.outcome}", ok, _evidence(monitor, ".png"))


def _rollback_tested(record: RecordView) -> Claim:
    drill = record.state.drill
    if drill is None:
        return Claim("Rollback tested: no rollback drill ran in this release", False, "record.json")
    if drill.passed:
        return Claim(f"Rollback tested: drill {drill.said}", True, drill.evidence)
    return Claim(f"Rollback tested: {drill.said}", drill.ok, drill.evidence)


def _next_steps(record: RecordView) -> str:
    incident = record.state.incident
    if record.outcome == "passed":
        return "- Next: 24-hour monitoring period (`gates monitor --env production --for 24h`) ([evidence](summary.md))"
    if record.outcome == "running":
        return "- Next: the release is still running ([evidence](record.json))"
    reason = record.reason or record.outcome
    if incident:
        return f"- Next: fill in the incident report, fix the cause ({reason}), release again ([evidence]({incident}))"
    return f"- Next: fix the cause ({reason}), release again ([evidence](record.json))"


def claims(record: RecordView) -> list[Claim]:
    return [
        _deployed(record, False, "Staging deployed and validated"),
        _deployed(record, True, "Production deployed"),
        _monitoring(record),
        _rollback_tested(record),
    ]


def completion_block(record: RecordView) -> list[str]:
    """The block's lines: a heading that says whether the work is complete, each claim, the next steps."""
    found = claims(record)
    complete = record.outcome == "passed" and all(c.done for c in found)
    heading = HEADING if complete else f"{NOT_COMPLETE} ({record.outcome})"
    return [heading, "", *(c.line() for c in found), _next_steps(record)]


def block_of_summary(summary: Path) -> str:
    """The completion block at the end of a record's summary.md, for pasting elsewhere."""
    lines = summary.read_text().splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith((HEADING, NOT_COMPLETE))]
    if not starts:
        raise UsageError(f"{summary}: no completion block (a record written before gates had one)")
    return "".join(lines[starts[-1] :])
