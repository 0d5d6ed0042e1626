"""The React Router 7 demo released as `make demo` releases it, in a sandbox of its own.

The repository's gates.toml (the demo at examples/dashboard, its build and start commands, its browser, flags,
monitor and database settings) with its local environments moved to free ports and its state and records into
the sandbox; the repository's team molecules (examples/molecules) beside it, as the team's repository holds them;
notifications and alerts to the sandbox's staging app, as `make demo` sends them to its own.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from gates.bench.sandbox import CHECKOUT, NOTIFY_ENV, demo_webhook, release_cli, write_config

RELEASE_TIMEOUT = 900.0  # seconds: a first release builds the app (npm ci, react-router build) on a loaded machine
_MOVED = ("url", "admin_url")  # each environment's ports: the sandbox's own


def _table(name: str, values: dict[str, Any]) -> str:
    return "\n".join(["", f"[{name}]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]) + "\n"


@dataclasses.dataclass(frozen=True)
class DemoSandbox:
    folder: Path
    config: Path

    @classmethod
    def write(cls, folder: Path) -> DemoSandbox:
        """The sandbox's gates.toml, from the repository's, and the team molecules beside it."""
        data = tomllib.loads((CHECKOUT / "gates.toml").read_text())
        app = {k: v for k, v in data["app"].items() if k != "source"}
        environments = {
            name: {k: v for k, v in table.items() if k not in _MOVED} for name, table in data["environments"].items()
        }
        webhook = {"webhook_env": NOTIFY_ENV}
        extra = _table("flags", data.get("flags", {}))
        extra += _table("monitor", {**data.get("monitor", {}), **webhook}) + _table("notify", webhook)
        config = write_config(
            folder, source=CHECKOUT / data["app"]["source"], app=app, environments=environments,
            browser=data.get("browser", {}), database=data.get("database", {}), extra=extra,
        )  # fmt: skip
        shutil.copytree(CHECKOUT / "examples" / "molecules", folder / "molecules")
        # The team's pytest settings: its molecules where they are, nothing else of the sandbox collected.
        (folder / "pytest.ini").write_text("[pytest]\ntestpaths = molecules\n")
        return cls(folder, config)

    def release(self, *, first: bool = False) -> tuple[float, dict[str, Any]]:
        """One `gates deploy --approve` (``first``: with --first-release); its wall seconds and its record, which
        must say it passed."""
        before = set(self.records())
        args = ["--config", str(self.config), "deploy", "--approve", *(["--first-release"] if first else [])]
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, *release_cli(), *args], cwd=CHECKOUT, capture_output=True, text=True,
            timeout=RELEASE_TIMEOUT, check=False, env={**os.environ, **demo_webhook(self.config)},
        )  # fmt: skip
        wall = time.monotonic() - started
        made = sorted(set(self.records()) - before)
        if done.returncode != 0 or not made:
            raise RuntimeError(f"bench: a release of the demo failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        record: dict[str, Any] = json.loads((made[-1] / "record.json").read_text())
        return wall, record

    def records(self) -> list[Path]:
        folder = self.folder / "deploys"
        return sorted(p for p in folder.iterdir() if (p / "record.json").is_file()) if folder.is_dir() else []

    def down(self) -> None:
        subprocess.run([sys.executable, *release_cli(), "--config", str(self.config), "down"], cwd=CHECKOUT,
                       capture_output=True, timeout=120, check=False)  # fmt: skip
