"""The ``rollback`` and ``rollback-gate`` steps: production back to its previous release after a failed gate.

A production deploy that kept the previous release warm (``keep_previous``) is rolled back by a
traffic switch to it; otherwise the previous release is rolled out anew. The step detail says
which ("warm switch" or "redeploy"). A passed release lets the warm set go (``confirm_releases``).

The database is never rolled back: the state's ``rollback`` names this release's backup and the
command that restores it, for a person to decide.
"""

from __future__ import annotations

import contextlib

from gates.config import Environment
from gates.core.errors import GatesError
from gates.evidence.incident import restore_command
from gates.evidence.state import Rollback, StepRecord
from gates.platforms import KeepsPrevious, rollback_path
from gates.release.context import Context
from gates.release.gate import gate_into
from gates.release.probed import probed


def plan_rollback(ctx: Context, env: Environment, reason: str) -> Rollback:
    """What the rollback of ``env`` after its failed gate will do, kept in the state before it starts."""
    failed = ctx.gates.get(env.name)
    backup = ctx.state.proven_backup(env.name)
    versions = ctx.record.releases.get(env.name, {})
    rollback = ctx.state.rollback = Rollback(
        env=env.name,
        from_version=versions.get("after"),
        to_version=versions.get("before"),
        reason=reason,
        failed=list(failed.failed) if failed else [],
        backup=backup.path if backup else "",
        restore_command=restore_command(env.name, ctx.record.dir / backup.path) if backup else "",
    )
    return rollback


def _rollback(ctx: Context) -> Rollback:
    if ctx.state.rollback is None:  # pragma: no cover - the runner plans it before these steps
        raise GatesError("no rollback was planned in this release")
    return ctx.state.rollback


def rollback_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Roll the environment back to the release that served before this release's deploy."""
    info = _rollback(ctx)
    if info.to_version is None:
        raise GatesError(f"{env.name}: nothing to roll back to: release {info.from_version} is its first release")
    target = info.to_version
    platform = ctx.platform(env)
    # Under the traffic probe too: the rollback gate's zero_downtime molecule judges this rollout.
    try:
        release = probed(ctx, env, rec, info.from_version, lambda: platform.rollback(env, to=target), kind="rollback")
    finally:
        ctx.remember(env, target)
    info.release = release.version
    rec.detail = (
        f"release {info.from_version} -> {target} by {rollback_path(target, release)} "
        f"(serving it as release {release.version}); database not rolled back; {rec.detail}"
    )
    if release.description:  # what the platform says of it (Fly: the release_command was skipped)
        rec.detail += f"; {release.description}"
    if info.restore_command:
        rec.detail += f"; to restore it from this release's backup: {info.restore_command}"


def rollback_gate_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Gate the rolled-back release: the environment's gate, expecting the release the rollback made."""
    info = _rollback(ctx)
    try:
        gate_into(ctx, env, rec, f"{env.name}-rollback-gate", info.release)
        info.gate_passed = True
    finally:
        ctx.record.write()


def confirm_releases(ctx: Context) -> None:
    """The release passed (gate and monitor): every environment it deployed opens its warm previous release's
    window (keep_previous_for), or lets it go when the window is off."""
    deployed = [s.env for s in ctx.record.steps if s.name == "deploy" and s.outcome == "passed" and s.env]
    for name in dict.fromkeys(deployed):
        env = ctx.config.environment(name)
        platform = ctx.platform(env)
        if isinstance(platform, KeepsPrevious):
            # A warm set that will not stop costs memory, not correctness: `gates status` shows it and the
            # next deploy stops it; the passed release stays passed.
            with contextlib.suppress(GatesError):
                platform.release_confirmed(env)
