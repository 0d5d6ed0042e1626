"""The benchmark runs and writes its figures; it asserts nothing about speed (speed is its output)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from gates.bench.stats import figure, table
from tests.selftests.demo import REPO


def test_a_figure_of_no_runs_is_not_a_zero():
    """A scenario that measured nothing reports NaN and a missed target, never a flattering 0."""
    f = figure("x", "s", [], "<= 1 s")
    assert math.isnan(f.median) and f.runs == 0 and f.met is False
    assert "NO" in table([f])


# The quick run's scenarios (5 runs each) are what `make bench QUICK=1` times; a self-test only needs to see the
# bench run them and write its report: once each.
@pytest.mark.xdist_group("bench")
def test_a_smoke_bench_runs_the_quick_scenarios_once_and_writes_valid_json(tmp_path):
    """`python -m gates.bench --smoke`: the cheap scenarios of `--quick`, one run each, the expensive ones named as
    skipped; a table, the machine's load, and the figures as JSON with min/median/max."""
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "gates.bench", "--smoke", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(out.read_text())
    assert data["smoke"] is True and data["quick"] is False
    figures = {f["name"]: f for f in data["figures"]}
    assert {"collection (pytest -m staging --collect-only)", "hung target: whole staging gate"} <= figures.keys()
    assert {
        "rollback: warm switch -> previous release serving",
        "rollback: redeploy -> previous release serving",
    } <= figures.keys()
    assert {"deploy: rolling, 2 instances", "deploy: rolling, 8 instances"} <= figures.keys()
    assert {
        "rollback inside the warm window -> previous release serving",
        "rollback outside the warm window -> previous release serving",
        "rollback inside the warm window: failed probe requests",
    } <= figures.keys()
    measured = [f for f in figures.values() if not f["pending"]]
    assert measured and all(f["runs"] == 1 and f["min"] <= f["median"] <= f["max"] for f in measured), measured
    expensive = {"release and gate", "no-change release of the React Router 7 demo", "database at scale",
                 "probe resolution", "comparison over healthy releases"}  # fmt: skip
    assert expensive | {"saturation"} == set(data["skipped"])
    assert "bench: smoke: skipped" in result.stdout.splitlines()[0]
    assert data["load"]["nproc"] >= 1 and {"before", "after", "during"} <= data["load"].keys()
    assert any(line.startswith("bench: load average (1 min) before") for line in result.stdout.splitlines())
