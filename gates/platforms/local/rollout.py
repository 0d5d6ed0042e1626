"""Rollout strategies: how a release's instances replace the running ones behind HAProxy.

``rolling`` (``env.surge`` new instances at a time, started and health-checked together),
``immediate`` (stop all, start all: downtime on purpose), ``bluegreen`` (the whole new set,
checked but idle, then one switch) and ``canary`` (one new instance gated on CANARY_CHECKS
passing health checks under traffic, then rolling).

With ``keep`` (``[environments.X] keep_previous``) the previous release's instances are not stopped
but kept warm: out of rotation in HAProxy's ``drain`` state, where its health checks go on, until
the release is confirmed (``settle``) or rolled back to (``switch_traffic``: a traffic switch).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from gates.config import STRATEGIES
from gates.core.errors import GatesError
from gates.core.procs import wait_until
from gates.core.redact import redact
from gates.platforms.local.forkserver import ForkServer
from gates.platforms.local.launcher import Launcher, await_healthy, health
from gates.platforms.local.processes import front_door_pid, running, stop_instance
from gates.platforms.local.state import Proc, Site

T = TypeVar("T")

# Bounds of every wait of a rollout, in seconds.
PLACE_TIMEOUT = 10.0  # HAProxy reports a placed instance UP
DRAIN_TIMEOUT = 30.0  # a draining instance finishes its requests
REMOVE_TIMEOUT = 5.0  # HAProxy lets go of a stopped server's connections
CANARY_TIMEOUT = 15.0  # the canary passes CANARY_CHECKS health checks in a row while taking traffic
CANARY_CHECKS = 5


def check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise GatesError(
            f"the local platform's {strategy!r} strategy is not built yet (built: {', '.join(STRATEGIES)})"
        )
    return strategy


class Rollout:
    """The steps of rolling one release out to one environment."""

    def __init__(self, launcher: Launcher, health_timeout: float, *, keep: bool = False) -> None:
        self.launcher = launcher
        self.site = launcher.site
        self.release = launcher.release
        self.health_timeout = health_timeout
        self.health_path = launcher.config.app.readiness_path
        self.request_timeout = launcher.config.app.health_timeout
        self.keep = keep

    def run(self, strategy: str) -> None:
        strategies = {"rolling": self.rolling, "immediate": self.immediate}
        strategies |= {"bluegreen": self.bluegreen, "canary": self.canary}
        self.ensure_front_door()
        # One warm set at most: the release this one replaces becomes it; an older one goes now.
        self.settle()
        strategies[check_strategy(strategy)]()

    def rolling(self) -> None:
        """Batches of ``env.surge + env.unavailable``: as a batch starts, ``env.unavailable`` of the old ones it
        replaces go out of rotation (drained, then stopped or kept warm); its new instances start together, are
        awaited together and put in rotation; then the rest of the old ones it replaces go the same way."""
        old = self.site.serving_instances()
        env = self.site.env
        count, unavailable = env.instances, env.unavailable
        step = env.surge + unavailable
        # The old ones a batch replaces drain and stop while the batch (or the next one) starts: out of rotation,
        # they only hold memory, and the rollout's time stays one start per batch. Why the unavailable ones go
        # first: the batch is that much larger (Kubernetes' maxUnavailable), so 8 instances take as many batches
        # as 2, and their starts run side by side -- on a busy machine, each start is one more share of the CPU.
        with ThreadPoolExecutor(max_workers=1) as retirer, self.launcher.forking(step) as server:
            retiring = []
            for first in range(0, count, step):
                batch = range(first, min(first + step, count))
                replaced = old[first : first + len(batch)]
                # In rotation now: the old ones no batch replaced yet, and the new ones so far. Never fewer than
                # ``count - unavailable`` (a scale-up from fewer old instances takes none out early).
                in_rotation = len(old) - min(first, len(old)) + first
                early = replaced[: max(0, min(unavailable, in_rotation - (count - unavailable)))]
                self.take_out(early, batch)
                retiring.append(retirer.submit(self.retire_all, early, drain=True))
                self.launch_all(batch, server)
                retiring.append(retirer.submit(self.retire_all, replaced[len(early) :], drain=True))
            retiring.append(retirer.submit(self.retire_all, old[count:], drain=True))
            for done in retiring:
                done.result()

    def take_out(self, procs: Sequence[Proc], batch: range) -> None:
        """Old instances out of rotation before the batch that replaces them starts (drained and stopped, or kept
        warm, by the retirer after); the others go on serving."""
        if not procs:
            return
        for proc in procs:
            self.site.front.set_state(proc.id, "drain")
        ids = [f"v{self.release.version}-{i}" for i in batch]
        self.site.event(
            f"instance(s) {', '.join(p.id for p in procs)} out of rotation while {ids[0]}..{ids[-1]} start "
            f"(max_unavailable {self.site.env.unavailable})"
        )

    def immediate(self) -> None:
        """Stop every old instance, then start the new ones: downtime in between, on purpose."""
        for proc in self.site.serving_instances():
            self.retire(proc, drain=False)
        for index in range(self.site.env.instances):
            self.launch(index)

    def bluegreen(self) -> None:
        """Start the whole new set beside the old one, taking no traffic; switch every server at once; stop the old."""
        old = self.site.serving_instances()
        new: list[Proc] = []
        try:
            for index in range(self.site.env.instances):
                new.append(self.launch(index, state="drain"))
        except BaseException:
            for proc in new:  # never took traffic: stop them, the old set serves on
                self.retire(proc, drain=False)
            raise
        front = self.site.front
        # New ones ready before old ones drain: for a moment both serve, never neither.
        for proc in new:
            front.set_state(proc.id, "ready")
        for proc in old:
            front.set_state(proc.id, "drain")
        self.site.event(f"switched traffic to release {self.release.version} ({', '.join(p.id for p in new)})")
        self.retire_all(old, drain=True)

    def canary(self) -> None:
        """One new instance beside the old ones; once it keeps passing its health check under traffic, roll the rest."""
        old = self.site.serving_instances()
        first = self.launch(0)
        try:
            self.gate_canary(first)
        except BaseException:
            self.retire(first, drain=True)
            raise
        for index in range(1, self.site.env.instances):
            if index - 1 < len(old):
                self.retire(old[index - 1], drain=True)
            self.launch(index)
        for proc in old[max(self.site.env.instances - 1, 0) :]:
            self.retire(proc, drain=True)

    def gate_canary(self, proc: Proc) -> None:
        """The canary answers CANARY_CHECKS health checks in a row, and HAProxy keeps it UP."""
        streak = [0]
        last = ["no answer yet"]

        def passing() -> bool:
            answer = health(proc, self.health_path, self.request_timeout)
            last[0] = str(answer)
            stat = self.site.front.servers().get(proc.id)
            ok = answer.ok and stat is not None and stat.status == "UP"
            streak[0] = streak[0] + 1 if ok else 0
            return streak[0] >= CANARY_CHECKS

        what = f"canary {proc.id} to pass {CANARY_CHECKS} health checks in a row while in rotation"
        try:
            wait_until(what, passing, timeout=CANARY_TIMEOUT)
        except GatesError as exc:
            raise GatesError(f"{exc}; last answer: {redact(last[0])}") from None
        self.site.event(f"canary {proc.id} passed {CANARY_CHECKS} health checks in a row; rolling the rest")

    def ensure_front_door(self) -> None:
        """Start HAProxy when it is not running, and put back the instances that still run."""
        if front_door_pid(self.site.front):
            return
        self.site.front.start(self.site.logs / "haproxy.log")
        self.site.event(f"HAProxy started on 127.0.0.1:{self.site.front.port}")
        for proc in self.site.load_instances():
            if running(proc):
                self.site.front.add(proc.id, proc.port)

    def launch(self, index: int, state: str = "ready") -> Proc:
        """Start instance ``index`` of the release, wait for it to be healthy, and place it in HAProxy:
        in rotation (``ready``), or checked but taking no traffic yet (``drain``)."""
        return self.place(self.launcher.start(index), state)

    def launch_all(self, indices: Iterable[int], server: ForkServer | None = None) -> list[Proc]:
        """Start instances ``indices`` together (forked from ``server``, when given) and place each in rotation
        once healthy; when one fails, the others are drained and stopped, and its error is raised."""
        starts = self.launcher.start_together(list(indices), server)
        started = [o for o in starts if isinstance(o, Proc)]
        failed = [o for o in starts if isinstance(o, BaseException)]
        if failed:
            self.retire_all(started, drain=False)
            raise failed[0]
        outcomes = _in_parallel(lambda proc: self.place(proc, "ready"), started)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if errors:
            self.retire_all([o for o in outcomes if isinstance(o, Proc)], drain=True)
            raise errors[0]
        return started

    def place(self, proc: Proc, state: str = "ready") -> Proc:
        """Wait for a started instance to be healthy and add it to HAProxy in ``state``; stop it if it fails."""
        try:
            await_healthy(proc, self.health_path, self.health_timeout, self.request_timeout)
            self.site.front.add(proc.id, proc.port, state)
            self.site.front.wait_status(proc.id, "UP" if state == "ready" else "DRAIN", PLACE_TIMEOUT)
        except BaseException:
            self.site.event(f"instance {proc.id} failed to come up; stopping it")
            # Clean up as far as possible, but never hide why the instance failed.
            with contextlib.suppress(OSError, GatesError):
                self.remove_from_front_door(proc)
                stop_instance(proc)
                self.site.drop_instance(proc)
            raise
        self.site.event(f"instance {proc.id} (pid {proc.pid}, port {proc.port}) is {state} in HAProxy")
        return proc

    def retire_all(self, procs: Sequence[Proc], *, drain: bool) -> None:
        """Retire ``procs`` together (their drains overlap); raise the first error once all are done."""
        errors = [o for o in _in_parallel(lambda p: self.retire(p, drain=drain), procs) if isinstance(o, BaseException)]
        if errors:
            raise errors[0]

    def retire(self, proc: Proc, *, drain: bool) -> None:
        """Take an old instance out of rotation (after its requests finish, when draining) and stop it; with
        ``keep``, an instance of an earlier release that drains is kept warm instead of stopped."""
        front = self.site.front
        if drain and running(proc) and front.set_state(proc.id, "drain"):
            try:
                front.wait_idle(proc.id, DRAIN_TIMEOUT)
            except GatesError as exc:
                # Its requests outlived the bound: stop it anyway; SIGTERM still lets the app finish them.
                self.site.event(f"instance {proc.id}: {exc}; stopping it anyway")
            else:
                if self.keep and proc.release != self.release.version:
                    self.site.mark_warm([proc], True)
                    self.site.event(f"instance {proc.id} (release {proc.release}) kept warm, out of rotation")
                    return
        front.set_state(proc.id, "maint")
        stop_instance(proc)
        self.remove_from_front_door(proc)
        self.site.drop_instance(proc)
        self.site.event(f"instance {proc.id} (release {proc.release}) stopped")

    def settle(self, procs: Sequence[Proc] | None = None) -> list[str]:
        """Stop the warm set, or the warm instances ``procs`` (they take no traffic: no drain); say what stopped."""
        warm = self.site.warm_instances() if procs is None else list(procs)
        self.retire_all(warm, drain=False)
        return [f"instance {p.id} of release {p.release} (kept warm) stopped" for p in warm]

    def finish_switch(self, warm: Sequence[Proc], others: Sequence[Proc]) -> None:
        """After ``switch_traffic`` (to the warm set ``warm``): it is recorded as serving, and the ``others`` are
        drained and stopped."""
        self.site.mark_warm(warm, False)
        self.site.event(f"switched traffic back to the warm instances ({', '.join(p.id for p in warm)})")
        self.retire_all(others, drain=True)

    def remove_from_front_door(self, proc: Proc) -> None:
        """Delete the server once HAProxy has let go of its connections; leave it in maint if it will not."""
        front = self.site.front
        if not front.set_state(proc.id, "maint"):
            return
        try:
            wait_until(f"HAProxy to delete server {proc.id}", lambda: front.remove(proc.id), timeout=REMOVE_TIMEOUT)
        except GatesError as exc:
            self.site.event(f"{exc}; it stays in maintenance")


def switch_traffic(site: Site, warm: Sequence[Proc], others: Sequence[Proc]) -> float:
    """The warm set ``warm`` back in rotation and the ``others`` out of it, in one exchange with HAProxy (then
    ``Rollout.finish_switch``). The monotonic time the switch was made."""
    # Warm ones ready before the others drain (HAProxy runs the line's commands in order): for a moment both serve,
    # never neither. One connection: on a busy machine each exchange is a wakeup of HAProxy and then of gates.
    site.front.set_states([*((p.id, "ready") for p in warm), *((p.id, "drain") for p in others)])
    return time.monotonic()


def _in_parallel(work: Callable[[T], object], items: Sequence[T]) -> list[object]:
    """``work`` on every item in its own thread; each one's result, or the exception it raised."""

    def attempt(item: T) -> object:
        try:
            return work(item)
        except Exception as exc:  # collected: the caller raises the first once all are done
            return exc

    if len(items) <= 1:
        return [attempt(i) for i in items]
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(attempt, items))
