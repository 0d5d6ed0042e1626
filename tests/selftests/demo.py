"""Helpers for self-tests that release the demo app: configs on free ports, the CLI, gate runs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from gates.bench.sandbox import DEMO, free_port, write_config
from gates.core.procs import wait_until

REPO = Path(__file__).resolve().parents[2]
__all__ = [
    "DEMO",
    "REPO",
    "demo_copy",
    "free_port",
    "gates",
    "junit_results",
    "none_failed",
    "port_is_free",
    "running_demo",
    "skips",
    "write_config",
]


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` of 127.0.0.1 now: a server could bind it, or the only sockets using it
    are other connections' local ends (the port is in the ephemeral range, where clients of tests running
    beside this one may land; closed connections in TIME_WAIT do not count either)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return not _listening(port)
        return True


def _listening(port: int) -> bool:
    """Whether /proc/net/tcp{,6} shows a socket in LISTEN (state 0A) on ``port``."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                    return True
    return False


def demo_copy(folder: Path, faults: dict[str, Any] | None = None) -> Path:
    """A copy of the demo app, with a faults.json when ``faults`` is given: a faulty release to deploy."""
    target = folder / "app"
    shutil.copytree(DEMO, target, ignore=shutil.ignore_patterns("__pycache__", "faults.json"))
    if faults:
        (target / "faults.json").write_text(json.dumps(faults))
    return target


@contextlib.contextmanager
def running_demo(database: str, log: Path, app: Path = DEMO) -> Iterator[str]:
    """The Python demo (``app``: DEMO or a copy of it) started by hand on a free port against ``database``, as a tool
    other than gates would deploy it, its output in ``log``; its URL. Stopped (its whole session) afterwards."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=app, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "DATABASE_URL": database},
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until("the demo to answer", lambda: _answers(url), timeout=60)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def gates(
    *args: str, config: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the gates CLI as a user does, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "gates.cli", "--config", str(config), *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )  # fmt: skip


def junit_results(xml: Path) -> dict[str, str]:
    """Test name -> 'passed', 'skipped: <reason>' or the failure message, from a JUnit XML file."""
    import xml.etree.ElementTree as ET

    results: dict[str, str] = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        node = case.find("failure")
        if node is None:
            node = case.find("error")
        skipped = case.find("skipped")
        if node is not None:
            results[case.get("name", "?")] = (node.get("message") or "") + (node.text or "")
        elif skipped is not None:
            results[case.get("name", "?")] = f"skipped: {skipped.get('message') or skipped.text or ''}"
        else:
            results[case.get("name", "?")] = "passed"
    return results


def failures(results: dict[str, str]) -> dict[str, str]:
    """The molecules of ``junit_results`` that failed (neither passed nor skipped), with their messages."""
    return {name: said for name, said in results.items() if said != "passed" and not said.startswith("skipped: ")}


def skips(results: dict[str, str]) -> dict[str, str]:
    """The molecules of ``junit_results`` that were skipped, with the reasons they gave."""
    return {name: said.removeprefix("skipped: ") for name, said in results.items() if said.startswith("skipped: ")}


def none_failed(results: dict[str, str]) -> bool:
    """Whether every molecule of ``junit_results`` passed or was skipped (saying why)."""
    return all(r == "passed" or r.startswith("skipped: ") for r in results.values())
