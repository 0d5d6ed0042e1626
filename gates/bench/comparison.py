"""The comparison with the release replaced, over healthy releases of an unchanged app: false alarms and cost.

The scenario releases the demo app (``examples/demo``: the lightest app the comparison molecules have a
dashboard, routes and processes to compare on) to a local production environment again and again, its
code unchanged, on a database of the local cluster. Each release after the first is judged as a release
is: the whole production gate (but its zero-downtime molecule: no rollout probe ran), the release it
replaced warm beside it (``--baseline-release``, as ``gates deploy`` passes it), then a monitor window
reading the serving release's memory and the monitor gate's growth molecule over it. Every comparison molecule failing on one of these healthy releases is a
false alarm (target 0), counted per comparison; one that did not judge (skipped, missing) leaves its
count unproven. The cost is the seconds of the visual, latency and memory molecules (their fixtures'
visits and samples included: JUnit times setup) and their share of the production gate's wall time; the
1-minute load average is kept beside each release.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gates.bench.registry import scenario
from gates.bench.sandbox import DEMO, write_config
from gates.bench.stats import Figure, figure

VISUAL = "test_the_dashboard_looks_like_the_release_it_replaces"
LATENCY = "test_each_route_answers_as_fast_as_the_release_it_replaces"
MEMORY = "test_memory_holds_like_the_release_it_replaces"
LAYOUT = "test_the_dashboard_is_styled_and_laid_out"
GROWTH = "test_memory_does_not_grow_with_requests_through_the_window"
# Each comparison by the name its row says, and its molecule.
COMPARISONS = {"visual": VISUAL, "latency": LATENCY, "memory": MEMORY, "layout": LAYOUT, "growth": GROWTH}
# The molecules whose time is the comparison's own: two dashboard visits, 2 x samples x routes requests and the
# memory read through them. The layout probe runs inside the browser molecules' own visit, growth reads the
# window's readings: neither adds a visit or a request.
COSTLY = (VISUAL, LATENCY, MEMORY)
HEALTHY_RELEASES = 20
WINDOW = 14.0  # seconds: the growth molecule needs 8 readings (one a second) past the first 20 % of the requests
APP = "demo app (examples/demo), local production, 1 instance"
# The zero-downtime molecule judges the probe `gates deploy` runs through a rollout; the scenario deploys through the
# platform without one, so that molecule (no comparison) is left out of its gate rather than failing there.
NO_PROBE = "test_no_request_failed_during_the_rollout"


@dataclasses.dataclass(frozen=True)
class Judged:
    """One comparison molecule's verdict in one gate: passed, failed (with its message) or skipped; its seconds."""

    outcome: str  # "passed" | "failed" | "skipped"
    seconds: float
    message: str = ""


@dataclasses.dataclass(frozen=True)
class GatedRelease:
    """One healthy release as the scenario judged it."""

    gate_xml: Path  # the production gate's JUnit XML
    gate_seconds: float  # its wall time
    monitor_xml: Path | None  # the monitor gate's (its growth molecule), if it ran
    load: float  # the 1-minute load average when its gates ended


def comparison_molecules(xml: Path) -> dict[str, Judged]:
    """Molecule name (parametrisation dropped) -> its verdict, for the comparison molecules of one gate's JUnit XML;
    an unreadable file has none."""
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError):
        return {}
    found: dict[str, Judged] = {}
    for case in root.iter("testcase"):
        name = case.get("name", "").split("[")[0]
        if name not in COMPARISONS.values():
            continue
        seconds = float(case.get("time", "0") or 0)
        failed = case.find("failure")
        failed = failed if failed is not None else case.find("error")
        if failed is not None:
            found[name] = Judged("failed", seconds, (failed.get("message") or failed.text or "").strip())
        else:
            found[name] = Judged("skipped" if case.find("skipped") is not None else "passed", seconds)
    return found


def tally(releases: Sequence[GatedRelease], app: str = APP) -> list[Figure]:
    """False alarms per comparison (target 0, and every release judged), the comparison's seconds and share of the
    production gate's wall time, the gate's wall time and the load average, over ``releases``."""
    n = len(releases)
    verdicts = [
        {**comparison_molecules(r.gate_xml), **(comparison_molecules(r.monitor_xml) if r.monitor_xml else {})}
        for r in releases
    ]
    figures = []
    for kind, molecule in COMPARISONS.items():
        seen = [v[molecule] for v in verdicts if molecule in v]
        alarms = sum(j.outcome == "failed" for j in seen)
        judged = sum(j.outcome != "skipped" for j in seen)
        name = f"comparison false alarms: {kind} ({judged}/{n} healthy releases judged; {app})"
        figures.append(figure(name, "alarms", [float(alarms)], "0, all judged", alarms == 0 and judged == n > 0))
    spent = [sum(v[m].seconds for m in COSTLY if m in v) for v in verdicts]
    shares = [100 * s / r.gate_seconds for s, r in zip(spent, releases, strict=True) if r.gate_seconds > 0]
    return [
        *figures,
        figure(f"comparison: seconds added to the production gate ({app})", "s", spent),
        figure(f"comparison: share of the production gate's wall time ({app})", "%", shares),
        figure(f"production gate wall, comparison included ({app})", "s", [r.gate_seconds for r in releases]),
        figure("comparison: load average (1 min) as each release's gates ended", "load", [r.load for r in releases]),
    ]


