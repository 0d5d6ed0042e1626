"""Run a command and read its stdout as it streams: each line with the moment it arrived."""

from __future__ import annotations

import dataclasses
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Streamed:
    """A finished command: exit code, its output, and each stdout line with its arrival (monotonic seconds)."""

    returncode: int
    stdout: str
    stderr: str
    lines: tuple[tuple[float, str], ...]

    def first(self, predicate: Callable[[str], bool]) -> tuple[int, float, str]:
        """Index, arrival and text of the first line that matches; AssertionError naming the output if none."""
        for index, (at, line) in enumerate(self.lines):
            if predicate(line):
                return index, at, line
        raise AssertionError(f"no such line in:\n{self.stdout}\n{self.stderr[-3000:]}")


def run_streamed(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_line: Callable[[str], None] | None = None,
) -> Streamed:
    """Run ``args``; call ``on_line`` with each stdout line the moment it is read; stop the command after ``timeout``."""
    with subprocess.Popen(
        list(args), cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    ) as proc:  # closes the pipes, whatever happens
        return _read(proc, args, timeout, on_line)


def _read(
    proc: subprocess.Popen[str], args: Sequence[str], timeout: float, on_line: Callable[[str], None] | None
) -> Streamed:
    assert proc.stdout is not None and proc.stderr is not None
    lines: queue.Queue[str | None] = queue.Queue()
    stderr: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threads = [
        threading.Thread(target=pump, daemon=True),
        threading.Thread(target=lambda: stderr.append(proc.stderr.read() if proc.stderr else ""), daemon=True),
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    seen: list[tuple[float, str]] = []
    try:
        while True:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                break
            seen.append((time.monotonic(), line))
            if on_line is not None:
                on_line(line)
    except queue.Empty:
        proc.kill()
        raise AssertionError(f"{args[-1]}: no end within {timeout:g}s") from None
    returncode = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    for thread in threads:
        thread.join(timeout=10)
    return Streamed(returncode, "\n".join(line for _, line in seen) + "\n", "".join(stderr), tuple(seen))
