"""Resident memory of the local platform's instances, read from /proc, once or sampled through a window.

An instance is a process tree: ``npm start`` runs node, ``sh -c`` runs python, a server forks workers.
Its memory is the VmRSS of the instance's process, of every process descended from it, and of every
other member of its process group (a worker whose parent exited is no longer a descendant, but it is
still in the group the instance leads), summed. Shared pages are counted in each process that maps them,
as ``ps`` counts them: the figure compares releases of one app with each other, not with the machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from gates.config import Config, Environment
from gates.platforms.local.processes import live_processes, running
from gates.platforms.local.state import Proc, Site

EVERY = 1.0  # seconds between two readings of a sampler
STOP_TIMEOUT = 10.0  # seconds a sampler's thread has to end its reading once asked to stop


def rss(pid: int) -> int:
    """VmRSS of one process in bytes; 0 when it is gone or has none (a zombie, a kernel thread)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024  # reported in kB
    return 0


def tree(pid: int, processes: Mapping[int, tuple[int, int]] | None = None) -> list[int]:
    """``pid`` (when alive), every live process descended from it, and every other live member of the
    process group it leads; ``processes`` is ``live_processes()`` when the caller already read it."""
    procs = live_processes() if processes is None else processes
    children: dict[int, list[int]] = {}
    for child, (parent, _) in procs.items():
        children.setdefault(parent, []).append(child)
    found = {p for p, (_, pgrp) in procs.items() if pgrp == pid}
    stack = [pid] if pid in procs else []
    while stack:
        current = stack.pop()
        found.add(current)
        stack.extend(c for c in children.get(current, ()) if c not in found)
    return sorted(found)


def tree_rss(pid: int, processes: Mapping[int, tuple[int, int]] | None = None) -> int:
    """Resident memory of the process tree of ``pid`` in bytes (see ``tree``); 0 when nothing of it runs."""
    return sum(rss(p) for p in tree(pid, processes))


def instances_rss(procs: Sequence[Proc]) -> dict[str, int]:
    """Per running instance (by id), the resident memory of its process tree; instances not running are left
    out (a pid reused by another process is not theirs)."""
    alive = [p for p in procs if running(p)]
    if not alive:
        return {}
    processes = live_processes()  # one pass over /proc for every instance
    return {p.id: tree_rss(p.pid, processes) for p in alive}


def release_rss(config: Config, env: Environment) -> dict[int, dict[str, int]]:
    """The environment's running instances, by release, each with the resident memory of its process tree:
    the release serving and, while it is kept warm, the one it replaced."""
    site = Site(config, env)
    procs = site.load_instances() if site.dir.is_dir() else []
    by_release: dict[int, dict[str, int]] = {}
    sizes = instances_rss(procs)
    for proc in procs:
        if proc.id in sizes:
            by_release.setdefault(proc.release, {})[proc.id] = sizes[proc.id]
    return by_release


@dataclasses.dataclass(frozen=True)
class Reading:
    """One reading of one instance: when, how many requests had been served by then, its RSS in bytes."""

    at: float  # epoch seconds
    served: int
    instance: str
    rss: int


class RssSampler:
    """Reads the memory of instances every ``every`` seconds, in a thread, until stopped.

    ``read`` gives the RSS per instance now (``lambda: instances_rss(procs)``); ``served`` the requests served
    so far (the monitor's count of its samples, say), stored with each reading so growth can be judged per
    request. An instance that is gone is not read (it has no reading, rather than a zero).
    """

    def __init__(
        self, read: Callable[[], Mapping[str, int]], *, every: float = EVERY, served: Callable[[], int] | None = None
    ) -> None:
        self.readings: list[Reading] = []
        self.trouble = ""  # why sampling stopped early, if it did
        self._read = read
        self._every = every
        self._served = served or (lambda: 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gates-rss-sampler", daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> list[Reading]:
        """Stop sampling after one last reading; every reading, oldest first."""
        self._stop.set()
        self._thread.join(STOP_TIMEOUT)
        if self._thread.is_alive():
            self.trouble = self.trouble or f"the memory sampler did not stop within {STOP_TIMEOUT:g}s"
        return list(self.readings)

    def __enter__(self) -> RssSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sample_once(self) -> None:
        """Read every instance now."""
        served, at = self._served(), time.time()
        for instance, size in sorted(self._read().items()):
            if size > 0:
                self.readings.append(Reading(at, served, instance, size))

    def _run(self) -> None:
        try:
            while True:
                self.sample_once()
                # The interval between readings, not a wait for something: stop() ends it at once.
                if self._stop.wait(self._every):
                    self.sample_once()
                    return
        except Exception as exc:  # a reading that failed ends the series; the verdict says why, never a traceback
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.trouble = f"the memory sampler failed: {first}"

    def series(self, instance: str) -> list[tuple[float, float]]:
        """(requests served, RSS bytes) of one instance, for ``gates.checks.memory.memory_steady``."""
        return [(float(r.served), float(r.rss)) for r in self.readings if r.instance == instance]

    def instances(self) -> list[str]:
        return sorted({r.instance for r in self.readings})
