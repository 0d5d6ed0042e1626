"""The release ledger: every release and rollback of an environment, kept in that environment's database.

One row of ``gates.releases`` (gates/coordination/schema.py) per environment a release touched, written when
the release finishes (``LedgerWriter``, a Record listener) and by ``gates rollback``: outcome, steps
(name, env, outcome, seconds), releases before and after, commit, who signed off, the record's id
and where its evidence is. Any machine that reaches the database reads it back (``read``), so
``gates status``, ``gates rollback`` and ``gates history`` on a fresh machine know the last release
and the previous good one. ``[record] ledger = false`` turns it off; each reader then says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gates.config import Config, DatabaseConfig, Environment
from gates.coordination.dblock import Holder, who
from gates.coordination.schema import SCHEMA, check_not_exposed, connect, ensure, said
from gates.core.errors import GatesError
from gates.core.redact import redact

if TYPE_CHECKING:
    from gates.evidence.record import Record
    from gates.evidence.state import StepRecord
    from gates.platforms.base import Release

OFF = "no ledger: [record] ledger = false"
READ_LIMIT = 200


@dataclasses.dataclass(frozen=True)
class Entry:
    """One row of the ledger: a release (``kind`` deploy) or a ``gates rollback`` of one environment."""

    app: str
    env: str
    kind: str  # deploy | rollback
    record: str
    outcome: str
    reason: str = ""
    started_at: str = ""
    ended_at: str = ""
    commit: str = ""
    release_before: int | None = None
    release_after: int | None = None
    serving: int | None = None  # the release the environment serves after it (a rollback's new release)
    signed_by: str = ""
    evidence: str = ""
    holder: str = ""
    machine: str = ""
    steps: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    releases: dict[str, Any] = dataclasses.field(default_factory=dict)
    rollback: dict[str, Any] | None = None
    written_at: str = ""
    # The identities behind the entry's numbers in this environment (gates.evidence.state.Builds): verdicts key by them.
    builds: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        """The entry in record.json's shape (steps, releases, rollback, builds): what gates/release/goodness.py judges."""
        return {"id": self.record, "outcome": self.outcome, "steps": self.steps, "releases": self.releases,
                "rollback": self.rollback or {}, "builds": {self.env: self.builds}, "started_at": self.started_at,
                "ended_at": self.ended_at}  # fmt: skip

    def line(self) -> str:
        """One line for a terminal: when, what, the outcome, the releases, commit, signer, who and the evidence."""
        versions = f"release {_v(self.release_before)} -> {_v(self.release_after)}"
        if self.kind == "rollback" and self.rollback:
            to, made = self.rollback.get("to"), self.rollback.get("release")
            versions += f" (release {_v(to)}'s code{', by ' + _path(to, made) if made is not None else ''})"
        elif self.serving is not None and self.serving != self.release_after:
            versions += f" (serving {self.serving})"
        parts = [self.ended_at or self.started_at, self.kind, self.record or "-", self.outcome, versions]
        if self.kind == "deploy":
            parts += [f"commit {self.commit[:12] or 'unknown'}", f"signed off by {self.signed_by or 'nobody'}"]
        parts += [f"by {self.holder}" if self.holder else "", f"evidence {self.evidence}" if self.evidence else ""]
        if self.reason:
            parts.append(f"reason: {self.reason}")
        return "  ".join(p for p in parts if p)


def _path(target: int | None, made: int | None) -> str:
    """How a rollback went, as gates.platforms.rollback_path says it: back to the warm release itself, or anew."""
    return "" if made is None else "warm switch" if made == target else "redeploy"


def _v(version: int | None) -> str:
    return "none" if version is None else str(version)


def where(config: Config, env: Environment) -> tuple[str | None, str]:
    """(URL of the database holding ``env``'s ledger, "") or (None, why there is none to read or write)."""
    if not config.record.ledger:
        return None, OFF
    # After that check: gates.database imports psycopg, which a command without a ledger may never need.
    from gates.database import database_url, local_database_name, uses_local_cluster

    check_not_exposed(config)
    if env.database_url_env:
        return database_url(config, env), ""
    if uses_local_cluster(env):
        from gates.database.cluster import LocalCluster

        cluster = LocalCluster.for_config(config)
        if not cluster.running():
            return None, "no ledger reachable: the database is gates' local cluster, which is not running here"
        return cluster.url(local_database_name(env)), ""
    return None, f"no ledger: {env.name} has no database (database_url_env)"


