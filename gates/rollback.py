"""Which release a rollback goes to: the previous good one, judged by the platform and the records.

The choice over a platform's releases is gates.platforms.releases; this module adds what the records say.

A release is good when the platform has it complete, it runs other code than the current one
(a different ref: rolling "back" to the same code proves nothing), and no release record shows a
failed gate on it (the release an automatic rollback left behind stays complete on the platform).
The records judged are this machine's record folders and the environment's ledger (gates/ledger.py,
whose entries have record.json's shape), which any machine reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gates.platforms.releases import pick, previous_good

__all__ = ["failed_releases", "pick", "previous_good"]


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
