"""The processes of the local platform, seen and stopped through /proc.

Every instance is started detached, in a session (and so a process group) of its own, whose id
is the instance's pid. A process is named by its pid and its start time (field 22 of
/proc/<pid>/stat): a pid reused by another process has another start time, so gates never signals
what it did not start. Stopping an instance signals its whole group, so what the start command
started (``npm start`` -> node, ``sh -c`` -> python) stops with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from gates.core.errors import GatesError
from gates.core.procs import wait_until
from gates.platforms.haproxy import FrontDoor
from gates.platforms.local.state import Proc

STOP_TIMEOUT = 8.0  # a process group exits after SIGTERM (uvicorn's graceful shutdown is bounded at 5 s)
STOP_POLL = 0.02  # seconds between two looks at a stopping instance (one /proc file while its leader runs)


def spawn(argv: Sequence[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[int, int]:
    """Start a detached process (own session, output appended to ``log``) that outlives gates; (pid, start ticks).

    It is started directly, as gates' child until gates exits (then init's); a daemon thread reaps it when it
    exits first, so a long-lived gates process keeps no zombie. Its start time is read before that thread starts:
    even a process that died at once is still there to name (a zombie at worst). Why not through a launcher
    process of its own, as before: one Python start per instance was 20-40 ms of CPU, and up to 0.4 s of wall
    time per batch of a rollout on a busy machine. Its environment goes to exec alone: never into argv.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log.open("ab") as out:
            child = subprocess.Popen(
                list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True,
            )  # fmt: skip
    except OSError as exc:
        raise GatesError(f"could not start {argv[0]} in {cwd}: {exc}") from None
    fields = _stat(child.pid)
    threading.Thread(target=child.wait, name=f"gates-reap-{child.pid}", daemon=True).start()
    return child.pid, int(fields[19])


def cmdline(pid: int) -> list[str]:
    """A process's command line; empty when there is no such process or it is a zombie."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1] if raw else []


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, ...); empty if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def _live(fields: list[str]) -> bool:
    return bool(fields) and fields[0] not in ("Z", "X")


def running(proc: Proc) -> bool:
    """Whether the process gates started as ``proc`` is alive (not another one that got its pid)."""
    fields = _stat(proc.pid)
    if not proc.ticks:  # recorded before start times were: its command line names it
        return _live(fields) and cmdline(proc.pid) == list(proc.argv)
    return _live(fields) and len(fields) > 19 and fields[19] == str(proc.ticks)


def live_processes() -> dict[int, tuple[int, int]]:
    """Every live process of the machine: pid -> (parent pid, process group), one pass over /proc."""
    found: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if _live(fields) and len(fields) > 2:
            found[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return found


def group(pgid: int) -> list[int]:
    """The live processes of process group ``pgid``."""
    return [pid for pid, (_, pgrp) in live_processes().items() if pgrp == pgid]


def process_state(pid: int) -> str:
    """What /proc says of ``pid`` now: evidence for an instance that did not come up."""
    fields = _stat(pid)
    if not fields:
        return f"pid {pid}: no such process"
    return f"pid {pid}: state {fields[0]}, command line {' '.join(cmdline(pid))[:120]!r}"


def stop_instance(proc: Proc) -> bool:
    """SIGTERM the process group of an instance, SIGKILL what is left after STOP_TIMEOUT; False when
    nothing of it was running.

    The group is the instance's when its leader is ``proc``, or when the leader has exited but
    processes it started remain (a pid in use as a group id is never given to a new process).
    """
    if not running(proc) and (not group(proc.pid) or _live(_stat(proc.pid))):
        return False
    _signal_until_gone(
        f"process group {proc.pid} ({proc.id})", lambda sig: os.killpg(proc.pid, sig), lambda: _group_gone(proc)
    )
    return True


def _group_gone(proc: Proc) -> bool:
    """Whether nothing of the instance's process group is left. Its leader is looked at first (one /proc file),
    then the group as a whole by a signal 0 (one system call: no such group, nothing left). Only while that finds
    someone are the group's live members looked for, reading every process's stat (7 ms of CPU on a machine of
    240 processes, more under load): a zombie the signal still finds is no member left."""
    if running(proc):
        return False
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # a member this user may not signal: /proc says whether it lives
    return not group(proc.pid)


def stop(pid: int, is_ours: Callable[[list[str]], bool]) -> bool:
    """SIGTERM a process we started (by its command line), SIGKILL it after STOP_TIMEOUT; False when it was
    not running. For a process that is not an instance (HAProxy, which daemonizes)."""
    if not is_ours(cmdline(pid)):
        return False
    _signal_until_gone(f"process {pid}", lambda sig: os.kill(pid, sig), lambda: not is_ours(cmdline(pid)))
    return True


def _signal_until_gone(what: str, send: Callable[[int], None], gone: Callable[[], bool]) -> None:
    with contextlib.suppress(ProcessLookupError):
        send(signal.SIGTERM)
    try:
        wait_until(f"{what} to exit after SIGTERM", gone, timeout=STOP_TIMEOUT, interval=STOP_POLL)
    except GatesError:
        with contextlib.suppress(ProcessLookupError):
            send(signal.SIGKILL)
        wait_until(f"{what} to exit after SIGKILL", gone, timeout=STOP_TIMEOUT, interval=STOP_POLL)


def front_door_pid(front: FrontDoor) -> int | None:
    """HAProxy's pid when it runs (its pidfile names a live HAProxy of this environment)."""
    pid = front.pid()
    return pid if pid is not None and front.is_own(cmdline(pid)) else None
