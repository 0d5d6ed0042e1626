"""Each Fly machine's memory in use, from Fly's Prometheus API: the release replaced beside the new one.

On Fly a deploy replaces the machines of the release before it (rolling: each machine updated in place;
bluegreen: new machines, the old destroyed), so nothing of the release replaced runs beside the new one to
be sampled alike. Fly's metrics keep its past: every machine publishes its VM's ``/proc/meminfo`` as
``fly_instance_memory_mem_total`` and ``fly_instance_memory_mem_available`` (bytes), labelled ``app``,
``region``, ``host`` and ``instance`` (fly.io/docs/monitoring/metrics). A machine's memory in use is total
minus available (what the kernel could not hand to a new process without swapping).

- The release replaced: every machine's readings over the ``LOOKBACK`` seconds before the next release was
  created (never before the release itself was), leaving out machines now of another process group than
  the new release's machines in rotation (a worker's memory is not the web's).
- The new release: each machine in rotation on it, its readings since it took the release (its
  ``updated_at``, never before the release was created), waiting up to ``CANDIDATE_WAIT`` seconds for
  ``MIN_READINGS`` of each (Fly scrapes every 15 s or so).

Raw samples are read: a range selector in an instant query
(``{__name__=~"fly_instance_memory_mem_(total|available)",app="A"}[600s]`` at a time), so each reading
keeps its own timestamp, and one taken before a machine's restart is never counted after it (an evaluated
query, or ``query_range``, carries a series' last sample forward for up to five minutes). The ``instance``
label is matched against a machine's id and its VM's ``instance_id`` alike: Fly's docs call it the "app
instance ID". Tested against a local HTTP server answering in Prometheus' format; never run against Fly.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from gates.config import Config, Environment
from gates.core.errors import GatesError
from gates.core.redact import redact, register_secret
from gates.monitor.prometheus import Series, samples
from gates.platforms.base import Release
from gates.platforms.flymachines import Machine, in_rotation

TOTAL, AVAILABLE = "fly_instance_memory_mem_total", "fly_instance_memory_mem_available"
LOOKBACK = 600  # seconds of the release replaced read, up to its replacement (and of the new one, at most)
CANDIDATE_WAIT = 90.0  # seconds to wait for each new machine's first readings
POLL = 5.0  # seconds between two reads while waiting
MIN_READINGS = 2
GOOD = ("complete", "rolled_back")

Readings = dict[str, list[tuple[float, float]]]  # instance -> (epoch seconds, bytes in use), oldest first


def metrics_access(platform: Any, config: Config, env: Environment) -> tuple[str, str]:
    """(URL, token) of Fly's Prometheus API: ``[monitor] prometheus_url`` with the token in ``prometheus_token_env``
    when both are set, else the app's organization's API with ``FLY_API_TOKEN`` (or ``FLY_ACCESS_TOKEN``).
    GatesError naming what is missing (fail closed); the token is registered as a secret before any use."""
    from gates.platforms.fly import TOKEN_ENVS

    mon = config.monitor
    names = (mon.prometheus_token_env,) if mon.prometheus_url and mon.prometheus_token_env else TOKEN_ENVS
    token = next((os.environ[n] for n in names if os.environ.get(n)), "")
    if not token:
        raise GatesError(f"no token to read Fly's metrics: set {' or '.join(names)} (fail closed)")
    register_secret(token)
    return mon.prometheus_url or platform.prometheus_url(env), token


def memory_query(app: str, seconds: int) -> str:
    """Both memory series of every machine of ``app``, raw, over the ``seconds`` before the query's time."""
    return f'{{__name__=~"fly_instance_memory_mem_(total|available)",app="{app}"}}[{max(1, seconds)}s]'


def in_use(series: Sequence[Series]) -> Readings:
    """Instance -> (time, total - available) for each ``available`` sample, less its machine's ``total`` sample
    nearest in time (a machine's total changes only when it is scaled); an instance without a total is left out."""
    totals: dict[str, list[tuple[float, float]]] = {}
    available: dict[str, list[tuple[float, float]]] = {}
    for labels, values in series:
        into = {TOTAL: totals, AVAILABLE: available}.get(labels.get("__name__", ""))
        if into is not None and labels.get("instance"):
            into.setdefault(labels["instance"], []).extend(values)
    found: Readings = {}
    for instance, points in available.items():
        whole = sorted(totals.get(instance, ()))
        if not whole:
            continue
        times = [t for t, _ in whole]
        for t, free in sorted(points):
            i = bisect.bisect_left(times, t)
            near = min((j for j in (i - 1, i) if 0 <= j < len(whole)), key=lambda j: abs(times[j] - t))
            found.setdefault(instance, []).append((t, whole[near][1] - free))
    return found


@dataclasses.dataclass(frozen=True)
class Windows:
    """When each side's readings are: the release replaced over [baseline_from, baseline_to); each new machine's
    from its own time on. ``skip`` says why there is nothing to compare; ``problem`` why it cannot be judged."""

    baseline_release: int | None = None
    candidate_release: int | None = None
    baseline_from: float = 0.0
    baseline_to: float = 0.0
    candidate_from: dict[str, float] = dataclasses.field(default_factory=dict)  # machine id -> epoch seconds
    names: dict[str, str] = dataclasses.field(default_factory=dict)  # instance label (id or VM id) -> machine id
    others: frozenset[str] = frozenset()  # instance labels of machines of other process groups
    skip: str = ""
    problem: str = ""


