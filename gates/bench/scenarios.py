"""What the benchmark measures, each scenario on throw-away environments of the demo app."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

from gates import config as config_mod
from gates.bench.stats import Figure, figure
from gates.pipeline import GATES_ROOT, MOLECULES, run_gate
from gates.platforms import platform_for
from gates.sandbox import write_config

TIMEOUT = 600


def _gates(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gates.cli", "--config", str(config), *args],
        cwd=GATES_ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip


def collection(tmp: Path, runs: int) -> list[Figure]:
    """Start-up: wall time of `pytest -m staging --collect-only` over the molecules."""
    config = write_config(tmp / "collect", environments={"staging": {}})
    args = [sys.executable, "-m", "pytest", str(MOLECULES), "-m", "staging", "--collect-only", "-q"]
    args += ["--gates-config", str(config), "-p", "no:cacheprovider"]
    times = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run(args, cwd=GATES_ROOT, capture_output=True, timeout=TIMEOUT, check=False)
        times.append(time.monotonic() - started)
    return [figure("collection (pytest -m staging --collect-only)", "s", times, "<= 1.5 s", _le(times, 1.5))]


def release_and_gate(tmp: Path, runs: int) -> list[Figure]:
    """A whole `gates deploy` of the demo, per step; and the production gate's wall time against its molecules."""
    wall: list[float] = []
    per_step: dict[str, list[float]] = {}
    ratios: list[float] = []
    gate_walls: list[float] = []
    max_molecules: list[float] = []
    for run in range(runs):
        config = write_config(tmp / f"release-{run}", environments={"staging": {}, "production": {}})
        started = time.monotonic()
        result = _gates(config, "deploy", "--first-release")
        wall.append(time.monotonic() - started)
        try:
            if result.returncode != 0:
                raise RuntimeError(f"bench release failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")
            record_dir = next((tmp / f"release-{run}" / "deploys").iterdir())
            record = json.loads((record_dir / "record.json").read_text())
            for step in record["steps"]:
                per_step.setdefault(f"{step['name']} {step.get('env') or ''}".strip(), []).append(_seconds(step))
            gate = next(s for s in record["steps"] if s["name"] == "gate" and s.get("env") == "production")
            molecules = _molecule_times(record_dir / "production-gate.xml")
            gate_walls.append(_seconds(gate))
            max_molecules.append(max(molecules))
            ratios.append(_seconds(gate) / max(max(molecules), 1e-3))
        finally:
            _gates(config, "down")
    figures = [figure("release: whole gates deploy", "s", wall, "<= 120 s", _le(wall, 120))]
    figures += [figure(f"release step: {name}", "s", times) for name, times in per_step.items()]
    figures += [
        figure("production gate wall", "s", gate_walls),
        figure("production gate: slowest molecule", "s", max_molecules),
        figure("gate_wall / max_molecule", "x", ratios, "<= 2", _le(ratios, 2.0)),
    ]
    return figures


def rollback(tmp: Path, runs: int) -> list[Figure]:
    """From a failed production gate to the previous release serving all traffic."""
    times: list[float] = []
    for run in range(runs):
        folder = tmp / f"rollback-{run}"
        # Production is only released after a drill on staging (waived: a fresh state has no earlier release).
        config = write_config(folder, environments={"staging": {}, "production": {}})
        try:
            if _gates(config, "deploy", "--first-release").returncode != 0:
                raise RuntimeError("bench rollback: the first release failed")
            cfg = config_mod.load(config)
            env = cfg.environment("production")
            platform = platform_for(cfg, env)
            faulty = _faulty_copy(cfg.app_source, folder / "faulty")
            platform.deploy(env, str(faulty))
            (folder / "gate" / "logs").mkdir(parents=True)
            outcome = run_gate(cfg, env, "production", folder / "gate", "production-gate")
            if outcome.passed:
                raise RuntimeError("bench rollback: the faulty release passed its gate")
            started = time.monotonic()
            release = platform.rollback(env)
            _until_all_traffic_from(env.url, release.version)
            times.append(time.monotonic() - started)
        finally:
            _gates(config, "down")
    return [figure("rollback: failed gate -> previous release serving", "s", times, "<= 5 s", _le(times, 5.0))]


def probe_resolution(tmp: Path, quick: bool) -> list[Figure]:
    """Which injected outages the traffic probe detects (measured once the probe exists)."""
    return []


# ---------------------------------------------------------------------------


def _le(values: list[float], bound: float) -> bool:
    return bool(values) and sorted(values)[len(values) // 2] <= bound


def _seconds(step: dict[str, str]) -> float:
    return (dt.datetime.fromisoformat(step["ended_at"]) - dt.datetime.fromisoformat(step["started_at"])).total_seconds()


def _molecule_times(xml: Path) -> list[float]:
    cases = ET.parse(xml).getroot().iter("testcase")
    times = [float(c.get("time", "0")) for c in cases]
    if not times:
        raise RuntimeError(f"{xml}: the gate ran no molecule")
    return times


def _faulty_copy(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "faults.json"))
    (target / "faults.json").write_text(json.dumps({"status": {"/api/ads/health": 500}}))
    return target


def _until_all_traffic_from(url: str, version: int, confirmations: int = 10, timeout: float = 30.0) -> None:
    """Poll until ``confirmations`` responses in a row come from ``version``."""
    deadline = time.monotonic() + timeout
    streak = 0
    with httpx.Client(base_url=url, timeout=2.0) as client:
        while streak < confirmations:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not serve only release {version} within {timeout:g}s")
            try:
                served = client.get("/health").headers.get("X-Release")
            except httpx.HTTPError:
                served = None
            streak = streak + 1 if served == str(version) else 0
