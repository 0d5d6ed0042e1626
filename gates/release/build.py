"""The ``build`` step: the app built from what would ship, before any database of the release is migrated.

A build that fails (a lockfile missing from the commit, a module not committed) stops the release
here, naming the command and its last lines; nothing has changed yet. Each environment's deploy
then reuses the build of the same content ("reused build" in its detail).
"""

from __future__ import annotations

from gates.config import Environment
from gates.core.redact import keep
from gates.evidence.state import StepRecord
from gates.platforms.registry import build
from gates.release.context import Context


def build_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Build the app for every environment that builds locally (one build per content), before any migration."""
    said: list[str] = []
    for other in ctx.config.environments.values():
        built = build(ctx.config, other)
        if built is None:
            continue
        if built.log is not None and built.log.is_file():
            copy = ctx.record.log(f"build-{built.ref[:12]}")
            if not copy.exists():
                keep(copy, built.log.read_text(errors="replace"))
                rec.artifacts.append(ctx.record.relative(copy))
        said.append(f"{other.name}: {built.describe()}")
    rec.detail = "; ".join(dict.fromkeys(said)) or "nothing to build here (the platform builds during its deploy)"
