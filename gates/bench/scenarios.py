"""What the benchmark measures, each scenario on throw-away environments of the demo app."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from statistics import median

from gates import config as config_mod
from gates.bench.registry import scenario
from gates.bench.sandbox import CHECKOUT, DEMO, NOTIFY, demo_webhook, free_port, release_cli, write_config
from gates.bench.stats import Figure, figure, median_at_least, median_within
from gates.bench.switchpoll import SwitchPoller
from gates.gaterun.runner import child_bytecode, run_gate
from gates.platforms.haproxy import FrontDoor

TIMEOUT = 600


def _gates(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *release_cli(), "--config", str(config), *args],
        cwd=CHECKOUT, capture_output=True, text=True, timeout=TIMEOUT, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip


@scenario("collection", cheap=True)
def collection(tmp: Path, runs: int) -> list[Figure]:
    """Start-up: wall time of `pytest -m staging --collect-only` over the molecules, as a gate's child pytest runs
    it: with the bytecode settings the gate runner gives it (``child_bytecode``), after one untimed run (a state
    folder's first gate compiles). Where this environment forbids writing bytecode (PYTHONDONTWRITEBYTECODE, no
    cache folder) the same command without that cache is timed beside it, with no target: every run compiles."""
    config = write_config(tmp / "collect", environments={"staging": {}})
    args = [sys.executable, "-m", "pytest", "-m", "staging", "--collect-only", "-q"]
    args += ["--gates-config", str(config), "-p", "no:cacheprovider"]
    cached = child_bytecode(config_mod.load(config), os.environ)

    def timed(env: dict[str, str]) -> float:
        started = time.monotonic()
        subprocess.run(args, cwd=config.parent, capture_output=True, timeout=TIMEOUT, check=False, env=env)
        return time.monotonic() - started

    gate_env = {**os.environ, **cached}
    timed(gate_env)  # fills the cache, as a state folder's first gate does
    times = [timed(gate_env) for _ in range(runs)]
    figures = [
        figure("collection (pytest -m staging --collect-only)", "s", times, "<= 1.5 s", median_within(times, 1.5))
    ]
    if cached:
        uncached = [timed(dict(os.environ)) for _ in range(runs)]
        figures.append(figure("collection, bytecode not cached (PYTHONDONTWRITEBYTECODE)", "s", uncached))
    return figures


@scenario("release and gate", cheap=False)
def release_and_gate(tmp: Path, runs: int) -> list[Figure]:
    """A whole `gates deploy` of the demo, per step; and the production gate's wall time against its molecules."""
    wall: list[float] = []
    per_step: dict[str, list[float]] = {}
    ratios: list[float] = []
    gate_walls: list[float] = []
    max_molecules: list[float] = []
    second: list[float] = []
    reused: list[bool] = []
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
            # `make demo` run again (its same arguments): the same code, so the build is reused, and the drill
            # runs for real.
            started = time.monotonic()
            again = _gates(config, "deploy", "--first-release", "--approve", env=demo_webhook(config))
            second.append(time.monotonic() - started)
            if again.returncode != 0:
                raise RuntimeError(f"bench second release failed: {again.stdout[-2000:]}{again.stderr[-2000:]}")
            second_dir = next(d for d in (tmp / f"release-{run}" / "deploys").iterdir() if d != record_dir)
            steps = json.loads((second_dir / "record.json").read_text())["steps"]
            reused.append(any(s["name"] == "build" and "reused build" in s.get("detail", "") for s in steps))
        finally:
            _gates(config, "down")
    figures = [figure("release: whole gates deploy", "s", wall, "<= 120 s", median_within(wall, 120))]
    figures.append(
        figure("release: second gates deploy (same code)", "s", second, "<= 60 s, reused build",
               median_within(second, 60) and bool(reused) and all(reused))
    )  # fmt: skip
    figures += [figure(f"release step: {name}", "s", times) for name, times in per_step.items()]
    figures += [
        figure("production gate wall", "s", gate_walls),
        figure("production gate: slowest molecule", "s", max_molecules),
        figure("gate_wall / max_molecule", "x", ratios, "<= 1.3", median_within(ratios, 1.3)),
    ]
    return figures


