"""Putting a local environment back to one release after a gates process died mid-rollout.

A SIGKILLed deploy can leave its release "running" in releases.json, new instances beside old
ones in rotation, and dead instances on record; a rollout that failed (one instance of two never
became healthy) leaves the same half-way state, and is repaired the same way at once. Repair: the unfinished release is marked failed;
the environment serves exactly its newest complete release, on ``env.instances`` instances (new
ones started where the crash left too few); every other instance is drained and stopped. An
environment that serves nothing (stopped by ``gates down``) is left stopped.

A warm set (the previous release kept out of rotation on purpose, ``keep_previous``) is kept while
a newer release is current; when the crash left its release current again (the deploy that made
it warm never finished), its instances go back into rotation.
"""

from __future__ import annotations

import contextlib

from gates.config import Config, Environment
from gates.core.errors import GatesError
from gates.platforms.local import launcher
from gates.platforms.local.builds import release_folder
from gates.platforms.local.processes import running
from gates.platforms.local.rollout import Rollout
from gates.platforms.local.state import Site, current_release


def repair(config: Config, env: Environment, db_url: str, health_timeout: float, *, restart: bool = False) -> list[str]:
    """Make ``env`` serve one release again; say what was done (empty: nothing was wrong). With ``restart`` (a rollout
    that just failed, having stopped what served) the newest complete release is started even where none of its
    instances runs any more."""
    site = Site(config, env)
    said: list[str] = []
    for release in site.load_releases():
        if release.status == "running":
            site.update_release(release.version, "failed")
            said.append(f"release {release.version} was left unfinished: marked failed")
    procs = site.load_instances()
    for proc in [p for p in procs if not running(p)]:
        site.drop_instance(proc)
        with contextlib.suppress(GatesError, OSError):
            site.front.remove(proc.id)
        said.append(f"instance {proc.id} (release {proc.release}) had exited: forgotten")
    alive = [p for p in site.load_instances() if running(p)]
    current = current_release(site.load_releases())
    keep = [p for p in alive if current is not None and p.release == current.version]
    kept_warm = [p for p in alive if p.warm and current is not None and p.release < current.version]
    stray = [p for p in alive if p not in keep and p not in kept_warm]
    back = [p for p in keep if p.warm]
    for proc in back:
        with contextlib.suppress(OSError, GatesError):  # no HAProxy: ensure_front_door adds it ready
            site.front.set_state(proc.id, "ready")
        said.append(f"instance {proc.id} (release {proc.release}, kept warm) is back in rotation")
    site.mark_warm(back, False)
    if not stray and (not (keep or restart) or len(keep) >= env.instances):
        # Nothing else runs, and the current release runs whole (or not at all: a stopped environment stays so).
        return said
    if current is None:
        rollout = None
    else:
        folder = release_folder(config, site.snapshots, current.ref)
        starter = launcher.Launcher(config, site, current, folder, db_url)
        rollout = Rollout(starter, health_timeout)
        rollout.ensure_front_door()
        used = {p.id for p in keep}
        index = 0
        while len(keep) < env.instances:
            if f"v{current.version}-{index}" not in used:
                keep.append(rollout.launch(index))
                said.append(f"instance {keep[-1].id} of release {current.version} started")
            index += 1
    for proc in stray:
        if rollout is not None:
            rollout.retire(proc, drain=True)
        else:
            from gates.platforms.local.processes import stop_instance

            stop_instance(proc)
            site.drop_instance(proc)
        said.append(f"instance {proc.id} of release {proc.release} stopped")
    serving = f"release {current.version}" if current else "nothing (no release ever completed)"
    said.append(f"{env.name} serves {serving} alone")
    site.event(("put back after a failed rollout: " if restart else "repaired after a crash: ") + "; ".join(said))
    return said
