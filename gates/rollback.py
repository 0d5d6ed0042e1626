"""Which release a rollback goes to: the previous good one, judged by the platform and the records.

A release is good when the platform has it complete, it runs other code than the current one
(a different ref: rolling "back" to the same code proves nothing), and no release record shows a
failed gate on it (the release an automatic rollback left behind stays complete on the platform).
The records judged are this machine's record folders and the environment's ledger (gates/ledger.py,
whose entries have record.json's shape), which any machine reads.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gates.errors import GatesError
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


def failed_releases(record_root: Path, env: str) -> set[int]:
    """Versions of ``env`` whose gate failed in a release record under ``record_root``."""
    return failed_in(_records(record_root), env)


def _records(record_root: Path) -> Iterable[Mapping[str, Any]]:
    for path in record_root.glob("*/record.json") if record_root.is_dir() else ():
        try:
            yield json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a damaged record says nothing about any release


def failed_in(records: Iterable[Mapping[str, Any]], env: str) -> set[int]:
    """Versions of ``env`` that ``records`` (record.json's shape) show as bad: rolled back from, or whose gate
    failed."""
    bad: set[int] = set()
    for data in records:
        rollback = data.get("rollback") or {}
        if rollback.get("env") == env and isinstance(rollback.get("from"), int):
            bad.add(rollback["from"])
        after = (data.get("releases") or {}).get(env, {}).get("after")
        gate_failed = any(
            s.get("name") == "gate" and s.get("env") == env and s.get("outcome") == "failed"
            for s in data.get("steps", [])
        )
        if gate_failed and isinstance(after, int):
            bad.add(after)
    return bad


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
        good = "runs other code and passed its gate" if other_code else "is complete"
        raise GatesError(
            f"{env}: nothing to roll back to: no release older than {current.version} {good} "
            "(--to N rolls back to a named complete release anyway)"
        )
    return current, target