def plan(releases: Sequence[Release], machines: Sequence[Machine], serving: int | None, env: str) -> Windows:
    """The windows of the release ``serving`` (None: the release the machines in rotation run) and of the good
    release before it, from ``fly releases --json`` and ``fly status --json``."""
    rotation = in_rotation(machines)
    if serving is None:
        versions = {m.release for m in rotation}
        serving = versions.pop() if len(versions) == 1 else None
    candidate = next((r for r in releases if r.version == serving), None)
    if candidate is None:
        return Windows(problem=f"release {serving} of {env} is not among Fly's releases (fly releases --json)")
    before = [r for r in releases if r.version < candidate.version and r.status in GOOD]
    if not before:
        return Windows(skip=f"the first release of {env}: there is no release it replaces to compare")
    baseline = max(before, key=lambda r: r.version)
    ended = min(r.created_at.timestamp() for r in releases if r.version > baseline.version)
    mine = [m for m in rotation if m.release == candidate.version]
    if not mine:
        return Windows(problem=f"no machine of {env} in rotation runs release {candidate.version} (fly status --json)")
    created = candidate.created_at.timestamp()
    groups = {m.group for m in mine}
    return Windows(
        baseline_release=baseline.version,
        candidate_release=candidate.version,
        baseline_from=max(baseline.created_at.timestamp(), ended - LOOKBACK),
        baseline_to=ended,
        candidate_from={m.id: max(created, m.updated_at.timestamp() if m.updated_at else created) for m in mine},
        names={label: m.id for m in mine for label in (m.id, m.instance_id) if label},
        others=frozenset(label for m in machines if m.group not in groups for label in (m.id, m.instance_id) if label),
    )


@dataclasses.dataclass(frozen=True)
class FlyMemory:
    """Both sides' readings (bytes in use per instance) and what kept either from being read."""

    windows: Windows
    baseline: Readings
    candidate: Readings
    problems: tuple[str, ...]
    source: str

    def medians(self, side: str) -> list[float]:
        """Each instance's median reading of ``side`` ("baseline" or "candidate"): what the judge compares."""
        readings = self.baseline if side == "baseline" else self.candidate
        return [statistics.median(v for _, v in points) for _, points in sorted(readings.items()) if points]

    def series(self, side: str) -> list[tuple[float, float]]:
        """(seconds from the side's first reading, bytes) of every instance of ``side``, for the plot."""
        readings = self.baseline if side == "baseline" else self.candidate
        points = [p for one in readings.values() for p in one]
        first = min((t for t, _ in points), default=0.0)
        return sorted((t - first, v) for t, v in points)


def read(
    url: str,
    token: str,
    app: str,
    windows: Windows,
    *,
    client: Any = None,
    now: Callable[[], float] = time.time,
    wait: float = CANDIDATE_WAIT,
    poll: float = POLL,
) -> FlyMemory:
    """Both sides' readings from the Prometheus API at ``url``; each failure to read one is a problem naming it
    (fail closed), never the token."""
    register_secret(token)
    source = (f"Fly's machine metrics ({TOTAL} - {AVAILABLE}) from {url}: release {windows.candidate_release}'s "
              f"machines since they took it, release {windows.baseline_release}'s before it was replaced")  # fmt: skip
    try:
        baseline = _baseline(url, token, app, windows, client)
        candidate = _candidate(url, token, app, windows, client, now, wait, poll)
    except GatesError as exc:
        return FlyMemory(windows, {}, {}, (redact(str(exc)),), source)
    problems = []
    if not baseline:
        problems.append(
            f"Fly's metrics hold no memory reading of release {windows.baseline_release}'s machines between "
            f"{_utc(windows.baseline_from)} and {_utc(windows.baseline_to)}, when it served (fail closed)"
        )
    silent = sorted(m for m in windows.candidate_from if len(candidate.get(m, ())) < MIN_READINGS)
    for machine in silent:
        got = len(candidate.get(machine, ()))
        problems.append(
            f"machine {machine}: {got} memory readings in Fly's metrics since it took release "
            f"{windows.candidate_release} at {_utc(windows.candidate_from[machine])}, {MIN_READINGS} required, "
            f"after waiting {wait:g}s (fail closed)"
        )
    return FlyMemory(windows, baseline, candidate, tuple(problems), source)


def _baseline(url: str, token: str, app: str, windows: Windows, client: Any) -> Readings:
    """The release replaced: every machine but other groups' over its window."""
    seconds = math.ceil(windows.baseline_to - windows.baseline_from)
    found = in_use(samples(url, memory_query(app, seconds), token, windows.baseline_to, client))
    kept = {
        i: [(t, v) for t, v in points if windows.baseline_from <= t < windows.baseline_to]
        for i, points in found.items()
        if i not in windows.others
    }
    return {i: points for i, points in kept.items() if points}


def _candidate(
    url: str, token: str, app: str, windows: Windows, client: Any, now: Callable[[], float], wait: float, poll: float
) -> Readings:
    """Each new machine's readings since it took the release, read again every ``poll`` seconds until each has
    MIN_READINGS or ``wait`` is over (the verdict then names the machines still without)."""
    deadline = time.monotonic() + wait
    pause = threading.Event()
    while True:
        at = now()
        start = min(windows.candidate_from.values())
        found = in_use(samples(url, memory_query(app, min(LOOKBACK, math.ceil(at - start) + 1)), token, at, client))
        mine: Readings = {}
        for label, points in found.items():
            machine = windows.names.get(label)
            if machine is not None:
                since = windows.candidate_from[machine]
                mine.setdefault(machine, []).extend((t, v) for t, v in points if t >= since)
        if all(len(mine.get(m, ())) >= MIN_READINGS for m in windows.candidate_from):
            return mine
        if time.monotonic() >= deadline:
            return mine
        # The interval between two reads of the readiness signal (the readings themselves), within the bound.
        pause.wait(min(poll, max(0.0, deadline - time.monotonic())))


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
