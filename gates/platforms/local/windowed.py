"""A rollback after a confirmed release, inside or outside the warm window: the state it meets, set up for the
bench's rollback figures (gates/bench) and anyone timing ``LocalPlatform.rollback`` from there."""

from __future__ import annotations

from gates.config import Environment
from gates.core.errors import GatesError
from gates.platforms.local.platform import LocalPlatform
from gates.platforms.local.sitelock import LOCK_TIMEOUT
from gates.platforms.local.state import Site
from gates.platforms.local.warm import deadline


def confirmed_then_bad(platform: LocalPlatform, env: Environment, good: str, bad: str, *, inside: bool) -> int:
    """The state a rollback after a confirmed release meets (for the bench's figures): ``good`` released and
    confirmed, then ``bad`` released and confirmed, ``good`` warm in its window; unless ``inside``, that window
    has ended (the warm set stopped as at its deadline). The bad release's version: time ``platform.rollback(env)``
    from here, a switch inside the window, a redeploy outside it."""
    platform.deploy(env, good)
    platform.release_confirmed(env)
    version = platform.deploy(env, bad).version
    platform.release_confirmed(env)
    ends = [d for p in Site(platform.config, env).warm_instances() if (d := deadline(p)) is not None]
    if not ends:
        raise GatesError(f"{env.name}: nothing kept warm after the release was confirmed (keep_previous_for is off)")
    if not inside:
        platform.stop_expired(env, wait=LOCK_TIMEOUT, at=max(ends))
    return version
