"""Real `gates deploy` processes for self-tests: start one as a user does, watch its record, kill what it left.

Waits poll the record and the process table (never fixed sleeps); a step's children run in process
groups of their own, so killing a release means killing every live process whose command names its record.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.selftests.demo import REPO


def start_deploy(
    config: Path, out: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`gates deploy --first-release [args]` in the background, its stdout and stderr kept in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "stdout").open("wb") as stdout, (out / "stderr").open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "gates.cli", "--config", str(config), "deploy", "--first-release", *args],
            cwd=REPO, stdout=stdout, stderr=stderr, env={**os.environ, **(env or {})},
        )  # fmt: skip


def processes_naming(text: Path) -> list[int]:
    """Live (not zombie) processes whose command line contains ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(text).encode() in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


def kill_naming(record: Path) -> None:
    """SIGKILL what a killed release left running: its steps' own process groups (or lone processes)."""
    for pid in processes_naming(record):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:  # not a group leader (or gone already)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``proc`` if it still runs, and reap it."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)
