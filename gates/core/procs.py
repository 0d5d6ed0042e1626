"""Running commands and waiting for things, always bounded, always logged, never leaking."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from gates.core.errors import GatesError
from gates.core.redact import keep, redact

T = TypeVar("T")

# Tests set GATES_FAST=1 to make poll intervals tiny; bounds stay the same.
_POLL = 0.005 if os.environ.get("GATES_FAST") else 0.05
STOP_GRACE = 5.0  # seconds a stopped command's process group gets to exit after SIGTERM


@dataclasses.dataclass(frozen=True)
class Completed:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def command(self) -> str:
        return redact(shlex.join(self.args))

    @property
    def output(self) -> str:
        return redact(self.stdout + self.stderr)


def run(
    args: Sequence[str],
    *,
    timeout: float,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    inherit: bool = True,
    input: str | None = None,
    log: Path | None = None,
    check: bool = True,
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
) -> Completed:
    """Run a command with a timeout; append a redacted transcript to ``log``.

    The command's environment is gates' own with ``env`` on top, or (``inherit=False``) ``env``
    alone. Raises GatesError naming the command when it times out or (with ``check``) exits non-zero.
    ``on_start`` is handed the process as soon as it runs (to stop it from another thread: ``stop_group``).
    """
    started = time.monotonic()
    full_env = {**(os.environ if inherit else {}), **(env or {})}
    try:
        # Its own process group: a timeout or an interrupt stops the command and everything it
        # started (pytest-xdist workers, Chromium, the Supabase CLI's pg tools), not just itself.
        proc = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=full_env,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise GatesError(f"{redact(args[0])}: command not found") from None
    if on_start is not None:
        on_start(proc)
    with _stoppable(proc):
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_group(proc)
            stdout, stderr = proc.communicate()
            result = Completed(tuple(args), -9, stdout + stderr, "", time.monotonic() - started)
            _append_log(log, result)
            raise GatesError(f"{result.command}: no answer within {timeout:g}s") from None
        except BaseException:  # KeyboardInterrupt (Ctrl-C, SIGTERM): leave nothing running behind us
            stop_group(proc)
            raise
    result = Completed(tuple(args), proc.returncode, stdout, stderr, time.monotonic() - started)
    _append_log(log, result)
    _stop_here(proc)
    if check and result.returncode != 0:
        tail = result.output.strip().splitlines()[-3:]
        raise GatesError(f"{result.command} exited {result.returncode}: {' | '.join(tail)}")
    return result


def stop_group(proc: subprocess.Popen[str], grace: float = STOP_GRACE) -> None:
    """SIGTERM the process group ``proc`` leads, SIGKILL it after ``grace`` seconds; reap ``proc``."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; members that ignored SIGTERM still get SIGKILL.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return


def _append_log(log: Path | None, result: Completed) -> None:
    if log is None:
        return
    transcript = f"$ {result.command}\n{result.output}[exit {result.returncode} after {result.seconds:.2f}s]\n\n"
    keep(log, transcript, append=True)


def wait_until(what: str, probe: Callable[[], T | None], *, timeout: float, interval: float | None = None) -> T:
    """Poll ``probe`` until it returns a truthy value; raise GatesError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    step = interval if interval is not None else _POLL
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # a probe that errors is a probe that is not ready yet
            last_error = exc
        if time.monotonic() >= deadline:
            reason = f" (last error: {redact(str(last_error))})" if last_error else ""
            raise GatesError(f"timed out after {timeout:g}s waiting for {what}{reason}")
        stopper = _STOPPER.get()
        if stopper is None:
            time.sleep(step)
        elif stopper.stopped.wait(step):
            raise KeyboardInterrupt


class Stopper:
    """An interrupt for the threads it is set in (``stopping``): only the main thread hears Ctrl-C or SIGTERM.

    ``stop`` stops every command those threads run (SIGTERM to its process group); the thread's ``run``
    or ``wait_until`` then raises KeyboardInterrupt there, as the signal does on the main thread, so the
    step unwinds through the same paths (its record says interrupted, its children are reaped)."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[str]] = set()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Ask every command of these threads to end (``sig`` to its group); later commands start stopped."""
        self.stopped.set()
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)

    def _add(self, proc: subprocess.Popen[str]) -> None:
        with self._lock:
            self._procs.add(proc)

    def _discard(self, proc: subprocess.Popen[str]) -> None:
        with self._lock:
            self._procs.discard(proc)


_STOPPER: contextvars.ContextVar[Stopper | None] = contextvars.ContextVar("gates_stopper", default=None)


@contextlib.contextmanager
def stopping(stopper: Stopper) -> Iterator[None]:
    """Within the block (one thread's), commands and waits end with KeyboardInterrupt once ``stopper`` stops."""
    token = _STOPPER.set(stopper)
    try:
        yield
    finally:
        _STOPPER.reset(token)


@contextlib.contextmanager
def _stoppable(proc: subprocess.Popen[str]) -> Iterator[None]:
    stopper = _STOPPER.get()
    if stopper is None:
        yield
        return
    stopper._add(proc)
    try:
        if stopper.stopped.is_set():  # stopped before this command began: it does not run on
            os.killpg(proc.pid, signal.SIGTERM)
        yield
    finally:
        stopper._discard(proc)


def _stop_here(proc: subprocess.Popen[str]) -> None:
    """A command that ended because its thread's stopper stopped: what is left of its group goes, and the
    thread is interrupted."""
    stopper = _STOPPER.get()
    if stopper is not None and stopper.stopped.is_set():
        stop_group(proc)
        raise KeyboardInterrupt