NO_CHANGE_TARGET = 30.0  # seconds: a release of the React Router 7 demo with nothing changed


@scenario("no-change release of the React Router 7 demo", cheap=False)
def no_change_release(tmp: Path, runs: int) -> list[Figure]:
    """``gates deploy`` of the React Router 7 demo with nothing changed, as a second `make demo` runs it: the
    repository's gates.toml (examples/dashboard, its flags, monitor window, browser and database settings) and its
    team molecules (examples/molecules), in a sandbox of its own. A first release (--first-release) builds it, then
    ``runs`` releases of the same code are timed, whole and step by step (each step's own time, and the drill's
    parts), every one of them passing: its build reused, the drill run for real."""
    from gates.bench.demo import DemoSandbox

    sandbox = DemoSandbox.write(tmp / "no-change")
    walls: list[float] = []
    steps: dict[str, list[float]] = {}
    loads: list[float] = []
    try:
        sandbox.release(first=True)
        for _ in range(runs):
            wall, record = sandbox.release()
            walls.append(wall)
            loads.append(os.getloadavg()[0])
            for step in record["steps"]:
                steps.setdefault(f"{step['name']} {step.get('env') or ''}".strip(), []).append(_seconds(step))
            for part, seconds in (record.get("drill") or {}).get("timings", {}).items():
                steps.setdefault(f"drill: {part}", []).append(float(seconds))
    finally:
        sandbox.down()
    low, high = min(loads, default=0.0), max(loads, default=0.0)
    print(f"bench: no-change releases: load average (1 min) at their ends {low:.1f}-{high:.1f}", file=sys.stderr)
    target = f"<= {NO_CHANGE_TARGET:g} s"
    return [
        figure("release: React Router 7 demo, no change", "s", walls, target, median_within(walls, NO_CHANGE_TARGET)),
        *(figure(f"no-change release step: {name}", "s", values) for name, values in steps.items()),
    ]


@scenario("rollback", cheap=True)
def rollback(tmp: Path, runs: int) -> list[Figure]:
    """From the call of a rollback to the previous release serving all traffic: by a switch back to the warm
    previous release (``keep_previous``), and by rolling it out anew."""
    warm = _rollbacks(tmp / "rollback-warm", runs, keep=True)
    cold = _rollbacks(tmp / "rollback-cold", runs, keep=False)
    return [
        figure("rollback: warm switch -> previous release serving", "s", warm, "<= 0.1 s", median_within(warm, 0.1)),
        figure("rollback: redeploy -> previous release serving", "s", cold, "<= 5 s", median_within(cold, 5.0)),
    ]


def _rollbacks(folder: Path, runs: int, *, keep: bool) -> list[float]:
    """Release 1; then ``runs`` times a faulty release (it fails a gate, not its health check) and the timed
    rollback from it, on the same environment (each rollback returns to a healthy release again).

    The gate that would fail the faulty release is not run: the figure starts at the rollback's call, made in this
    process, and ends when the poller, a process of its own, has its first of 10 answers in a row from another
    release."""
    from gates.platforms.local import LocalPlatform, down

    os.environ[BENCH_DB_ENV] = UNREACHABLE_DB  # the polled path needs no database
    production = {"database_url_env": BENCH_DB_ENV, "keep_previous": keep}
    cfg = config_mod.load(write_config(folder, environments={"production": production}))
    env = cfg.environment("production")
    platform = LocalPlatform(cfg)
    took: list[float] = []
    try:
        platform.deploy(env, str(DEMO))
        faulty = str(_faulty_copy(DEMO, folder / "faulty"))
        for _ in range(runs):
            bad = platform.deploy(env, faulty).version
            # A client of its own, answering already (from ``bad``) when the clock starts (gates.bench.switchpoll).
            with SwitchPoller(env.url, bad) as poller:
                started = time.monotonic()
                platform.rollback(env)
                serving_from = poller.first_answer()
            if serving_from <= started:
                raise RuntimeError(f"another release than {bad} served all traffic before the rollback was called")
            took.append(serving_from - started)
    finally:
        down(cfg)
    return took


