"""What commit is being released."""

from __future__ import annotations

import subprocess
from pathlib import Path


def commit_of(path: Path) -> str:
    """The git commit checked out at ``path``, or "" when it is not in a git work tree."""
    try:
        out = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""