def alarms_said(releases: Sequence[GatedRelease]) -> list[str]:
    """One line per false alarm: which release, which molecule, its message's first line (for stderr)."""
    lines = []
    for i, r in enumerate(releases, start=2):
        both = {**comparison_molecules(r.gate_xml), **(comparison_molecules(r.monitor_xml) if r.monitor_xml else {})}
        for name, judged in sorted(both.items()):
            if judged.outcome == "failed":
                first = judged.message.splitlines()[0] if judged.message else "failed"
                lines.append(f"release {i}: {name}: {first} (load {r.load:.1f})")
    return lines


@scenario("comparison over healthy releases", cheap=False, runs=HEALTHY_RELEASES)
def healthy_releases(tmp: Path, releases: int) -> list[Figure]:
    """``releases`` healthy releases of the unchanged demo, each judged against the one it replaces."""
    from gates import config as config_mod
    from gates.database import prepare_database
    from gates.database.cluster import LocalCluster
    from gates.gaterun.runner import run_gate
    from gates.monitor.window import WINDOW_ENV, run_window
    from gates.platforms.local import LocalPlatform, down
    from gates.platforms.local.memory import release_rss
    from gates.release.migrating import migrate

    folder = tmp / "comparison"
    path = write_config(folder, environments={"production": {"instances": 1}},
                        browser={"ready_selector": "[data-tile]", "video": "never"},
                        extra='\n[monitor]\nbrowser_every = "off"\n')  # fmt: skip
    cfg = config_mod.load(path)
    env = cfg.environment("production")
    platform = LocalPlatform(cfg)
    gated: list[GatedRelease] = []
    try:
        migrate(cfg, prepare_database(cfg, env), None)
        previous = platform.deploy(env, str(DEMO)).version
        for run in range(releases):
            out = folder / f"release-{run + 2}"
            (out / "logs").mkdir(parents=True)
            serving = platform.deploy(env, str(DEMO)).version
            started = time.monotonic()
            run_gate(cfg, env, "production", out, "production-gate", expected=serving,
                     options=["--baseline-release", str(previous), "-k", f"not {NO_PROBE}"])  # fmt: skip
            wall = time.monotonic() - started
            window = run_window(
                cfg, env, WINDOW, out, "monitor-production", memory=_serving(release_rss, cfg, env, serving)
            )
            run_gate(cfg, env, "monitor", out, "monitor-production-gate", env_vars={WINDOW_ENV: str(window.json_path)},
                     options=["-k", GROWTH])  # fmt: skip
            gated.append(GatedRelease(out / "production-gate.xml", wall, out / "monitor-production-gate.xml",
                                      os.getloadavg()[0]))  # fmt: skip
            previous = serving
    finally:
        down(cfg)
        LocalCluster.for_config(cfg).stop()
    for line in alarms_said(gated):
        print(f"bench: comparison false alarm: {line}", file=sys.stderr)
    return tally(gated)


def _serving(
    read: Callable[[Any, Any], dict[int, dict[str, int]]], cfg: Any, env: Any, release: int
) -> Callable[[], dict[str, int]]:
    """The memory the monitor window reads: the release serving's instances only (the one it replaced is warm)."""
    return lambda: read(cfg, env).get(release, {})


def record_figures(records: Path, label: str) -> list[Figure]:
    """The comparison molecules of every gate in the release records under ``records`` (``gates deploy``'s), by
    ``label``: false alarms over all of them, and the seconds they added to each gate that compared."""
    seconds: list[float] = []
    alarms = gates = 0
    for xml in sorted(records.glob("*/*-gate.xml")):
        if xml.name.startswith("drill") or "rollback" in xml.name:
            continue
        found = comparison_molecules(xml)
        if any(j.outcome != "skipped" for j in found.values()):
            gates += 1
            alarms += sum(j.outcome == "failed" for j in found.values())
            if any(m in found for m in COSTLY):
                seconds.append(sum(found[m].seconds for m in COSTLY if m in found))
    return [
        figure(f"comparison ({label}): seconds added to a gate", "s", seconds),
        figure(f"comparison ({label}): false alarms over {gates} gates", "alarms", [float(alarms)], "0", alarms == 0),
    ]
