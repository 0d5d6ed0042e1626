"""`gates rollback` after a release was confirmed: inside the warm window a switch, after it a redeploy.

Each run sets up what a team meets an "hour" after a release (gates.platforms.local.windowed): release
``good`` confirmed, then release ``bad`` confirmed, ``good`` warm in its window (``keep_previous_for``);
outside the window, the warm set was stopped as at its deadline. Both are the same code: what is timed
is the way back, not the fault. Then the command itself, ``gates rollback --to <good>``, runs under the
traffic probe (gates.gaterun.probe, as the warm window's self-test runs it), with its lock and ledger in
a scratch database of a local cluster.

Timed from outside the command: from the moment the platform was asked to roll back (the first line it
writes in the environment's deploy.log, before any wait) to the first answer the probe got from the
release it went back to (inside: ``good`` itself; outside: the new release serving ``good``'s code).
Beside it, the whole command's wall time (the interpreter's start, config, locks, ledger: no target)
and the probe's failed requests per rollback (target: none).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from gates import config as config_mod
from gates.bench.registry import scenario
from gates.bench.sandbox import CHECKOUT, DEMO, free_port, release_cli, write_config
from gates.bench.stats import Figure, figure, median_within
from gates.monitor.sampler import Sample

TIMEOUT = 300.0  # seconds: one gates rollback, on a busy machine
WINDOW_DB_ENV = "GATES_BENCH_WINDOW_DB"
KEEP_FOR = "1h"  # production's default window, said explicitly
PROBE = '\n[probe]\npaths = ["/health", "/api/ads/health", "/app"]\n'
SWITCH_BOUND, REDEPLOY_BOUND = 0.1, 5.0  # seconds: the call -> the previous release answering


@scenario("rollback inside and outside the warm window", cheap=True)
def rollback_window(tmp: Path, runs: int) -> list[Figure]:
    """``runs`` rollbacks inside the window and ``runs`` after it, each on an environment of its own."""
    from gates.database.cluster import LocalCluster

    cluster = LocalCluster(tmp / "pg", free_port())
    cluster.start()
    try:
        os.environ[WINDOW_DB_ENV] = cluster.ensure_database("bench_window")
        inside = _rollbacks(tmp / "inside", runs, inside=True, postgres_port=cluster.port)
        outside = _rollbacks(tmp / "outside", runs, inside=False, postgres_port=cluster.port)
    finally:
        cluster.stop()
    return [
        *_figures("inside the warm window", "switch", inside, SWITCH_BOUND),
        *_figures("outside the warm window", "redeploy", outside, REDEPLOY_BOUND),
    ]


def _figures(where: str, path: str, runs: list[tuple[float, float, int]], bound: float) -> list[Figure]:
    serving = [r[0] for r in runs]
    failed = [float(r[2]) for r in runs]
    return [
        figure(f"rollback {where} -> previous release serving", "s", serving, f"<= {bound:g} s ({path})",
               median_within(serving, bound)),
        figure(f"rollback {where}: whole gates rollback command", "s", [r[1] for r in runs]),
        figure(f"rollback {where}: failed probe requests", "requests", failed, "0 in every run",
               bool(failed) and max(failed) == 0),
    ]  # fmt: skip


def _rollbacks(folder: Path, runs: int, *, inside: bool, postgres_port: int) -> list[tuple[float, float, int]]:
    """Per run: (asked -> first answer of the release gone back to, the command's wall, failed probe requests)."""
    from gates.gaterun.probe import Probe
    from gates.platforms.local import LocalPlatform, Site, down
    from gates.platforms.local.windowed import confirmed_then_bad

    production = {"database_url_env": WINDOW_DB_ENV, "keep_previous_for": KEEP_FOR}
    path = write_config(folder, environments={"production": production}, postgres_port=postgres_port, extra=PROBE)
    cfg = config_mod.load(path)
    env = cfg.environment("production")
    platform = LocalPlatform(cfg)
    took: list[tuple[float, float, int]] = []
    try:
        for run in range(runs):
            bad = confirmed_then_bad(platform, env, str(DEMO), str(DEMO), inside=inside)
            good = bad - 1
            log = Site(cfg, env).logs / "deploy.log"
            mark = log.stat().st_size
            probe = Probe(cfg, env, folder / f"probe-{run}.jsonl", bad).start()
            started = time.time()
            said = _gates_rollback(path, env.name, good)
            ended = time.time()
            version = platform.status(env).release
            if version is None or (version == good) != inside:
                raise RuntimeError(
                    f"rollback {'inside' if inside else 'outside'} the window: serving {version}: {said}"
                )
            probe.deployed(version)
            result = probe.finish()
            asked = _asked_at(log.read_text()[mark:], env.name)
            took.append((_first_answer(result.samples, version, asked) - asked, ended - started,
                         int(result.summary()["failed"])))  # fmt: skip
    finally:
        down(cfg)
    return took


def _gates_rollback(config: Path, env: str, to: int) -> str:
    """``gates rollback --env ENV --to N``, the command as a team runs it; what it said."""
    argv = [sys.executable, *release_cli(), "--config", str(config), "rollback", "--env", env, "--to", str(to)]
    done = subprocess.run(argv, cwd=CHECKOUT, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"gates rollback exited {done.returncode}: {(done.stdout + done.stderr)[-2000:]}")
    return done.stdout


def _asked_at(log: str, env: str) -> float:
    """When (epoch seconds) the platform was asked to roll back ``env``: its line in the deploy log's new part."""
    asked = [line for line in log.splitlines() if f" rollback of {env} asked" in line]
    if len(asked) != 1:
        raise RuntimeError(f"expected one rollback asked of {env} in the deploy log, found {len(asked)}")
    return dt.datetime.fromisoformat(asked[0].split(" ", 1)[0]).timestamp()


def _first_answer(samples: Sequence[Sample], version: int, since: float) -> float:
    """When (epoch seconds) the first answer from release ``version`` arrived; one from before ``since`` (the
    platform was asked; a millisecond's rounding aside), or none at all, is no figure."""
    named = [s for s in samples if s.release == str(version) and not s.failed]
    if any(s.answered_at < since - 0.001 for s in named):
        raise RuntimeError(f"release {version} answered the probe before the rollback was asked")
    if not named:
        raise RuntimeError(f"the probe got no answer from release {version} after the rollback")
    return min(s.answered_at for s in named)
