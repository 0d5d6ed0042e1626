"""Choosing among a platform's releases: the previous good one, and the target of a rollback.

A release is a target when the platform has it complete, it runs other code than the current one
(a different ref: rolling "back" to the same code proves nothing), and it is not in ``bad`` (the
releases gates.release.goodness does not judge good).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from gates.core.errors import GatesError
from gates.platforms.base import Release


def previous_good(
    releases: Sequence[Release], version: int, bad: Collection[int] = (), *, other_code: bool = True
) -> Release | None:
    """The newest good release older than ``version`` (with ``other_code=False`` it may run the same code)."""
    current = next((r for r in releases if r.version == version), None)
    older = [r for r in releases if r.version < version and r.status == "complete" and r.version not in bad]
    if other_code:
        older = [r for r in older if current is None or r.ref != current.ref]
    return max(older, key=lambda r: r.version, default=None)


def pick(
    releases: Sequence[Release], env: str, to: int | None, bad: Collection[int] = (), *, other_code: bool = True
) -> tuple[Release, Release]:
    """(current, target) of a rollback of ``env``: ``to`` if complete, else ``previous_good``; GatesError when
    there is nothing to roll back to. Every platform's rollback and ``gates rollback`` choose through this."""
    current = max((r for r in releases if r.status == "complete"), key=lambda r: r.version, default=None)
    if current is None:
        raise GatesError(f"{env}: nothing to roll back to: no complete release yet")
    if to is not None:
        target = next((r for r in releases if r.version == to), None)
        if target is None or target.status != "complete":
            state = "does not exist" if target is None else f"is {target.status}"
            raise GatesError(f"{env}: release {to} {state}; only a complete release can be rolled back to")
        return current, target
    target = previous_good(releases, current.version, bad, other_code=other_code)
    if target is None:
        good = (
            "runs other code and is good (every step of it passed, never rolled back from)"
            if other_code
            else "is complete"
        )
        raise GatesError(
            f"{env}: nothing to roll back to: no release older than {current.version} {good} "
            "(--to N rolls back to a named complete release anyway)"
        )
    return current, target
