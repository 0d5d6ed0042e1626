"""The demo React Router 7 app (examples/dashboard) for the self-tests: built once, served by Node, faulty on demand.

``built_app`` (session): a copy of the folder with ``npm ci`` (from the npm cache) and ``react-router
build`` done; ``serve`` starts ``npm start`` on a free port; ``release_with`` is the built app beside a
``faults.json`` (a faulty release without building again); ``migrated`` applies its migrations.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.selftests.demo import REPO, free_port

SOURCE = REPO / "examples" / "dashboard"
START_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def built_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of examples/dashboard with its locked dependencies installed and the app built."""
    app = tmp_path_factory.mktemp("dashboard") / "app"
    shutil.copytree(SOURCE, app, ignore=shutil.ignore_patterns("node_modules", "build", ".react-router", "faults.json"))
    for command in (["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund"], ["npm", "run", "build"]):
        done = subprocess.run(command, cwd=app, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return app


def release_with(built: Path, folder: Path, faults: dict[str, Any]) -> Path:
    """The built app with a faults.json: a faulty release (its dependencies linked, not installed again)."""
    app = folder / "faulty"
    app.mkdir()
    for name in ("package.json", "server.js"):
        shutil.copy2(built / name, app / name)
    shutil.copytree(built / "build", app / "build")
    (app / "node_modules").symlink_to(built / "node_modules")
    (app / "faults.json").write_text(json.dumps(faults))
    return app


def migrated(url: str) -> str:
    """Apply the app's Supabase migrations to the database at ``url``, in order; return the URL."""
    with psycopg.connect(url, autocommit=True) as conn:
        for migration in sorted((SOURCE / "supabase" / "migrations").glob("*.sql")):
            conn.execute(migration.read_text().encode())  # several statements: psycopg sends them as one script
    return url


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text()


@contextlib.contextmanager
def serve(app: Path, log: Path, env: dict[str, str]) -> Iterator[Server]:
    """``npm start`` on a free port, answering HTTP; stopped (its whole process group) afterwards."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            ["npm", "start"], cwd=app, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True,
            env={**os.environ, "PORT": str(port), "HOST": "127.0.0.1", **env},
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_until_answering(server)
        yield server
    finally:
        stop(process)


def wait_until_answering(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the server exited with {server.process.returncode}:\n{server.output()}")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(server.url + "/health", timeout=2)
            return
        time.sleep(0.1)  # polling a readiness signal, bounded by the deadline
    raise AssertionError(f"the server did not answer within {START_TIMEOUT:g}s:\n{server.output()}")


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM to the group (npm and its node child), then SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
