"""Whether a release is good, decided in one place: the drill's target, `gates rollback`, `gates status` and the
warm set all ask here.

A release is known by its identity (gates.platforms.Release.identity: its build, else its commit), never
by its number: a drill's or a rollback's renumbered copy carries its origin's verdict, and a reset
state folder's new release 2 is not the old release 2. It is GOOD in an environment when the latest
word on it there is a release record that ran to its end (not an interrupted one) whose every step on
that environment passed (deploy with its probe, gate, drill, ...), and nothing rolled back from it
since; BAD otherwise: a step of it failed or was interrupted there, it was rolled back from, the
drill's smoke molecules failed on it, or no record says it passed (fail closed).

The records judged are the environment's ledger (gates/coordination/ledger.py, whose entries have record.json's
shape), which any machine reads, and this machine's record folders; the choice among a platform's
releases is gates.platforms.releases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gates.platforms.base import Release
from gates.platforms.releases import pick, previous_good

if TYPE_CHECKING:
    from gates.config import Config, Environment
    from gates.coordination.ledger import Ledger

__all__ = ["Judgement", "Verdict", "Verdicts", "judge", "pick", "previous_good", "verdicts"]

BROKEN = ("failed", "interrupted")
# A record that ran to its end: an interrupted one (a crash, Ctrl-C) may have stopped between two steps, before
# the rest of its plan could even be skipped, so it never says a release passed every step.
FINISHED = ("passed", "failed", "rolled_back")


@dataclasses.dataclass(frozen=True)
class Verdict:
    good: bool
    why: str


@dataclasses.dataclass(frozen=True)
class Verdicts:
    """The latest verdict on each identity seen in one environment."""

    env: str
    said: Mapping[str, Verdict] = dataclasses.field(default_factory=dict)

    def good(self, identity: str) -> bool:
        verdict = self.said.get(identity)
        return verdict is not None and verdict.good

    def why(self, identity: str) -> str:
        verdict = self.said.get(identity)
        return verdict.why if verdict else f"no release record says every step of it on {self.env} passed"

    def unfit(self, releases: Iterable[Release]) -> set[int]:
        """The numbers of ``releases`` that are not good: what a rollback or a drill must never choose."""
        return {r.version for r in releases if not self.good(r.identity)}


def verdicts(records: Iterable[Mapping[str, Any]], env: str) -> Verdicts:
    """The verdicts ``records`` (record.json's shape, oldest first) give on ``env``'s releases: the last word wins."""
    said: dict[str, Verdict] = {}
    for data in records:
        builds = (data.get("builds") or {}).get(env) or {}
        versions = builds.get("versions") or {}
        name = f"release {data['id']}" if data.get("id") else f"a gates rollback at {data.get('ended_at') or '?'}"
        for identity, why in (builds.get("failed") or {}).items():
            said[identity] = Verdict(False, why)
        rollback = data.get("rollback") or {}
        left = versions.get(str(rollback.get("from"))) if rollback.get("env") == env else None
        if left:
            said[left] = Verdict(False, f"rolled back from on {env} in {name}")
        deployed = builds.get("deployed") or ""
        if not deployed or deployed == left:
            continue
        steps = [s for s in data.get("steps") or [] if s.get("env") == env]
        broken = next((s for s in steps if s.get("outcome") in BROKEN), None)
        if broken is not None:
            said[deployed] = Verdict(False, f"its {broken.get('name')} {env} {broken.get('outcome')} in {name}")
        elif data.get("outcome") in FINISHED and steps and all(s.get("outcome") == "passed" for s in steps):
            said[deployed] = Verdict(True, f"every step on {env} passed in {name}")
    return Verdicts(env, said)


@dataclasses.dataclass(frozen=True)
class Judgement:
    """The verdicts on one environment's releases, the ledger read for them, and what they were judged from."""

    verdicts: Verdicts
    ledger: Ledger
    source: str

    def previous_good(self) -> int | None:
        """From the ledger alone (any machine): the newest release, by the number it served under, whose identity
        is good and is not what serves now."""
        served = [(e.serving, (e.builds.get("versions") or {}).get(str(e.serving))) for e in self.ledger.entries]
        served = [(n, i) for n, i in served if n is not None]
        current = served[0][1] if served else None
        return next((n for n, i in served if i and i != current and self.verdicts.good(i)), None)


def judge(config: Config, env: Environment, record_root: Path) -> Judgement:
    """Judge ``env``'s releases by its ledger and the release records under ``record_root``."""
    from gates.coordination.ledger import ledger_of

    known = ledger_of(config, env)
    local = list(_records(record_root))
    mine = {data.get("id") for data in local}
    records = local + [e.as_record() for e in known.entries if not e.record or e.record not in mine]
    records.sort(key=_when)
    ledger = f"the ledger ({len(known.entries)} entries)" if not known.unavailable else known.unavailable
    return Judgement(verdicts(records, env.name), known, f"{ledger} and the records in {record_root}")


def _when(data: Mapping[str, Any]) -> dt.datetime:
    """When a record said its word: its end (a rollback has only that), else its start."""
    for key in ("ended_at", "started_at"):
        try:
            at = dt.datetime.fromisoformat(str(data.get(key) or ""))
        except ValueError:
            continue
        return at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return dt.datetime.min.replace(tzinfo=dt.UTC)


def _records(record_root: Path) -> Sequence[Mapping[str, Any]]:
    found = []
    for path in sorted(record_root.glob("*/record.json")) if record_root.is_dir() else ():
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # a damaged record says nothing about any release
    return found
