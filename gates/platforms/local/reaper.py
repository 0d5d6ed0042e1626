"""The warm set's reaper: ``python -m gates.platforms.local.reaper CONFIG ENV UNTIL`` (started by warm.py).

Waits until UNTIL (an ISO time), stops the warm instances of ENV whose window ended, and exits. It leaves
early when no warm instance has that deadline any more (a rollback switched to it, a deploy replaced it,
`gates down` stopped it), and never lives past UNTIL + REAPER_GRACE: what it could not stop by then (a deploy
held the lock throughout) the next gates command touching ENV stops.
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
from gates.platforms.local.warm import REAPER_GRACE, REAPER_POLL, deadline


def reap(config_path: str, env_name: str, until: dt.datetime) -> str:
    """Wait for ``until``, stop what expired; what happened, in one line."""
    config = load(config_path)
    env = config.environment(env_name)
    site, platform = Site(config, env), LocalPlatform(config)
    end = until + dt.timedelta(seconds=REAPER_GRACE)
    while utcnow() < end:
        if not [p for p in site.warm_instances() if deadline(p) == until]:
            return "no warm instance has this deadline any more: nothing to stop"
        left = (until - utcnow()).total_seconds()
        if left > 0:
            # A wait for a deadline, not for readiness: the state is looked at every REAPER_POLL seconds meanwhile.
            time.sleep(min(REAPER_POLL, left))
            continue
        try:
            said = platform.stop_expired(env, wait=LOCK_TIMEOUT)
        except GatesError as exc:
            said = [f"not yet: {exc}"]
        if not [p for p in site.warm_instances() if deadline(p) == until]:
            return "; ".join(said) or "the warm set was gone"
        time.sleep(REAPER_POLL)
    return "gave up at the end of its life: the next gates command touching the environment stops the warm set"


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