def append(url: str, entry: Entry, waits: DatabaseConfig | None = None) -> None:
    """Add ``entry`` to the ledger of the database at ``url`` (creating gates' schema when missing)."""
    with connect(url, f"gates ledger {entry.app}/{entry.env}", waits) as conn:
        ensure(conn)
        conn.execute(
            f"insert into {SCHEMA}.releases (app, env, kind, record, outcome, reason, started_at, ended_at, "
            "commit, release_before, release_after, serving, signed_by, evidence, holder, machine, steps, "
            "releases, rollback, builds) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "%s::jsonb, %s::jsonb, %s::jsonb, %s::jsonb)",
            (entry.app, entry.env, entry.kind, entry.record, entry.outcome, redact(entry.reason),
             entry.started_at or None, entry.ended_at or None, entry.commit, entry.release_before,
             entry.release_after, entry.serving, entry.signed_by, entry.evidence, entry.holder, entry.machine,
             json.dumps(entry.steps), json.dumps(entry.releases),
             None if entry.rollback is None else json.dumps(entry.rollback), json.dumps(entry.builds)),
        )  # fmt: skip


_READ_SQL = (
    "select app, env, kind, record, outcome, reason, coalesce(started_at::text, '') as started_at, "
    "coalesce(ended_at::text, '') as ended_at, commit, release_before, release_after, serving, signed_by, evidence, "
    "holder, machine, steps, releases, rollback, written_at::text as written_at, "
    # A ledger an older gates wrote (and no writer has updated since) has no builds column yet: read as none.
    "coalesce(to_jsonb(r) -> 'builds', '{}'::jsonb) as builds "
    f"from {SCHEMA}.releases r where app = %s and env = %s order by id desc limit %s"
)


def read(url: str, app: str, env: str, limit: int = READ_LIMIT, waits: DatabaseConfig | None = None) -> list[Entry]:
    """The newest ``limit`` entries of ``app`` in ``env``, newest first (none when gates never wrote here)."""
    with connect(url, f"gates ledger {app}/{env}", waits) as conn:
        exists = conn.execute("select to_regclass(%s)", (f"{SCHEMA}.releases",)).fetchone()
        if exists is None or exists[0] is None:
            return []
        from psycopg.rows import class_row  # loaded with the session by connect: see there

        with conn.cursor(row_factory=class_row(Entry)) as cur:
            return one_per_record(cur.execute(_READ_SQL, (app, env, limit)).fetchall())


def one_per_record(entries: list[Entry]) -> list[Entry]:
    """``entries`` with one entry per release record: a release killed on this machine is written both by the
    lock's next taker (``lost_entry``: who died, no steps) and by the repair of its record (its steps); the
    one with steps tells more, else the newest."""
    best: dict[str, Entry] = {}
    for entry in entries:
        if entry.record and (entry.record not in best or (entry.steps and not best[entry.record].steps)):
            best[entry.record] = entry
    return [e for e in entries if not e.record or best[e.record] is e]


@dataclasses.dataclass(frozen=True)
class Ledger:
    """What the ledger of one environment says: its entries (newest first), or why it says nothing."""

    env: str
    entries: list[Entry]
    unavailable: str = ""  # empty: the entries were read

    @property
    def last(self) -> Entry | None:
        return self.entries[0] if self.entries else None


def ledger_of(config: Config, env: Environment, limit: int = READ_LIMIT) -> Ledger:
    """Read ``env``'s ledger; an unreachable or absent one is said, never raised."""
    try:
        url, why = where(config, env)
    except GatesError as exc:  # an unset database variable: said, not fatal to a reader
        return Ledger(env.name, [], f"ledger unreadable: {said(exc)}")
    if url is None:
        return Ledger(env.name, [], why)
    import psycopg  # only where there is a database to read (gates.coordination.schema.connect says why)

    try:
        return Ledger(env.name, read(url, config.app.name, env.name, limit, config.database))
    except (psycopg.Error, GatesError) as exc:
        return Ledger(env.name, [], f"ledger unreadable: {said(exc)}")


