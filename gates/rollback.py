"""Which release a rollback goes to: the previous good one, judged by the platform and the records.

The choice over a platform's releases is gates.platforms.releases; this module adds what the records say.

A release is good when the platform has it complete, it runs other code than the current one
(a different ref: rolling "back" to the same code proves nothing), and no release record shows a
failed gate on it (the release an automatic rollback left behind stays complete on the platform).
"""

from __future__ import annotations

import json
from pathlib import Path

from gates.platforms.releases import pick, previous_good

__all__ = ["failed_releases", "pick", "previous_good"]


def failed_releases(record_root: Path, env: str) -> set[int]:
    """Versions of ``env`` whose gate failed in a release record under ``record_root``."""
    bad: set[int] = set()
    for path in record_root.glob("*/record.json") if record_root.is_dir() else ():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a damaged record says nothing about any release
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