DEPLOY_SIZES = (2, 4, 8)


@scenario("rolling deploy at 2, 4 and 8 instances", cheap=True)
def deploy_scaling(tmp: Path, runs: int) -> list[Figure]:
    """A rolling deploy over running instances (a release after the first) at 2, 4 and 8 instances, default
    surge: one first release per count, then ``runs`` timed releases over it. The counts take turns, run by
    run, so that a change of the machine's load falls on all of them alike."""
    from gates.platforms.local import LocalPlatform, down

    os.environ[BENCH_DB_ENV] = UNREACHABLE_DB
    times: dict[int, list[float]] = {n: [] for n in DEPLOY_SIZES}
    configs = []
    try:
        for n in DEPLOY_SIZES:
            staging = {"database_url_env": BENCH_DB_ENV, "instances": n}
            cfg = config_mod.load(write_config(tmp / f"deploy-{n}", environments={"staging": staging}))
            configs.append((n, cfg))
            LocalPlatform(cfg).deploy(cfg.environment("staging"), str(DEMO))
        for _ in range(runs):
            for n, cfg in configs:
                started = time.monotonic()
                LocalPlatform(cfg).deploy(cfg.environment("staging"), str(DEMO))
                times[n].append(time.monotonic() - started)
    finally:
        for _, cfg in configs:
            down(cfg)
    return deploy_figures(times)


def deploy_figures(times: dict[int, list[float]]) -> list[Figure]:
    """Deploy seconds per instance count; every count but the smallest is judged against 2x the smallest's."""
    smallest = min(times)
    base = median(times[smallest])
    figures = []
    for n, values in sorted(times.items()):
        if n == smallest:
            figures.append(figure(f"deploy: rolling, {n} instances", "s", values))
            continue
        target = f"<= 2x {smallest} instances ({2 * base:.1f} s)"
        figures.append(figure(f"deploy: rolling, {n} instances", "s", values, target, median_within(values, 2 * base)))
    return figures


@scenario("hung target", cheap=True)
def hung_target(tmp: Path, runs: int) -> list[Figure]:
    """The whole staging gate against an app that accepts connections and never answers, beside its bound:
    ``[app] health_timeout + [browser] load_timeout + 5 s``."""
    os.environ[BENCH_DB_ENV] = UNREACHABLE_DB
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(128)
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        staging = {"url": url, "admin_url": "", "database_url_env": BENCH_DB_ENV}
        path = write_config(tmp / "hung", environments={"staging": staging}, app={"health_timeout": HUNG_HEALTH},
                            browser={"load_timeout": HUNG_LOAD, "admin_origins": ["https://admin.shopify.com"]},
                            database={"lock_timeout": 1.0, "statement_timeout": 5.0})  # fmt: skip
        cfg = config_mod.load(path)
        took = []
        for run in range(runs):
            out = tmp / "hung" / f"gate-{run}"
            (out / "logs").mkdir(parents=True)
            started = time.monotonic()
            run_gate(cfg, cfg.environment("staging"), "staging", out, "staging-gate")
            took.append(time.monotonic() - started)
    limit = hung_bound(HUNG_HEALTH, HUNG_LOAD)
    return [figure("hung target: whole staging gate", "s", took, f"<= {limit:g} s (bound)", median_within(took, limit))]


HUNG_HEALTH, HUNG_LOAD = 2.0, 5.0  # [app] health_timeout and [browser] load_timeout of the hung-target gate


def hung_bound(health_timeout: float, load_timeout: float) -> float:
    """How long a gate may take against an app that never answers: each bounded wait once, and 5 s of the rest."""
    return health_timeout + load_timeout + 5.0


SCALE_TABLES = 1000
SCALE_DB_ENV = "GATES_BENCH_SCALE_DB"


