"""Trust under load: the healthy React Router 7 demo released again and again while every core is busy.

A verdict a team can trust never flakes: a healthy release must pass however loaded the machine is.
The scenario starts one busy loop per core (each stops by itself after a bound, and is killed at
the end), then releases the unchanged demo N times as `make demo` does -- staging, its gate, the
rollback drill, production, its gate, the monitor window with its browser -- and counts the
releases that passed. The target is N of N; a failed release's reason is printed, never retried.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gates.bench.comparison import record_figures
from gates.bench.registry import scenario
from gates.bench.sandbox import CHECKOUT, NOTIFY, demo_webhook, release_cli, write_config
from gates.bench.stats import Figure, figure

DASHBOARD = CHECKOUT / "examples" / "dashboard"
RELEASE_TIMEOUT = 900.0  # seconds: one release of the demo on a saturated 2-core machine takes 1-2 minutes
APP = {"build": "npm ci --prefer-offline --no-audit --no-fund && npm run build", "start": "npm start"}
EXTRA = NOTIFY + (
    '\n[flags]\nnames = ["ANALYTICS_REAL_DATA"]\nsource = "endpoint"\nendpoint = "/api/flags"\njson_path = "flags"\n'
    '\n[monitor]\nwindow = "5s"\nwebhook_env = "GATES_SANDBOX_WEBHOOK"\n'
)


def _busy_loops(count: int, seconds: float) -> list[subprocess.Popen[bytes]]:
    """``count`` processes spinning a core each, each ending by itself after ``seconds``."""
    spin = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"
    return [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(count)]


SATURATED_RELEASES = 20


# Last: its busy loops would load every figure measured beside them.
@scenario("saturation", cheap=False, runs=SATURATED_RELEASES, last=True)
def saturated_releases(tmp: Path, releases: int) -> list[Figure]:
    """``releases`` healthy releases of the React Router demo, with one busy loop per core."""
    folder = tmp / "saturation"
    environments: dict[str, dict[str, Any]] = {"staging": {}, "production": {}}
    config = write_config(
        folder, source=DASHBOARD, app=APP, environments=environments, extra=EXTRA,
        browser={"ready_selector": 'html[data-hydrated="true"]'},
    )  # fmt: skip
    loops = _busy_loops(os.cpu_count() or 1, RELEASE_TIMEOUT * releases)
    passed: list[float] = []
    walls: list[float] = []
    loads: list[float] = []
    try:
        for run in range(releases):
            started = time.monotonic()
            args = ["deploy", "--approve", *(["--first-release"] if run == 0 else [])]
            done = subprocess.run(
                [sys.executable, *release_cli(), "--config", str(config), *args], cwd=CHECKOUT, capture_output=True,
                text=True, timeout=RELEASE_TIMEOUT, check=False, env={**os.environ, **demo_webhook(config)},
            )  # fmt: skip
            walls.append(time.monotonic() - started)
            loads.append(os.getloadavg()[0])
            passed.append(1.0 if done.returncode == 0 else 0.0)
            if done.returncode != 0:
                print(f"bench: saturated release {run + 1} FAILED: {_reason(folder)}", file=sys.stderr)
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
        subprocess.run([sys.executable, *release_cli(), "--config", str(config), "down"], cwd=CHECKOUT,
                       capture_output=True, timeout=120, check=False)  # fmt: skip
    ok = int(sum(passed))
    name = "healthy releases passed under saturation"
    # On stderr: the table is what stdout prints first.
    low, high = min(loads, default=0.0), max(loads, default=0.0)
    print(f"bench: {name}: {ok}/{releases} (load average {low:.1f}-{high:.1f})", file=sys.stderr)
    return [
        figure(f"{name} ({ok}/{releases})", "passed", passed, f"{releases}/{releases}", ok == releases),
        figure("release under saturation: whole gates deploy", "s", walls),
        *record_figures(folder / "deploys", "under saturation, React Router demo"),
    ]


def _reason(folder: Path) -> str:
    """The last release's reason from its record, or why there is none."""
    records = sorted((folder / "deploys").glob("*/record.json"))
    if not records:
        return "no record"
    data = json.loads(records[-1].read_text())
    return str(data.get("reason") or data.get("outcome"))
