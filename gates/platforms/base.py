"""The Platform protocol: what gates needs from wherever an app runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from gates.config import Environment

# rolled_back: complete once, then left by a rollback that switched back to the warm previous release.
RELEASE_STATUSES = ("complete", "failed", "running", "rolled_back")


@dataclasses.dataclass(frozen=True)
class Release:
    """One immutable, numbered release of an app in one environment."""

    version: int
    ref: str
    created_at: dt.datetime
    status: str
    commit: str = ""
    description: str = ""

    @property
    def identity(self) -> str:
        """What the release runs, whatever its number: its build (a snapshot's content hash, an image ref), else
        its commit. A rollback's or a drill's renumbered copy has its origin's identity; a reset state folder
        numbers releases anew, identities stay."""
        return self.ref or (f"commit {self.commit}" if self.commit else f"release {self.version}")


@dataclasses.dataclass(frozen=True)
class BuildResult:
    """A built snapshot of the app, ready to start (the local platform builds before it deploys; Fly builds
    remotely during ``fly deploy``, so it has none)."""

    ref: str
    folder: Path
    commit: str
    origin: str  # "commit <sha>[; uncommitted changes not shipped: ...]" or "working tree (not in git)"
    command: str  # [app] build; empty: nothing to build
    reused: bool  # built by an earlier deploy of the same content
    log: Path | None
    seconds: float

    def describe(self) -> str:
        """One line for a release's description: what was built, from what, where its log is."""
        if not self.command:
            # A second release of the same content ships the same snapshot: say so, as for a built one.
            what = f"{'reused build' if self.reused else 'snapshot'} {self.ref} (no build command)"
        elif self.reused:
            what = f"reused build {self.ref}"
        else:
            what = f"built {self.ref} in {self.seconds:.1f}s"
        log = f", build log {self.log}" if self.log else ""
        return f"{what}{log}; from {self.origin}"


@dataclasses.dataclass(frozen=True)
class Instance:
    """One running copy of the app (a process locally, a machine on Fly)."""

    id: str
    release: int | None
    state: str
    healthy: bool
    address: str = ""
    pid: int | None = None
    port: int | None = None
    checks: tuple[tuple[str, str], ...] = ()

    def checks_said(self) -> str:
        """Its checks in one line (``GET /health: no answer within 5s (ReadTimeout), haproxy: UP``): why it is
        healthy or not -- no answer told apart from an answer that is an error."""
        return ", ".join(f"{name}: {result}" for name, result in self.checks) or "no checks reported"


@dataclasses.dataclass(frozen=True)
class Status:
    """What an environment runs right now."""

    env: str
    url: str
    release: int | None
    instances: tuple[Instance, ...]  # in rotation, or meant to be: what the gate judges
    database_url: str = ""
    # The previous release kept running out of rotation for an instant rollback (``keep_previous``).
    warm: tuple[Instance, ...] = ()


@dataclasses.dataclass(frozen=True)
class Secret:
    name: str
    digest: str


@dataclasses.dataclass(frozen=True)
class HealthCheck:
    """One health check of one instance: how often it runs (None when unknown) and its state now."""

    instance: str
    name: str
    interval: float | None
    status: str  # passing | warning | critical (Fly's words; local maps HAProxy's onto them)
    output: str = ""


@dataclasses.dataclass(frozen=True)
class LogLine:
    at: dt.datetime
    instance: str
    message: str


class Platform(Protocol):
    """Deploy, inspect and roll back releases of one app.

    Every method is bounded in time and raises GatesError naming what it
    waited for when the platform does not answer.
    """

    def deploy(self, env: Environment, source: str, strategy: str | None = None) -> Release: ...

    def releases(self, env: Environment) -> Sequence[Release]: ...

    def rollback(self, env: Environment, to: int | None = None) -> Release: ...

    def status(self, env: Environment) -> Status: ...

    def secrets(self, env: Environment) -> Sequence[Secret]: ...

    def health_checks(self, env: Environment) -> Sequence[HealthCheck]: ...

    def logs(self, env: Environment, since: dt.datetime | None = None, limit: int = 200) -> Sequence[LogLine]: ...


@dataclasses.dataclass(frozen=True)
class WarmSet:
    """The previous release's instances kept running out of rotation, and their resident memory."""

    release: int
    instances: int
    rss_bytes: int
    # When it stops (``keep_previous_for`` after the release that replaced it was confirmed); None: it stops when
    # that release is confirmed, or a later deploy replaces it.
    until: dt.datetime | None = None

    def describe(self) -> str:
        memory = f"warm previous release {self.release}: {self.instances} instances, {self.rss_bytes / 2**20:.0f} MB"
        if self.until is None:
            return f"{memory} (out of rotation for an instant rollback; stops once the release after it is confirmed)"
        left = max(0, round((self.until - dt.datetime.now(dt.UTC)).total_seconds()))
        stops = f"stops at {self.until.isoformat(timespec='seconds')}, in {left // 60}m{left % 60:02d}s"
        return f"{memory} (out of rotation for an instant rollback; {stops})"


@runtime_checkable
class KeepsPrevious(Protocol):
    """A platform that can keep the previous release warm (``keep_previous``), so a rollback is a traffic
    switch: its rollback then returns that release itself, not a new one. ``rollback_keeping_warm`` rolls a release
    out anew, never by a switch, and keeps the release it leaves warm in turn (the rollback drill's way back: it
    rehearses a redeploy, and its way forward is a switch back to the release being promoted)."""

    def warm(self, env: Environment) -> WarmSet | None: ...

    def release_confirmed(self, env: Environment) -> list[str]: ...

    def let_warm_go(self, env: Environment) -> list[str]: ...

    def rollback_keeping_warm(self, env: Environment, to: int) -> Release: ...


@runtime_checkable
class PrunesBuilds(Protocol):
    """A platform that keeps builds of the app on this machine, which a release prunes to what can still serve."""

    def prune_builds(self, good: Collection[str]) -> list[str]: ...


def rollback_path(target: int, release: Release) -> str:
    """How a rollback to release ``target`` went: back to its warm instances, or rolled out anew."""
    return "warm switch" if release.version == target else "redeploy"
