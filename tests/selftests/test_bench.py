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


@pytest.mark.xdist_group("bench")
def test_quick_bench_runs_and_writes_valid_json(tmp_path):
    """`python -m gates.bench --quick` (make bench QUICK=1) prints a table and writes figures as JSON."""
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "gates.bench", "--quick", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(out.read_text())
    names = {f["name"] for f in data["figures"]}
    assert {"collection (pytest -m staging --collect-only)", "release: whole gates deploy", "gate_wall / max_molecule"} <= names
    assert {"rollback: warm switch -> previous release serving", "rollback: redeploy -> previous release serving"} <= names
    assert {"hung target: whole staging gate", "deploy: rolling, 8 instances"} <= names
    assert "database molecules, 1000 tables and migrations" in names
    assert {"probe: 20 ms outage detected", "probe: sustained request rate", "probe: CPU (% of one core)"} <= names
    assert "healthy releases passed (quick: no saturation) (1/1)" in names, result.stdout[-3000:] + result.stderr[-3000:]
    assert all(f["runs"] >= 1 for f in data["figures"])
    assert "figure" in result.stdout.splitlines()[0]
