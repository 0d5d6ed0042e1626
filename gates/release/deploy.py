"""The ``deploy`` step: the app's source released to the environment under the traffic probe.

Production is deployed only after a rollback drill that passed (or was waived) in this release;
its downtime is judged by the production gate's zero_downtime molecule (a failure there rolls it
back). Any other environment is judged here, with the same verdict: a staging rollout that failed
requests fails its step, so production never meets the fault.
"""

from __future__ import annotations

from gates import probe
from gates.config import Environment
from gates.errors import GatesError
from gates.release.context import Context
from gates.release.drill import require_drill
from gates.release.probed import probed
from gates.state import StepRecord


def deploy_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Deploy the app's source as a new release under the traffic probe; record the versions and the probe."""
    if env.is_production:
        require_drill(ctx, env, "deploy")
    platform = ctx.platform(env)
    if not getattr(platform, "deploys", True):
        rec.detail = (
            f"not deployed by gates: {env.name} is deployed by something else (platform {env.platform}); gated as it is"
        )
        return
    before = next((r.version for r in platform.releases(env) if r.status == "complete"), None)
    ctx.record.releases[env.name] = {"before": before, "after": None}
    with ctx.reporter.waiting(f"deploy {env.name}"):
        release = probed(ctx, env, rec, before, lambda: platform.deploy(env, str(ctx.config.app_source)))
    ctx.record.releases[env.name]["after"] = release.version
    rec.detail = f"release {before} -> {release.version} ({release.ref}); {rec.detail}"
    if not env.is_production:
        _judge_rollout(ctx, env, release.version)


def _judge_rollout(ctx: Context, env: Environment, version: int) -> None:
    """The zero-downtime verdict on this rollout's probe; raise with its first problem when it failed."""
    run = probe.load(probe.probe_path(ctx.record.dir, env))
    if run.waived:
        return
    measured = probe.judge(run, version, ctx.config)
    if not measured.ok:
        first = measured.problems[0] if measured.problems else measured.summary()
        raise GatesError(f"the rollout of release {version} to {env.name} was not without downtime: {first}")
