"""Helpers for self-tests that release the demo app: configs on free ports, the CLI, gate runs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo"
DEMO_TILES = ["revenue", "orders", "conversion", "campaigns"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """A server could listen on ``port`` now (closed connections in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def write_config(
    folder: Path,
    *,
    source: Path = DEMO,
    environments: dict[str, dict[str, Any]],
    app: dict[str, Any] | None = None,
    postgres_port: int | None = None,
    browser: dict[str, Any] | None = None,
) -> Path:
    """A gates.toml in ``folder`` releasing ``source`` to local environments on free ports, state inside ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    app_table = {
        "name": "demo",
        "source": str(source),
        "health_paths": ["/health", "/api/ads/health", "/api/analytics/health"],
        **(app or {}),
    }
    lines = ["[app]", *(f"{k} = {json.dumps(v)}" for k, v in app_table.items())]
    for name, table in environments.items():
        table = {
            "platform": "local", "url": f"http://127.0.0.1:{free_port()}",
            "admin_url": f"http://127.0.0.1:{free_port()}/", **table,
        }  # fmt: skip
        lines += ["", f"[environments.{name}]", *(f"{k} = {json.dumps(v)}" for k, v in table.items())]
    lines += ["", "[local]", f'state_dir = "{folder / "state"}"', f"postgres_port = {postgres_port or free_port()}"]
    lines += ["", "[record]", f'dir = "{folder / "deploys"}"']
    browser_table = {"tiles": DEMO_TILES, **(browser or {})}
    lines += ["", "[browser]", *(f"{k} = {json.dumps(v)}" for k, v in browser_table.items())]
    path = folder / "gates.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def demo_copy(folder: Path, faults: dict[str, Any] | None = None) -> Path:
    """A copy of the demo app, with a faults.json when ``faults`` is given: a faulty release to deploy."""
    target = folder / "app"
    shutil.copytree(DEMO, target, ignore=shutil.ignore_patterns("__pycache__", "faults.json"))
    if faults:
        (target / "faults.json").write_text(json.dumps(faults))
    return target


def gates(*args: str, config: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the gates CLI as a user does, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "gates.cli", "--config", str(config), *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )  # fmt: skip


def junit_results(xml: Path) -> dict[str, str]:
    """Test name -> 'passed' or the failure message, from a JUnit XML file."""
    import xml.etree.ElementTree as ET

    results: dict[str, str] = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        node = case.find("failure")
        if node is None:
            node = case.find("error")
        results[case.get("name", "?")] = "passed" if node is None else (node.get("message") or "") + (node.text or "")
    return results
