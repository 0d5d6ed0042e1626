"""The warm window: the previous release kept running out of rotation after the release that replaced it is
confirmed, for ``[environments.X] keep_previous_for`` (default 1h on production, off elsewhere), then stopped.

Confirmation stamps each warm instance with the time it stops (``Proc.warm_until``, UTC). Two things stop it
then, so that no gates process has to be running at the deadline:

* the reaper: a small detached process (reaper.py) started at confirmation. It sleeps until the deadline, stops
  what expired and exits. Its life is bounded: the window plus REAPER_GRACE (to wait out a deploy holding the
  lock). Its pid and start time are in ``warm-reaper.json``; whatever takes the warm set first stops it (a
  rollback's switch, a deploy replacing the warm set, `gates down`, the next confirmation).
* every later command that touches the environment (`gates status`, deploy, rollback, the gate's reads of
  status and health checks): expired warm instances are stopped first (``LocalPlatform.stop_expired``), so a
  reaper that was killed, or a machine that slept through the deadline, leaves nothing running past the next
  command.

A rollback inside the window is a traffic switch to the warm set; the release it leaves is drained and stopped,
never made the new warm set (it was left because it is bad): after a rollback no warm release remains.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from gates.config import Config
from gates.core.measurement import utcnow
from gates.platforms.local.processes import running, spawn, stop_instance
from gates.platforms.local.state import Proc, Site, read_json, write_json

REAPER_RETRY = 5.0  # seconds before the reaper tries again, past the deadline, after an attempt that failed
REAPER_GRACE = 120.0  # seconds the reaper lives past the deadline, retrying while a deploy holds the lock
REAPER_FILE = "warm-reaper.json"


def deadline(proc: Proc) -> dt.datetime | None:
    """When a warm instance stops; None while the release that replaced it is not confirmed yet."""
    return dt.datetime.fromisoformat(proc.warm_until) if proc.warm and proc.warm_until else None


def expired(procs: Sequence[Proc], at: dt.datetime) -> list[Proc]:
    """The warm instances among ``procs`` whose window ended at ``at``."""
    return [p for p in procs if (until := deadline(p)) is not None and until <= at]


def why_redeploy(kept: Sequence[Proc], ended: Sequence[Proc], target: int) -> str:
    """Why a rollback to release ``target`` is not a switch: what was (or was not) warm."""
    if ended and not kept:
        until = deadline(ended[0])
        when = until.isoformat(timespec="seconds") if until else "?"
        return f"release {ended[0].release}'s warm window (keep_previous_for) ended at {when}"
    if not kept:
        return "no release kept warm"
    if any(p.release != target for p in kept):
        return f"release {kept[0].release} is the warm one, not {target}"
    return f"release {target}'s warm instances are not all running and healthy in HAProxy"


def stamp(site: Site, seconds: float, at: dt.datetime) -> dt.datetime:
    """Every warm instance stops ``seconds`` after ``at``: write it into instances.json; the deadline."""
    until = at + dt.timedelta(seconds=seconds)
    site.save_instances(
        [dataclasses.replace(p, warm_until=until.isoformat()) if p.warm else p for p in site.load_instances()]
    )
    return until


def start_reaper(config: Config, site: Site, until: dt.datetime) -> Proc:
    """Start the reaper of ``site``'s warm set (stopping an earlier one): detached, in its own session, so it
    outlives this gates process; recorded in ``warm-reaper.json``."""
    stop_reaper(site)
    argv = [sys.executable, "-m", "gates.platforms.local.reaper", str(config.path), site.env.name, until.isoformat()]
    # Only what it needs: no secret of gates' environment reaches it. The state folder is passed whole, as
    # $GATES_STATE_DIR may have moved it.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GATES_STATE_DIR": str(config.state_dir)}
    log = site.logs / "warm-reaper.log"
    pid, ticks = spawn(argv, Path("/"), env, log)
    proc = Proc("warm-reaper", pid, 0, 0, tuple(argv), str(log), utcnow().isoformat(), ticks)
    write_json(site.dir / REAPER_FILE, dataclasses.asdict(proc))
    site.event(f"warm reaper started (pid {pid}): stops the warm set at {until.isoformat(timespec='seconds')}")
    return proc


def reaper(site: Site) -> Proc | None:
    """The reaper ``site`` recorded, if it still runs."""
    data = read_json(site.dir / REAPER_FILE, None)
    if not data:
        return None
    proc = Proc(**{**data, "argv": tuple(data["argv"])})
    return proc if running(proc) else None


def stop_reaper(site: Site) -> bool:
    """Stop ``site``'s reaper when it runs (`gates down`, a new window); whether it did."""
    proc = reaper(site)
    stopped = proc is not None and stop_instance(proc)
    (site.dir / REAPER_FILE).unlink(missing_ok=True)
    return stopped