def _seconds(step: Mapping[str, Any]) -> float | None:
    try:
        took = dt.datetime.fromisoformat(step["ended_at"]) - dt.datetime.fromisoformat(step["started_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return round(took.total_seconds(), 1)


def entry_of(config: Config, record: Record, env: str, holder: str = "", machine: str = "") -> Entry:
    """The ledger entry of ``env`` for a finished release ``record``."""
    from gates.evidence.notify import link

    data = record.as_dict()
    versions = data["releases"].get(env, {})
    rollback = data.get("rollback") or None
    serving = versions.get("after")
    if rollback and rollback.get("env") == env and rollback.get("release") is not None:
        serving = rollback["release"]
    signoff = record.state.signoff
    steps = [{"name": s["name"], "env": s.get("env"), "outcome": s["outcome"], "seconds": _seconds(s)}
             for s in data["steps"]]  # fmt: skip
    return Entry(
        app=config.app.name, env=env, kind="deploy", record=record.id, outcome=record.outcome, reason=record.reason,
        started_at=data["started_at"], ended_at=data["ended_at"] or "", commit=record.commit,
        release_before=versions.get("before"), release_after=versions.get("after"), serving=serving,
        signed_by=signoff.by if signoff and signoff.signed else "", evidence=link(config, record, "summary.md"),
        holder=holder, machine=machine, steps=steps, releases=data["releases"], rollback=rollback,
        builds=record.state.builds[env].as_dict() if env in record.state.builds else {},
    )  # fmt: skip


def touched(record: Record) -> list[str]:
    """The environments a release worked on: each with a step that ran (not only skipped). A release that
    ended before any step ran (interrupted, a required notification refused) still held the lock of each of
    its environments: it is in each one's ledger, so no attempt goes unrecorded."""
    ran = list(dict.fromkeys(s.env for s in record.steps if s.env and s.outcome != "skipped"))
    return ran or list(record.state.lock_scope)


class LedgerWriter:
    """A Record listener: at the finish, one entry in the ledger of each environment the release touched.

    The release is over by then: a ledger that cannot be written is said (stderr, the record's
    ``ledger``), never turned into a failed release.
    """

    def __init__(self, config: Config, holder: str = "", machine: str = "") -> None:
        self.config, self.holder, self.machine = config, holder, machine

    def __call__(self, event: str, record: Record, step: StepRecord | None) -> None:
        if event != "finish":
            return
        for name in touched(record):
            entry = entry_of(self.config, record, name, self.holder, self.machine)
            record.state.ledger[name] = write(self.config, self.config.environment(name), entry)


def write(config: Config, env: Environment, entry: Entry) -> str:
    """Append ``entry`` to ``env``'s ledger; return where it went, or say on stderr (and return) why it did not."""
    try:
        url, why = where(config, env)
    except GatesError as exc:
        url, why = None, f"ledger entry not written: {said(exc)}"
    if url is not None:
        import psycopg  # only where there is a database to write (gates.coordination.schema.connect says why)

        try:
            append(url, entry, config.database)
            return f"written to {SCHEMA}.releases of {env.name}'s database"
        except (psycopg.Error, GatesError) as exc:
            why = f"ledger entry not written: {said(exc)}"
    print(f"gates: {env.name}: {why}", file=sys.stderr, flush=True)
    return why


def write_rollback(
    config: Config, env: Environment, versions: tuple[Release, Release, Release | None], outcome: str, reason: str = ""
) -> str:
    """Write a ``gates rollback`` of ``env`` into its ledger: (from, to, the release it made) and how it ended."""
    return write(config, env, rollback_entry(config, env.name, versions, outcome, reason))


def rollback_entry(
    config: Config, env: str, releases: tuple[Release, Release, Release | None], outcome: str, reason: str = ""
) -> Entry:
    """The entry of a ``gates rollback`` of ``env``: (from, to, the release it made) and how it ended."""
    from gates.core.measurement import utcnow

    current, target, made = (None if r is None else r.version for r in releases)
    builds = {"versions": {str(r.version): r.identity for r in releases if r is not None}}
    holder, machine = who()
    return Entry(
        app=config.app.name, env=env, kind="rollback", record="", outcome=outcome, reason=reason,
        ended_at=utcnow().isoformat(), release_before=current, release_after=made,
        serving=made if outcome == "passed" else current, holder=holder, machine=machine,
        releases={env: {"before": current, "after": made}},
        rollback={"env": env, "from": current, "to": target, "release": made, "path": _path(target, made)},
        builds=builds,
    )  # fmt: skip


COMMANDS = ("deploy", "rollback", "migrate", "restore")


def lost_entry(config: Config, env: str, left: Holder) -> Entry:
    """The entry of a command whose holder died holding ``env``'s lock (its row was found with its session gone)."""
    from gates.core.measurement import utcnow

    words = left.command.split()
    kind = next((w for w in words if w in COMMANDS), "command")
    holder, machine = who()
    return Entry(
        app=config.app.name, env=env, kind=kind, record=left.record, outcome="interrupted",
        reason=f"killed: {left.describe()} ended without finishing (its database session was gone at "
        f"{utcnow().isoformat(timespec='seconds')}, found by {holder} on {machine})",
        started_at=left.started_at, holder=f"{left.user}@{left.host}" if left.user else left.host,
        machine=left.machine or left.host,
    )  # fmt: skip
