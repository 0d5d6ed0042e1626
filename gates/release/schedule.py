"""The release's schedule: a step starts as soon as every step it waits on has passed, a few beside each other.

Each step names the steps whose verdicts it needs (``Step.after``); the plan's names are its order of
decisions (gates.release.runner.plan). A step never starts before those steps passed; once a step fails,
nothing new starts (the steps already running finish: each is bounded, and their verdicts are kept)
and the rest is not run. A step that is alone (nothing else running, nothing else ready) runs on the
main thread, exactly as a plan that runs one step after another always did: an interrupt reaches it
there, and the sign-off can ask its question on the terminal. Steps that run beside each other run on
threads; an interrupt, which only the main thread hears, stops them through a :class:`Stopper` (their
commands are stopped, their waits end), and each step's record then says interrupted.
"""

from __future__ import annotations

import dataclasses
import queue
import signal
import threading
from collections.abc import Callable, Sequence

from gates.core.procs import STOP_GRACE, Stopper, stopping
from gates.release.context import Step

# Steps at most at once. Two: the steps that run beside each other read (a backup, a preflight) while one
# step acts, and the machines releases run on (CI runners, laptops) have two cores or more.
BESIDE = 2

HEAR = 0.5  # seconds: the longest the main thread waits for a step's end without running signal handlers

RunOne = Callable[[Step], None]  # runs one step: returns when it passed, raises when it failed


def waits(steps: Sequence[Step]) -> dict[str, tuple[str, ...]]:
    """Each step's title -> the titles it waits on. ``after=None`` waits on every step before it; a name that is
    not an earlier step of the plan is a plan's mistake (ValueError): a step could never start, or start early."""
    seen: list[str] = []
    found: dict[str, tuple[str, ...]] = {}
    for step in steps:
        if step.title in found:
            raise ValueError(f"the plan has {step.title} twice")
        after = tuple(seen) if step.after is None else step.after
        unknown = [t for t in after if t not in found]
        if unknown:
            raise ValueError(f"{step.title} waits on {', '.join(unknown)}: not a step before it in the plan")
        found[step.title] = after
        seen.append(step.title)
    return found


@dataclasses.dataclass
class Ran:
    """How a schedule ended: the steps that failed (plan order, each with its error), whether it was
    interrupted (and the steps the interrupt stopped), and the steps that never started (plan order)."""

    failed: list[tuple[Step, BaseException]] = dataclasses.field(default_factory=list)
    interrupted: bool = False
    stopped: list[Step] = dataclasses.field(default_factory=list)
    not_run: list[Step] = dataclasses.field(default_factory=list)


class Schedule:
    """Runs a plan's steps once each, as their dependencies allow, at most ``beside`` at once."""

    def __init__(self, steps: Sequence[Step], run_one: RunOne, beside: int = BESIDE) -> None:
        self.steps = list(steps)
        self.after = waits(self.steps)
        self.run_one = run_one
        self.beside = max(1, beside)
        self.pending = list(self.steps)
        self.passed: set[str] = set()
        self.ran = Ran()
        self.stopper = Stopper()
        self._threads: dict[str, tuple[Step, threading.Thread]] = {}
        self._done: queue.SimpleQueue[tuple[Step, BaseException | None]] = queue.SimpleQueue()

    def run(self) -> Ran:
        """Run every step that can run; how it ended. An interrupt stops what runs and is said in ``Ran``."""
        current: Step | None = None
        try:
            while True:
                ready = self._ready()
                if not ready and not self._threads:
                    break
                if len(ready) == 1 and not self._threads:
                    current = ready[0]
                    self.pending.remove(current)
                    self._end(current, self._on_main(current))
                    current = None
                    continue
                for step in ready[: self.beside - len(self._threads)]:
                    self._start(step)
                step, error = self._next()
                self._threads.pop(step.title)[1].join()
                self._end(step, error)
        except KeyboardInterrupt:
            self.ran.interrupted = True
            self.ran.stopped += [current] if current is not None else []
            self._stop()
        self.ran.failed.sort(key=lambda f: self.steps.index(f[0]))
        self.ran.stopped.sort(key=self.steps.index)
        self.ran.not_run = list(self.pending)
        return self.ran

    def _next(self) -> tuple[Step, BaseException | None]:
        """The next step a thread ended. Not bounded here: each step bounds its own waits and commands and ends
        in a verdict. Asked again every HEAR seconds, so that an interrupt reaches the main thread even when
        the signal was delivered to another thread (its handler runs when the main thread wakes)."""
        while True:
            try:
                return self._done.get(timeout=HEAR)
            except queue.Empty:
                continue

    def _ready(self) -> list[Step]:
        if self.ran.failed or self.ran.interrupted:
            return []  # nothing starts after a failure: the steps left wait on verdicts that will not come
        return [s for s in self.pending if all(t in self.passed for t in self.after[s.title])]

    def _on_main(self, step: Step) -> BaseException | None:
        try:
            self.run_one(step)
        except Exception as exc:
            return exc
        return None

    def _start(self, step: Step) -> None:
        def body() -> None:
            error: BaseException | None = None
            try:
                with stopping(self.stopper):
                    self.run_one(step)
            except BaseException as exc:  # KeyboardInterrupt too: the stopper stopped it
                error = exc
            finally:
                self._done.put((step, error))

        thread = threading.Thread(target=body, name=f"gates-step {step.title}", daemon=True)
        self._threads[step.title] = (step, thread)
        thread.start()
        self.pending.remove(step)

    def _end(self, step: Step, error: BaseException | None) -> None:
        if error is None:
            self.passed.add(step.title)
        elif isinstance(error, KeyboardInterrupt):
            # Only an interrupt stops a thread's step (its stopper); whatever raised it, the release ends interrupted.
            self.ran.stopped.append(step)
            self.ran.interrupted = True
        else:
            self.ran.failed.append((step, error))

    def _stop(self) -> None:
        """Stop the steps running on threads: SIGTERM to their commands, SIGKILL to what is left after the grace
        period; wait for each to unwind (bounded: a step stuck outside a command is left to the process's end).
        A second interrupt stops waiting."""
        try:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                self.stopper.stop(sig)
                for _, thread in list(self._threads.values()):
                    if thread.ident is not None:  # started (an interrupt may fall between its start and here)
                        thread.join(timeout=2 * STOP_GRACE)
                self._collect()
                if not self._threads:
                    return
        except KeyboardInterrupt:
            self._collect()

    def _collect(self) -> None:
        """Take the verdicts of the threads that ended; a thread still alive keeps its place in ``_threads``."""
        while True:
            try:
                step, error = self._done.get_nowait()
            except queue.Empty:
                return
            self._threads.pop(step.title, None)
            self._end(step, error)

    def still_running(self) -> list[Step]:
        """The steps whose threads did not end (after an interrupt whose wait ran out)."""
        return [step for step, _ in self._threads.values()]
