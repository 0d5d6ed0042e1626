"""The release state: its steps and the facts they produce for later steps, typed, each verdict computed once.

A step that learns something (the drill's verdict, a proven backup, a probe's summary, the
sign-off) writes it here; the steps after it, the sign-off's checklist, the WORK COMPLETE block,
the notifications and the incident report read it from here. ``record.json`` serialises it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar


@dataclasses.dataclass
class StepRecord:
    """One step of a release as it ran: when, its outcome, a one-line detail, its evidence files."""

    name: str
    env: str | None
    started_at: str = ""
    ended_at: str = ""
    outcome: str = "running"
    detail: str = ""
    artifacts: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRecord:
        """A step as ``as_dict`` wrote it (a step without an environment has no ``env`` key)."""
        return _build(cls, {"env": None, **data})

    @property
    def title(self) -> str:
        return f"{self.name} {self.env}" if self.env else self.name


@dataclasses.dataclass
class Drill:
    """The rollback drill of this release (DEVOPS-013)."""

    env: str
    passed: bool = False
    waived: str = ""  # why the drill was not needed (a first release), empty when it ran
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    report: str = ""  # the smoke gate's report, relative to the record
    reports: list[str] = dataclasses.field(default_factory=list)
    releases: dict[str, int] = dataclasses.field(default_factory=dict)
    smoke_passed: bool | None = None  # the smoke molecules on the previous release (None: they did not run)
    # How staging went back to the previous good release ("redeploy": what the drill rehearses, whatever is warm),
    # how it went back to the release being promoted ("warm switch" | "redeploy"), and what was checked then.
    back: str = ""
    forward: str = ""
    verified: str = ""

    @property
    def ok(self) -> bool:
        """Production may go on: the drill passed, or it was waived with a reason."""
        return self.passed or bool(self.waived)

    @property
    def said(self) -> str:
        """The verdict in words, the same wherever it is shown."""
        if self.passed:
            return f"passed on {self.env}"
        if self.waived:
            return f"waived: {self.waived}"
        return f"the drill on {self.env} failed"

    @property
    def evidence(self) -> str:
        return self.report or "record.json"


@dataclasses.dataclass(frozen=True)
class Backup:
    """A backup taken by this release, proven (or not) by a scratch restore."""

    env: str
    path: str  # relative to the record
    bytes: int
    sha256: str
    verified: bool
    tables: int = 0
    rows: int = 0
    server_version: str = ""

    @property
    def said(self) -> str:
        return f"{self.bytes} bytes, sha256 {self.sha256[:12]}, restored and compared"


@dataclasses.dataclass
class Rollback:
    """The automatic rollback of an environment after its failed gate."""

    env: str
    from_version: int | None
    to_version: int | None
    reason: str
    failed: list[str]
    backup: str = ""
    restore_command: str = ""
    release: int | None = None  # the release the rollback made (it serves the earlier code)
    gate_passed: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["from"], data["to"] = data.pop("from_version"), data.pop("to_version")
        return data


@dataclasses.dataclass
class Builds:
    """What this release's numbers in one environment stood for: the identity (gates.platforms.Release.identity)
    of each release it saw or made, the one its deploy rolled out (even when the rollout failed), and the
    identities it found failing on the way (the drill's smoke on the previous release). Verdicts on releases
    (gates/release/goodness.py) are keyed by these, never by numbers."""

    versions: dict[str, str] = dataclasses.field(default_factory=dict)  # "<release number>" -> identity
    deployed: str = ""
    failed: dict[str, str] = dataclasses.field(default_factory=dict)  # identity -> why it failed

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Notification:
    """One attempt to deliver a release notification."""

    event: str
    at: float
    text: str
    delivered: bool
    delivery: str


@dataclasses.dataclass
class Signoff:
    """The production sign-off: its checklist as it stood, and who signed, when and how."""

    env: str
    checklist: list[dict[str, Any]]
    signed: bool = False
    by: str = ""
    at: str = ""
    how: str = ""


@dataclasses.dataclass(frozen=True)
class DocsUpdate:
    """The runbooks rewritten from the records after this release (DEVOPS-014), and the commit holding them."""

    updated: tuple[str, ...]  # the runbook files (relative to their repository when committed)
    commit: str | None = None  # None: updated but not committed

    @property
    def said(self) -> str:
        files = ", ".join(self.updated)
        if self.commit is None:
            return f"runbooks updated ({files}), not committed (`gates report --runbook-timings --commit`)"
        return f"runbooks committed in {self.commit} ({files})"


@dataclasses.dataclass
class ReleaseState:
    """What the steps of one release have established so far."""

    production_env: str = "production"
    drill: Drill | None = None
    backups: dict[str, Backup] = dataclasses.field(default_factory=dict)
    # A probe's summary per rollout: the environment's name, or "<env>-<kind>" for a second one (a rollback).
    probes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    signoff: Signoff | None = None
    rollback: Rollback | None = None
    # env -> the identities behind this release's numbers there (what verdicts on releases are keyed by).
    builds: dict[str, Builds] = dataclasses.field(default_factory=dict)
    notifications: list[Notification] = dataclasses.field(default_factory=list)
    incident: str = ""
    incident_error: str = ""
    stale_locks: list[str] = dataclasses.field(default_factory=list)
    # env -> where its release lock was held: "database", or "this machine only: <why>" (gates/coordination/lock.py).
    lock_scope: dict[str, str] = dataclasses.field(default_factory=dict)
    # env -> where this release's ledger entry went ("written to gates.releases") or why not (gates/coordination/ledger.py).
    ledger: dict[str, str] = dataclasses.field(default_factory=dict)
    # "<env>: <molecule>" -> the reason, for each built-in molecule [gate] waive skipped in this release.
    waivers: dict[str, str] = dataclasses.field(default_factory=dict)
    # After the release: the runbooks rewritten from its record (`gates report --runbook-timings`).
    docs: DocsUpdate | None = None
    # The team's feedback log the WORK COMPLETE block was appended to (relative to the record).
    feedback: str = ""
    feedback_error: str = ""
    # env -> {"by": signer, "at": time}: the release's visual difference there approved (`--accept-visual`).
    visual_accepted: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    def drill_ok(self) -> bool:
        return self.drill is not None and self.drill.ok

    def drill_said(self) -> str:
        """The drill's verdict for a checklist or a claim (no drill: says so)."""
        return self.drill.said if self.drill else "no rollback drill ran in this release"

    def proven_backup(self, env: str) -> Backup | None:
        """This release's proven backup of ``env``, or None."""
        backup = self.backups.get(env)
        return backup if backup is not None and backup.verified else None

    def delivered(self) -> list[Notification]:
        return [n for n in self.notifications if n.delivered]

    def as_dict(self) -> dict[str, Any]:
        """The record.json keys of the state (only the facts established; the record keeps the rest)."""
        data: dict[str, Any] = {"production_env": self.production_env}
        if self.drill is not None:
            data["drill"] = dataclasses.asdict(self.drill)
        if self.backups:
            backup = next(reversed(self.backups.values()))
            data["backup"] = dataclasses.asdict(backup)
            data["backups"] = {env: dataclasses.asdict(b) for env, b in self.backups.items()}
        if self.probes:
            data["probe"] = self.probes
        if self.signoff is not None:
            data["signoff"] = dataclasses.asdict(self.signoff)
        if self.rollback is not None:
            data["rollback"] = self.rollback.as_dict()
        if self.builds:
            data["builds"] = {env: b.as_dict() for env, b in self.builds.items()}
        data["notifications"] = [dataclasses.asdict(n) for n in self.notifications]
        if self.incident:
            data["incident"] = self.incident
        if self.incident_error:
            data["incident_error"] = self.incident_error
        if self.waivers:
            data["waived"] = self.waivers
        if self.stale_locks or self.lock_scope:
            data["lock"] = {"stale": self.stale_locks, "scope": self.lock_scope}
        if self.ledger:
            data["ledger"] = self.ledger
        if self.docs is not None:
            data["docs"] = {"updated": list(self.docs.updated), "commit": self.docs.commit}
        if self.feedback:
            data["feedback"] = self.feedback
        if self.feedback_error:
            data["feedback_error"] = self.feedback_error
        if self.visual_accepted:
            data["visual_accepted"] = self.visual_accepted
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReleaseState:
        """The state as ``as_dict`` wrote it into record.json (keys a record lacks keep their defaults)."""
        state = cls(production_env=data.get("production_env", "production"))
        if data.get("drill"):
            state.drill = _build(Drill, data["drill"])
        state.backups = {env: _build(Backup, b) for env, b in (data.get("backups") or {}).items()}
        state.probes = dict(data.get("probe") or {})
        if data.get("signoff"):
            state.signoff = _build(Signoff, data["signoff"])
        if data.get("rollback"):
            rollback = dict(data["rollback"])
            rollback["from_version"], rollback["to_version"] = rollback.pop("from", None), rollback.pop("to", None)
            state.rollback = _build(Rollback, rollback)
        state.builds = {env: _build(Builds, b) for env, b in (data.get("builds") or {}).items()}
        state.notifications = [_build(Notification, n) for n in data.get("notifications") or []]
        state.incident = data.get("incident", "")
        state.incident_error = data.get("incident_error", "")
        state.stale_locks = list((data.get("lock") or {}).get("stale") or [])
        state.lock_scope = dict((data.get("lock") or {}).get("scope") or {})
        state.ledger = dict(data.get("ledger") or {})
        state.waivers = dict(data.get("waived") or {})
        if data.get("docs"):
            state.docs = DocsUpdate(tuple(data["docs"].get("updated") or ()), data["docs"].get("commit"))
        state.feedback = data.get("feedback", "")
        state.feedback_error = data.get("feedback_error", "")
        state.visual_accepted = dict(data.get("visual_accepted") or {})
        return state


T = TypeVar("T")


def _build(cls: type[T], data: Mapping[str, Any]) -> T:
    """A dataclass from its asdict form, ignoring keys it does not have (a record of another gates version)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def release_change(before: object, after: object) -> str:
    """How an environment's release moved, for people: ``release 3 -> 4``; ``first release 1`` when nothing
    was released before (never ``release None``); ``release 3 -> (not deployed)`` when nothing came of it."""
    if before is None and after is None:
        return "no release"
    if before is None:
        return f"first release {after}"
    return f"release {before} -> {'(not deployed)' if after is None else after}"
