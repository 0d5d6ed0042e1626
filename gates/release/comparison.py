"""The release being replaced, kept reachable for each gate's comparison, then let go as before.

Production keeps its previous release warm anyway (``keep_previous``): it is the baseline of the
production gate. Any other environment on a platform that can keep it (the local platform) keeps it
warm for its deploy's gate only, when ``[comparison]`` judges anything: the gate step then stops it,
pass or fail, so the drill and everything after see the environment as they always did. The gate is
told which release it must find (``--baseline-release``: missing, the comparison fails closed) or why
there is none (``--no-baseline``: the comparison skips saying so).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from gates.config import Environment
from gates.platforms import KeepsPrevious
from gates.release.context import Context

NOT_KEPT = "not kept: it is not good"  # the deploy step's words when it let a bad warm set go


def deployed_env(ctx: Context, env: Environment) -> Environment:
    """``env`` as its deploy rolls it out: keeping the release it replaces warm when the gate compares with it."""
    if env.keeps_previous or not ctx.config.comparison.enabled or not isinstance(ctx.platform(env), KeepsPrevious):
        return env
    if env.keep_previous is False:  # the team keeps nothing warm, ever: no baseline rather than a switch it refused
        return env
    return dataclasses.replace(env, keep_previous=True)


def gate_arguments(ctx: Context, env: Environment) -> list[str]:
    """The gate's options of the comparison: the baseline it must find or why there is none; the accepted
    visual change and its signer."""
    args = ["--accept-visual", ctx.accept_visual] if ctx.accept_visual else []
    platform = ctx.platform(env)
    before = ctx.record.releases.get(env.name, {}).get("before")
    if not ctx.config.comparison.enabled or not isinstance(platform, KeepsPrevious) or before is None:
        return args  # no deploy here, a first release, or a platform without one: the gate says why
    warm = platform.warm(env)
    if warm is not None:
        return [*args, "--baseline-release", str(warm.release)]
    if env.keep_previous is False:
        return [*args, "--no-baseline", f"keep_previous = false in {env.name}: the release replaced is not kept"]
    deploy = next((s for s in reversed(ctx.record.steps) if s.name == "deploy" and s.env == env.name), None)
    if deploy is not None and NOT_KEPT in deploy.detail:
        return [*args, "--no-baseline", f"release {before}, the release replaced, is not good: no baseline"]
    # Nothing warm after the deploy: the release replaced was not running when it began (its instances gone,
    # e.g. after the machine restarted), so there is nothing to compare with, said as such.
    return [*args, "--no-baseline", f"release {before}, the release replaced, was not running when the deploy began"]


def let_baseline_go(ctx: Context, env: Environment) -> str:
    """After the gate of an environment that keeps no previous release: stop the one kept for the comparison.
    What stopped, for the step's detail (empty: nothing)."""
    platform = ctx.platform(env)
    if env.keeps_previous or not isinstance(platform, KeepsPrevious) or platform.warm(env) is None:
        return ""
    stopped = platform.let_warm_go(env)  # now: release_confirmed would keep it for keep_previous_for
    return f"; the release replaced, kept for the comparison, stopped ({len(stopped)} instances)" if stopped else ""


def instance_memory(ctx: Context, env: Environment) -> Callable[[], dict[str, int]] | None:
    """Instance id -> resident bytes of its process tree, of the release serving ``env`` now, for the monitor
    window to read as it goes; None where the instances are not processes of this machine (the window reads no
    memory: on Fly the growth molecule reads each machine's from Fly's metrics after the window, elsewhere it skips
    saying so)."""
    platform = ctx.platform(env)
    if ctx.config.comparison.growth == "off" or not getattr(platform, "runs_locally", False):
        return None
    from gates.platforms.local.memory import release_rss

    serving = platform.status(env).release
    return lambda: release_rss(ctx.config, env).get(serving, {}) if serving is not None else {}
