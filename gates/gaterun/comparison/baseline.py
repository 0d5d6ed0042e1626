"""The two releases a gate compares: the new one serving, and the one it replaces, reachable beside it.

On the local platform the release being replaced is the environment's warm previous release (its
instances kept running out of rotation: production keeps it for an instant rollback, and a release
keeps staging's for its gate). Each side is addressed instance by instance (``http://127.0.0.1:<port>``),
so both are sampled the same way, past the front door. Where nothing of the release being replaced
runs, the pair says why: a first release has nothing to compare, a platform that runs no previous
release beside the new one (Fly, an environment deployed by something else) cannot; a baseline that
was expected (``--baseline-release``) but is not there is a problem, never a skip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from gates.config import Environment
from gates.platforms.base import Instance, Release, Status


@dataclasses.dataclass(frozen=True)
class Side:
    """One release's instances, each reachable by its own address."""

    release: int
    instances: tuple[Instance, ...]

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(f"http://{i.address}" for i in self.instances)


@dataclasses.dataclass(frozen=True)
class Pair:
    """The baseline (the release replaced) and the candidate (the new release); when there is no baseline,
    ``skip`` says why there is nothing to compare, or ``problem`` why an expected one is missing."""

    baseline: Side | None
    candidate: Side | None
    skip: str = ""
    problem: str = ""

    def describe(self) -> str:
        if self.baseline is None or self.candidate is None:
            return self.problem or self.skip
        return f"release {self.candidate.release} against release {self.baseline.release} (the release it replaces)"


def find_pair(
    env: Environment,
    status: Status | None,
    releases: Sequence[Release],
    *,
    serving: int | None,
    expected_baseline: int | None,
    no_baseline: str = "",
    runs_locally: bool = False,
) -> Pair:
    """The pair a gate of ``env`` compares, from the platform's status (None: the platform lists no instance)."""
    candidate = _side(status.instances if status else (), serving) if serving is not None else None
    if candidate is None and status is not None and status.instances and serving is None:
        candidate = _side(status.instances, status.release)
    warm = status.warm if status else ()
    baseline = _side(warm, expected_baseline if expected_baseline is not None else _release_of(warm))
    if expected_baseline is not None:
        if baseline is None:
            seen = ", ".join(f"{i.id} (release {i.release}, {i.state})" for i in warm) or "none"
            return Pair(None, candidate, problem=(
                f"release {expected_baseline}, the release replaced, was to stay reachable beside the new one "
                f"for this gate, but no instance of it runs (warm instances: {seen}); fail closed"
            ))  # fmt: skip
        sick = [i for i in baseline.instances if not i.healthy]
        if sick:
            said = "; ".join(f"{i.id} ({i.state}: {i.checks_said()})" for i in sick)
            return Pair(None, candidate, problem=f"the release replaced ({expected_baseline}) is not healthy: {said}")
    if candidate is None:
        return Pair(baseline, None, problem=f"no instance of the new release ({serving}) serves {env.name}")
    if baseline is not None:
        return Pair(baseline, candidate)
    if no_baseline:
        return Pair(None, candidate, skip=no_baseline)
    if not runs_locally:
        return Pair(None, candidate, skip=(
            f"no baseline on platform {env.platform}: the release {env.name} replaced does not run beside the new one "
            "here (see docs/comparison.md)"
        ))  # fmt: skip
    older = [r for r in releases if r.version < candidate.release and r.status in ("complete", "rolled_back")]
    if not older:
        return Pair(
            None, candidate, skip=f"the first release of {env.name}: there is no release it replaces to compare"
        )
    return Pair(None, candidate, skip=(
        f"release {max(r.version for r in older)}, the release {env.name} replaced, no longer runs beside it "
        "(gates deploy keeps it for the gate; a gate run alone compares only with a warm previous release)"
    ))  # fmt: skip


def _release_of(instances: Sequence[Instance]) -> int | None:
    return next((i.release for i in instances if i.release is not None), None)


def _side(instances: Sequence[Any], release: int | None) -> Side | None:
    mine = tuple(i for i in instances if release is not None and i.release == release and i.address)
    return Side(release, mine) if mine and release is not None else None
