"""What the steps of one release share, and the shape of a step."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable

from gates.config import Config, Environment
from gates.coordination.journal import Journal
from gates.core.errors import GatesError
from gates.evidence.progress import Reporter
from gates.evidence.record import Record, StepRecord
from gates.evidence.state import Builds, ReleaseState
from gates.gaterun.runner import GateOutcome
from gates.platforms import Platform, Release, platform_for


@dataclasses.dataclass
class Context:
    """What steps share during one release."""

    config: Config
    record: Record
    workers: int = 0
    approve: bool = False  # `gates deploy --approve`: the production sign-off without a terminal
    # `gates deploy --accept-visual`: who approved the release's visual difference (empty: nobody).
    accept_visual: str = ""
    platforms: dict[str, Platform] = dataclasses.field(default_factory=dict)
    # `gates deploy --first-release`: the rollback drill may be waived when there is nothing to roll back to.
    first_release: bool = False
    # The last gate outcome of each environment: automatic rollback names its failed molecules.
    gates: dict[str, GateOutcome] = dataclasses.field(default_factory=dict)
    # Where the release is told as it happens (steps, molecules, waits); silent unless the CLI gives one.
    reporter: Reporter = dataclasses.field(default_factory=Reporter)
    # Where each step's intent is written before it acts (a crash is then repaired by the next command).
    journal: Journal | None = None
    # Steps may run beside each other (gates.release.schedule): what they share here is changed under this lock.
    lock: threading.RLock = dataclasses.field(default_factory=threading.RLock, repr=False, compare=False)

    def intend(self, step: str, env: str) -> None:
        """Write, before the step acts, that it runs now (the journal keeps every step in progress)."""
        with self.lock:
            if self.journal is not None:
                self.journal.intend(step, env)

    def ended(self, step: str, env: str) -> None:
        """Write that the step no longer runs: a crash after it is not repaired as if it were still acting."""
        with self.lock:
            if self.journal is not None:
                self.journal.ended(step, env)

    @property
    def state(self) -> ReleaseState:
        return self.record.state

    def platform(self, env: Environment) -> Platform:
        with self.lock:
            if env.name not in self.platforms:
                self.platforms[env.name] = platform_for(self.config, env)
            return self.platforms[env.name]

    def builds(self, env: Environment) -> Builds:
        """The identities behind this release's numbers in ``env`` (what verdicts on releases are keyed by)."""
        with self.record.lock:
            return self.state.builds.setdefault(env.name, Builds())

    def remember(self, env: Environment, since: int | None) -> list[Release]:
        """Note the identity of every release of ``env`` from number ``since`` on (all when None); those releases,
        oldest first. A platform that cannot list them now leaves the note as it was: it never fails a step."""
        with contextlib.suppress(GatesError):
            releases = sorted(self.platform(env).releases(env), key=lambda r: r.version)
            made = [r for r in releases if since is None or r.version >= since]
            with self.record.lock:
                self.builds(env).versions.update({str(r.version): r.identity for r in made})
            return made
        return []


StepFn = Callable[[Context, Environment, StepRecord], None]


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of the plan. ``after``: the titles of the steps whose pass it waits on (gates.release.schedule);
    None waits on every step before it in the plan, one after another."""

    name: str
    env: str
    run: StepFn
    after: tuple[str, ...] | None = None

    @property
    def title(self) -> str:
        return f"{self.name} {self.env}"
