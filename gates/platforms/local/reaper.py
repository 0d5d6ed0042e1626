"""The warm set's reaper: ``python -m gates.platforms.local.reaper CONFIG ENV UNTIL`` (started by warm.py).

Sleeps until UNTIL (an ISO time), stops the warm instances of ENV whose window ended, and exits. It does not
watch the state meanwhile: what takes the warm set before (a rollback switching to it, a deploy replacing it,
`gates down`, a new window) stops the reaper too (``warm.stop_reaper``); one that finds at UNTIL no warm
instance with that deadline leaves. It never lives past UNTIL + REAPER_GRACE: what it could not stop by then
(a deploy held the lock throughout) the next gates command touching ENV stops.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Sequence

from gates.config import load
from gates.core.errors import GatesError
from gates.core.measurement import utcnow
from gates.platforms.local.platform import LocalPlatform
from gates.platforms.local.sitelock import LOCK_TIMEOUT
from gates.platforms.local.state import Site
from gates.platforms.local.warm import REAPER_GRACE, REAPER_RETRY, deadline


def reap(config_path: str, env_name: str, until: dt.datetime) -> str:
    """Sleep until ``until``, stop what expired; what happened, in one line."""
    config = load(config_path)
    env = config.environment(env_name)
    site, platform = Site(config, env), LocalPlatform(config)
    end = until + dt.timedelta(seconds=REAPER_GRACE)

    def mine() -> bool:
        return any(deadline(p) == until for p in site.warm_instances())

    while mine():
        # One sleep, not a poll: whatever takes the warm set before its deadline stops this process. Again after
        # a first sleep only when the wall clock, by which stop_expired judges, trails the sleep's.
        _sleep_until(until)
        if utcnow() >= end:
            return "gave up at the end of its life: the next gates command touching the environment stops the warm set"
        try:
            said = platform.stop_expired(env, wait=LOCK_TIMEOUT)  # waits for a deploy holding the lock
        except GatesError as exc:
            print(f"{utcnow().isoformat(timespec='seconds')} not yet: {exc}", flush=True)
            _sleep_until(min(utcnow() + dt.timedelta(seconds=REAPER_RETRY), end))
            continue
        if not mine():
            return "; ".join(said) or "the warm set was gone"
    return "no warm instance has this deadline any more: nothing to stop"


def _sleep_until(moment: dt.datetime) -> None:
    left = (moment - utcnow()).total_seconds()
    if left > 0:
        time.sleep(left)


def main(argv: Sequence[str]) -> int:
    config_path, env_name, until = argv
    try:
        said = reap(config_path, env_name, dt.datetime.fromisoformat(until))
    except GatesError as exc:  # a config that no longer loads: the next gates command stops the warm set
        said = f"failed: {exc}"
    print(f"{utcnow().isoformat(timespec='seconds')} warm reaper of {env_name}: {said}", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a detached process by warm.start_reaper
    sys.exit(main(sys.argv[1:]))
