"""The ``deploy`` step: the app's source released to the environment under the traffic probe.

Production is deployed only after a rollback drill that passed (or was waived) in this release;
its downtime is judged by the production gate's zero_downtime molecule (a failure there rolls it
back). Any other environment is judged here, with the same verdict: a staging rollout that failed
requests fails its step, so production never meets the fault. A failed deploy leaves the environment
serving exactly one release, the previous good one (``return_to_good``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gates.config import Environment
from gates.core.errors import GatesError
from gates.evidence.state import StepRecord, release_change
from gates.gaterun import probe
from gates.platforms import KeepsPrevious, Platform
from gates.release.comparison import NOT_KEPT, deployed_env
from gates.release.context import Context
from gates.release.drill import require_drill
from gates.release.goodness import judge, previous_good
from gates.release.probed import probed

STATUS_EVERY = 2.0  # seconds between two asks of the platform for the rollout's progress


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
    try:
        try:
            progress = throttled(lambda: replaced(platform, env, before), STATUS_EVERY)
            with ctx.reporter.waiting(f"deploy {env.name}", detail=progress):
                release = probed(
                    ctx, env, rec, before, lambda: platform.deploy(deployed_env(ctx, env), str(ctx.config.app_source))
                )
        finally:
            # What this deploy rolled out, by identity, even when its rollout failed: that build is what is judged.
            made = [r for r in ctx.remember(env, before) if before is None or r.version > before]
            if made:
                ctx.builds(env).deployed = made[-1].identity
        ctx.record.releases[env.name]["after"] = release.version
        built = f" ({release.description})" if release.description else ""
        rec.detail = f"{release_change(before, release.version)} ({release.ref}{built}); {rec.detail}"
        let_bad_warm_set_go(ctx, env, rec)
        if not env.is_production:
            _judge_rollout(ctx, env, release.version)
    except GatesError as exc:
        raise GatesError(f"{exc}{return_to_good(ctx, env, before)}") from None


def return_to_good(ctx: Context, env: Environment, before: int | None) -> str:
    """After a failed deploy: ``env`` serves exactly one release, and a good one. The platform already put back
    what served before when the rollout itself failed; a rollout that completed but failed its probe, or a
    release served before that is not good (gates/release/goodness.py), is left for the previous good release, rolled
    out anew. What was done, as the end of the step's error (empty: nothing to do)."""
    platform = ctx.platform(env)
    try:
        releases = platform.releases(env)
        current = next((r for r in releases if r.status == "complete"), None)
        if current is None:
            return ""
        verdicts = judge(ctx.config, env, ctx.record.dir.parent).verdicts
        if verdicts.good(current.identity) and (before is None or current.version <= before):
            return ""
        target = previous_good(releases, current.version, verdicts.unfit(releases), other_code=False)
        if target is None:
            return f"; no good release to return {env.name} to: it serves release {current.version} ({verdicts.why(current.identity)})"
        back = platform.rollback(env, to=target.version)
        ctx.remember(env, target.version)
    except GatesError as exc:
        return f"; returning {env.name} to its previous good release failed: {exc}"
    return f"; {env.name} returned to the previous good release {target.version} (serving it as release {back.version})"


def let_bad_warm_set_go(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """The previous release is kept warm for an instant rollback to it: only while it is good (gates/release/goodness.py).
    A warm set of a release that failed a step, was rolled back from or never passed every step is stopped now:
    a rollback must never switch back to it, and it only holds memory."""
    platform = ctx.platform(env)
    warm = platform.warm(env) if isinstance(platform, KeepsPrevious) else None
    if warm is None or not isinstance(platform, KeepsPrevious):
        return
    kept = next((r for r in platform.releases(env) if r.version == warm.release), None)
    verdicts = judge(ctx.config, env, ctx.record.dir.parent).verdicts
    if kept is not None and verdicts.good(kept.identity):
        return
    why = verdicts.why(kept.identity) if kept else "the platform no longer lists it"
    platform.let_warm_go(env)  # not release_confirmed: that keeps it warm for keep_previous_for
    rec.detail += f"; warm release {warm.release} {NOT_KEPT} ({why})"


def throttled(ask: Callable[[], str], seconds: float) -> Callable[[], str]:
    """``ask``, answered at most once per ``seconds`` (the last answer in between): a live terminal redraws every
    half second, and on Fly each answer is a `fly status` run."""
    last: list[Any] = [None, ""]

    def answer() -> str:
        now = time.monotonic()
        if last[0] is None or now - last[0] >= seconds:
            last[:] = [now, ask()]
        return str(last[1])

    return answer


def replaced(platform: Platform, env: Environment, before: int | None) -> str:
    """How far a rollout has got: the instances that run a newer release than ``before``, of the environment's."""
    instances = platform.status(env).instances
    new = sum(1 for i in instances if i.release is not None and (before is None or i.release > before))
    return f"{new} of {env.instances} instances on the new release"


def _judge_rollout(ctx: Context, env: Environment, version: int) -> None:
    """The zero-downtime verdict on this rollout's probe; raise with its first problem when it failed."""
    run = probe.load(probe.probe_path(ctx.record.dir, env))
    if run.waived:
        return
    measured = probe.judge(run, version, ctx.config)
    if not measured.ok:
        first = measured.problems[0] if measured.problems else measured.summary()
        raise GatesError(f"the rollout of release {version} to {env.name} was not without downtime: {first}")
