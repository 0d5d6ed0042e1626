"""``[local]``: where the local platform keeps its state and its database cluster."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class LocalConfig:
    """Where the local platform keeps its state and its database cluster."""

    state_dir: str = ".gates"
    postgres_port: int = 54329
    # Builds kept after a release beyond those that run: the last N distinct builds of each environment's good releases.
    keep_builds: int = 5
