"""What the benchmark measures, each scenario on throw-away environments of the demo app."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

from gates import config as config_mod
from gates.bench.stats import Figure, figure
from gates.gaterun import run_gate
from gates.platforms import platform_for
from gates.platforms.haproxy import FrontDoor
from gates.sandbox import CHECKOUT, DEMO, NOTIFY, demo_webhook, release_cli, write_config

TIMEOUT = 600


def _gates(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *release_cli(), "--config", str(config), *args],
        cwd=CHECKOUT, capture_output=True, text=True, timeout=TIMEOUT, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip


def collection(tmp: Path, runs: int) -> list[Figure]:
    """Start-up: wall time of `pytest -m staging --collect-only` over the molecules."""
    config = write_config(tmp / "collect", environments={"staging": {}})
    args = [sys.executable, "-m", "pytest", "-m", "staging", "--collect-only", "-q"]
    args += ["--gates-config", str(config), "-p", "no:cacheprovider"]
    times = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run(args, cwd=config.parent, capture_output=True, timeout=TIMEOUT, check=False)
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
        config = write_config(tmp / f"release-{run}", environments={"staging": {}, "production": {}}, extra=NOTIFY)
        started = time.monotonic()
        result = _gates(config, "deploy", "--first-release", "--approve", env=demo_webhook(config))
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
        config = write_config(folder, environments={"production": {}})
        try:
            # The release to roll back to: migrated and deployed (a whole release would need a staging drill).
            if _gates(config, "migrate", "--env", "production").returncode != 0:
                raise RuntimeError("bench rollback: the migration of the first release failed")
            cfg = config_mod.load(config)
            env = cfg.environment("production")
            platform = platform_for(cfg, env)
            platform.deploy(env, str(cfg.app_source))
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


OUTAGES_MS = (10, 20, 50, 100, 200)
OUTAGE_SPACING = 0.5  # seconds of normal service between two injected outages
BENCH_DB_ENV = "GATES_BENCH_UNREACHABLE_DB"  # the probed paths need no database


def probe_resolution(tmp: Path, quick: bool) -> list[Figure]:
    """Outages of 10-200 ms (every HAProxy backend server in maintenance) under the probe: which it detects,
    the rate it sustains, and its CPU cost (its own process's CPU time over its wall time, % of one core)."""
    from gates.platforms.local import LocalPlatform, Site, down
    from gates.probe import Probe

    os.environ[BENCH_DB_ENV] = "postgresql://bench@127.0.0.1:9/bench"  # port 9: refused at once
    extra = '\n[probe]\npaths = ["/health", "/api/ads/health", "/app"]\n'
    path = write_config(tmp / "probe", environments={"production": {"database_url_env": BENCH_DB_ENV}}, extra=extra)
    cfg = config_mod.load(path)
    env = cfg.environment("production")
    detected: dict[int, list[float]] = {ms: [] for ms in OUTAGES_MS}
    rates: list[float] = []
    cpu: list[float] = []
    try:
        LocalPlatform(cfg).deploy(env, str(DEMO))
        front = Site(cfg, env).front
        for run in range(1 if quick else 3):
            probe = Probe(cfg, env, tmp / "probe" / f"probe-{run}.jsonl", before=1).start()
            windows = [(ms, *_outage(front, ms)) for ms in OUTAGES_MS]
            result = probe.finish()
            failed = [s.at for s in result.samples if s.failed]
            for ms, start, end in windows:
                # A request sent in the outage or just before it (its answer fell inside) counts for it.
                detected[ms].append(float(any(start - 0.05 <= at <= end for at in failed)))
            rates.append(result.timeline.rate)
            share = result.summary()["cpu_percent"]
            cpu += [float(share)] if share is not None else []
    finally:
        down(cfg)
    figures = [
        figure(
            f"probe: {ms} ms outage detected",
            "share",
            hits,
            "detected" if ms >= 20 else "",
            _all(hits) if ms >= 20 else None,
        )
        for ms, hits in detected.items()
    ]
    figures.append(figure("probe: sustained request rate", "req/s", rates, ">= 200 req/s", _ge(rates, 199.0)))
    figures.append(figure("probe: CPU (% of one core)", "%", cpu, "<= 30 %", _le(cpu, 30.0)))
    return figures


def _outage(front: FrontDoor, ms: int) -> tuple[float, float]:
    """Every server of the backend in maintenance for ``ms``; (start, end) in epoch seconds."""
    time.sleep(OUTAGE_SPACING)
    names = list(front.servers())
    start = time.time()
    for name in names:
        front.set_state(name, "maint")
    time.sleep(max(0.0, ms / 1000 - (time.time() - start)))
    for name in names:
        front.set_state(name, "ready")
    end = time.time()
    time.sleep(OUTAGE_SPACING)
    return start, end


def _all(hits: list[float]) -> bool:
    return bool(hits) and all(h == 1.0 for h in hits)


def _ge(values: list[float], bound: float) -> bool:
    return bool(values) and sorted(values)[len(values) // 2] >= bound


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
