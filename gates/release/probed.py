"""A rollout (a deploy, a rollback) under the traffic probe, its file and summary kept in the record."""

from __future__ import annotations

from collections.abc import Callable

from gates.config import Environment
from gates.errors import GatesError
from gates.platforms import Platform, Release
from gates.probe import Probe, ProbeRun, probe_path
from gates.release.context import Context
from gates.state import StepRecord


def probed(
    ctx: Context, env: Environment, rec: StepRecord, before: int | None, rollout: Callable[[], Release], kind: str = ""
) -> Release:
    """Run ``rollout`` under the traffic probe; keep its file in the record and its summary in the state
    (``kind`` names a second probe of the environment: ``rollback``)."""
    path = probe_path(ctx.record.dir, env, kind)
    rec.artifacts.append(ctx.record.relative(path))
    probe = Probe(ctx.config, env, path, before, _idle(ctx.platform(env), env, before)).start()

    def keep(run: ProbeRun) -> ProbeRun:
        key = f"{env.name}-{kind}" if kind else env.name
        ctx.state.probes[key] = {"path": ctx.record.relative(path), **run.summary()}
        return run

    try:
        release = rollout()
    except GatesError as exc:
        # A failed rollout must leave the old release serving: the probe watches it do so.
        raise GatesError(f"{exc}; {keep(probe.finish()).describe()}") from None
    except BaseException:
        keep(probe.finish(settle=False))
        raise
    probe.deployed(release.version)
    rec.detail = keep(probe.finish()).describe()
    return release


def _idle(platform: Platform, env: Environment, before: int | None) -> str:
    """Why the rollout has no downtime to measure although a release exists: none of its instances
    runs (the environment was stopped). Empty when one does, or when the platform cannot say: then
    the probe measures (fail closed)."""
    if before is None:
        return ""
    try:
        instances = platform.status(env).instances
    except GatesError:
        return ""
    if any(i.healthy for i in instances):
        return ""
    return f"nothing served {env.name} before the rollout (no healthy instance of release {before}): no downtime to measure"
