"""The local platform: any app, by command, as numbered releases behind HAProxy on this machine.

One module per concern:

    platform.py    LocalPlatform (the Platform protocol) and ``down``
    builds.py      a release's snapshot, built once by ``[app] build`` and reused (``build``)
    snapshots.py   what would ship: the committed tree, or the working tree filtered by ignore files
    launcher.py    one instance: ``[app] start`` with $PORT, and its readiness (``[app] health_path``)
    forkserver.py  one fork server per rollout: the Python default's instances forked from one import of uvicorn
    rollout.py     the strategies: rolling (surge and unavailable), immediate, bluegreen, canary; the warm set
    view.py        an instance as `gates status` sees it: its own health answer beside HAProxy's
    processes.py   processes over /proc: spawn detached, identify by start time, stop a whole group
    state.py       the environment's files (releases.json, instances.json, logs/deploy.log)
    sitelock.py    one deploy at a time per environment, one build at a time
    warm.py        the warm window after confirmation (keep_previous_for): deadlines, the reaper's process
    reaper.py      the detached reaper: stops the warm set at its deadline, then exits
    windowed.py    a rollback after a confirmed release, inside or outside the window, set up for the bench

State, under ``config.state_dir``::

    builds/<ref>/            a release's snapshot, built in place (ref: hash of content, build command, [app] env)
    builds/<ref>.json        the build finished: command, time; builds/<ref>.log its output
    <env>/releases.json      every release, oldest first (version, ref, created_at, status, commit, description)
    <env>/instances.json     every process gates started and has not stopped yet (id, pid, ticks, port, release, argv;
                             warm: kept out of rotation for an instant rollback; warm_until: when it stops)
    <env>/haproxy.cfg, haproxy.pid, haproxy.sock, admin.html (the Admin stand-in on admin_url's port)
    <env>/logs/<instance>.log  each instance's output; logs/deploy.log the rollout steps; logs/haproxy.log;
                             logs/forkserver.log what a fork server said on its own (an import that failed)
    <env>/deploy.lock        held (flock) during deploy and rollback
    <env>/warm-reaper.json   the reaper of the warm set (pid, ticks, argv); logs/warm-reaper.log its output
    <env>/secrets.json       `gates secrets set` values (0600), given to instances as environment variables
"""

from gates.platforms.base import BuildResult
from gates.platforms.local.builds import build
from gates.platforms.local.platform import LocalPlatform, down, rollback_target
from gates.platforms.local.state import Site

__all__ = ["BuildResult", "LocalPlatform", "Site", "build", "down", "rollback_target"]
