"""After a release: the builds no release can return to are removed, so the state folder does not grow forever.

What stays: the last ``[local] keep_builds`` distinct builds of each environment's good releases (good as
gates/release/goodness.py judges it), the current release's and every running instance's, warm ones included
(the platform adds those). Distinct builds, not releases: a run of no-change releases shares one build, and
counting releases kept only that one, so the build of the last good release of other code -- the drill's
rollback target -- was pruned and every release after failed its drill. A build of a failed release, or of one
rolled back from, goes once it no longer runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from gates.core.errors import GatesError
from gates.platforms import PrunesBuilds, Release
from gates.release.context import Context
from gates.release.goodness import judge


def prune_builds(ctx: Context) -> str:
    """Prune the builds of the release's platforms that keep them; one line saying what went (empty: nothing to do).
    A prune that fails is said, never a failed release: the release is over."""
    keep: set[str] = set()
    pruner: PrunesBuilds | None = None
    try:
        for env in ctx.config.environments.values():
            platform = ctx.platform(env)
            if not isinstance(platform, PrunesBuilds):
                continue
            pruner = platform
            verdicts = judge(ctx.config, env, ctx.record.dir.parent).verdicts
            good = [r for r in platform.releases(env) if r.status == "complete" and verdicts.good(r.identity)]
            keep |= builds_to_keep(good, ctx.config.local.keep_builds)
        removed = pruner.prune_builds(keep) if pruner is not None else []
    except (GatesError, OSError) as exc:
        return f"builds not pruned: {exc}"
    if not removed:
        return ""
    return f"pruned {len(removed)} build(s) no release can return to: {', '.join(removed)}"


def builds_to_keep(good: Sequence[Release], count: int) -> set[str]:
    """The builds of the newest ``count`` distinct builds among ``good`` releases (newest release first)."""
    newest_first = [r.ref for r in sorted(good, key=lambda r: -r.version)]
    return set(list(dict.fromkeys(newest_first))[:count])