@scenario("database at scale", cheap=False)
def database_scale(tmp: Path, runs: int) -> list[Figure]:
    """The database molecules of the staging gate on 1,000 tables created by 1,000 applied migrations, in a
    scratch database of a local cluster: the molecules' own seconds (summed) and the gate's wall."""
    from gates.database.cluster import LocalCluster

    cluster = LocalCluster(tmp / "scale-pg", free_port())
    cluster.start()
    molecules: list[float] = []
    walls: list[float] = []
    try:
        os.environ[SCALE_DB_ENV] = cluster.ensure_database("bench_scale")
        app = _scale_app(tmp / "scale-app", os.environ[SCALE_DB_ENV])
        staging = {"database_url_env": SCALE_DB_ENV}
        cfg = config_mod.load(
            write_config(tmp / "scale", source=app, environments={"staging": staging}, postgres_port=cluster.port,
                         extra=f'\n[tools]\nsupabase = "{CHECKOUT / "node_modules" / ".bin" / "supabase"}"\n')
        )  # fmt: skip
        for run in range(runs):
            out = tmp / "scale" / f"gate-{run}"
            (out / "logs").mkdir(parents=True)
            started = time.monotonic()
            run_gate(cfg, cfg.environment("staging"), "staging and database", out, "db-gate")
            walls.append(time.monotonic() - started)
            molecules.append(sum(_molecule_times(out / "db-gate.xml")))
    finally:
        cluster.stop()
    name = f"database molecules, {SCALE_TABLES} tables and migrations"
    return [
        figure(name, "s", molecules, "<= 3 s", median_within(molecules, 3.0)),
        figure(f"{name}: gate wall", "s", walls),
    ]


def _scale_app(folder: Path, url: str) -> Path:
    """An app of SCALE_TABLES migrations, each creating one table, applied as the Supabase CLI records them."""
    import psycopg

    migrations = folder / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    history = "supabase_migrations.schema_migrations"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"create schema if not exists supabase_migrations; create table if not exists {history} "
            "(version text primary key, statements text[], name text)"
        )
        with conn.transaction():
            for n in range(SCALE_TABLES):
                version, name = f"2026010100{n:04d}", f"table_{n:04d}"
                statement = f"create table public.{name} (id bigint primary key)"
                (migrations / f"{version}_{name}.sql").write_text(statement + ";\n")
                conn.execute(statement)
                conn.execute(f"alter table public.{name} enable row level security")
                conn.execute(f"create policy own_row on public.{name} for select using (id = 0)")
                conn.execute(f"insert into {history} values (%s, %s, %s)", (version, [statement], name))
    return folder


OUTAGES_MS = (10, 20, 50, 100, 200)
OUTAGE_SPACING = 0.5  # seconds of normal service between two injected outages
BENCH_DB_ENV = "GATES_BENCH_UNREACHABLE_DB"  # the probed paths need no database
UNREACHABLE_DB = "postgresql://bench@127.0.0.1:9/bench"  # port 9: refused at once


@scenario("probe resolution", cheap=False)
def probe_resolution(tmp: Path, runs: int) -> list[Figure]:
    """Outages of 10-200 ms (every HAProxy backend server in maintenance) under the probe: which it detects,
    the rate it sustains, and its CPU cost (its own process's CPU time over its wall time, % of one core)."""
    from gates.gaterun.probe import Probe
    from gates.platforms.local import LocalPlatform, Site, down

    os.environ[BENCH_DB_ENV] = UNREACHABLE_DB
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
        for run in range(runs):
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
    figures.append(
        figure("probe: sustained request rate", "req/s", rates, ">= 200 req/s", median_at_least(rates, 199.0))
    )
    figures.append(figure("probe: CPU (% of one core)", "%", cpu, "<= 30 %", median_within(cpu, 30.0)))
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
    # Serves 200 on every path (so it rolls out), but its dashboard logs an error: a gate fails it.
    (target / "faults.json").write_text(json.dumps({"extra_html": "<script>console.error('faulty')</script>"}))
    return target
