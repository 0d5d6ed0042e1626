"""Each Fly machine's memory in use through a monitor window, beside the requests the window had sent by then.

The monitor gate's growth judgement (gates.checks.memory.memory_steady) takes, per instance, (requests served so
far, bytes) readings. On the local platform the window reads its instances' process trees as it goes; a Fly
machine is no process of this machine, and its readings are Fly's: its memory in use
(``fly_instance_memory_mem_total - fly_instance_memory_mem_available``, raw samples with their own times, read
as gates.monitor.flymemory reads them) from the window's first request to the end of its last, read after the
window.

The requests are the window's own, as on the local platform: beside each reading, how many requests the window
had sent by its time (the ``at`` of each sample the window kept). Fly's count of the app's requests
(``fly_edge_http_responses_count``) is not used: it is labelled by app, region and status, never by machine, so
it says no more of one machine than the window's count does; it is a counter per edge proxy scraped at its own
times, so a count beside a memory reading would be interpolated; and it counts answers the edge gave without
reaching a machine. The window's count is exact at each reading's time. Traffic other than the window's (users,
in production) is not in it, so growth it causes is counted against fewer requests: the limit is stricter then,
never looser.

The machines are those in rotation when the gate runs (``fly status --json``), each known by its id and its VM's
``instance_id``. Fly publishes memory about every ``EVERY`` seconds and a reading reaches the API some time
after: the readings are read again every ``POLL`` seconds until each machine has one of the window's last
``2 * EVERY`` seconds, or ``SETTLE_WAIT`` seconds after the window's end (what was read is then judged). A machine
with no reading in the window is named (fail closed). Tested against a local HTTP server answering in
Prometheus' format; never run against Fly.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gates.config import Config, Environment
from gates.core.errors import GatesError
from gates.core.redact import redact
from gates.monitor.flymemory import AVAILABLE, TOTAL, in_use, memory_query, metrics_access
from gates.monitor.prometheus import samples
from gates.monitor.window import WINDOW_ENV, WindowMemory, load_window
from gates.platforms.flymachines import in_rotation

EVERY = 15.0  # seconds between two of a machine's readings in Fly's metrics (nominal: what a window must allow for)
SETTLE_WAIT = 60.0  # seconds after the window's end its last readings are waited for
POLL = 5.0  # seconds between two reads while waiting

Points = dict[str, list[tuple[float, float]]]  # machine id -> (requests the window had sent, bytes in use)


def through_window(
    readings: Sequence[tuple[float, float]], sent: Sequence[float], start: float, end: float
) -> list[tuple[float, float]]:
    """(requests sent by each reading's time, bytes) of the (time, bytes) ``readings`` from ``start`` to ``end``;
    ``sent``: the times the window sent its requests, in order."""
    return [(float(bisect.bisect_right(sent, t)), v) for t, v in sorted(readings) if start <= t <= end]


@dataclasses.dataclass(frozen=True)
class Span:
    """The window as Fly's readings are cut by it: from its first request to the end of its last (epoch seconds),
    and when each request was sent."""

    start: float
    end: float
    sent: tuple[float, ...]


def read_window(
    url: str,
    token: str,
    app: str,
    names: Mapping[str, str],
    span: Span,
    *,
    client: Any = None,
    now: Callable[[], float] = time.time,
    wait: float = SETTLE_WAIT,
    poll: float = POLL,
) -> tuple[Points, dict[str, str]]:
    """Each machine's (requests sent, bytes) readings through ``span`` (``names``: instance label -> machine id),
    and why a machine has none. GatesError for an answer that cannot be used, naming it."""
    seconds = math.ceil(span.end - span.start) + 1
    deadline = time.monotonic() + max(0.0, span.end + wait - now())
    pause = threading.Event()
    machines = sorted(set(names.values()))
    while True:
        found = in_use(samples(url, memory_query(app, seconds), token, span.end, client))
        mine: dict[str, list[tuple[float, float]]] = {m: [] for m in machines}
        for label, points in found.items():
            if label in names:
                mine[names[label]].extend(p for p in points if span.start <= p[0] <= span.end)
        settled = all(any(t >= span.end - 2 * EVERY for t, _ in mine[m]) for m in machines)
        if settled or time.monotonic() >= deadline:
            break
        # The interval between two reads of the readiness signal (the readings themselves), within the bound.
        pause.wait(min(poll, max(0.0, deadline - time.monotonic())))
    missing = {
        m: f"machine {m}: no memory reading in Fly's metrics between {_utc(span.start)} and {_utc(span.end)}, "
        f"through the window (fail closed)"
        for m in machines
        if not mine[m]
    }
    return {m: through_window(points, span.sent, span.start, span.end) for m, points in mine.items()}, missing


def window_memory(
    platform: Any, config: Config, env: Environment, path: str, shortest: float = 0.0, **reading: Any
) -> WindowMemory:
    """What the growth molecule judges on Fly: each machine in rotation, read from Fly's metrics through the
    window whose evidence is at ``path``; what kept it from being read is its ``trouble`` (fail closed), the token
    never said. A window shorter than ``shortest`` seconds is not read (too few readings to judge: the molecule
    skips on its length)."""
    if not path:
        return WindowMemory({}, trouble=f"no window: {WINDOW_ENV} is not set (run `gates monitor`)")
    try:
        data, taken = load_window(Path(path))
    except GatesError as exc:
        return WindowMemory({}, trouble=str(exc), source=path)
    length = float(data.get("seconds") or 0.0)
    if 0 < length < shortest:
        return WindowMemory({}, length, EVERY, source=path, noun="machine")
    if not taken:
        return WindowMemory({}, length, EVERY, f"{path}: the window sent no request (fail closed)", path, "machine")
    span = Span(min(s.at for s in taken), max(s.answered_at for s in taken), tuple(sorted(s.at for s in taken)))
    try:
        url, token = metrics_access(platform, config, env)
        rotation = in_rotation(platform.machines(env))
        names = {label: m.id for m in rotation for label in (m.id, m.instance_id) if label}
        if not names:
            raise GatesError(f"no machine of {env.name} is in rotation (fly status --json -a {env.app})")
        points, missing = read_window(url, token, env.app, names, span, **reading)
    except GatesError as exc:
        return WindowMemory({}, length, EVERY, redact(str(exc)), path, "machine")
    source = (
        f"Fly's machine metrics ({TOTAL} - {AVAILABLE}) from {url}, each machine in rotation from "
        f"{_utc(span.start)} to {_utc(span.end)}, beside the requests the window had sent by each reading ({path})"
    )
    return WindowMemory(points, length, EVERY, "", source, "machine", missing)


def _utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
