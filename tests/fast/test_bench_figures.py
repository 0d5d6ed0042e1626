"""The benchmark's pure parts: its bounds, its targets and its table, with made-up figures (no process runs)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import pytest

from gates.bench import registry
from gates.bench.__main__ import REGISTERED_BY
from gates.bench.comparison import COMPARISONS, GatedRelease, alarms_said, record_figures, tally
from gates.bench.load import Load
from gates.bench.scenarios import deploy_figures, hung_bound
from gates.bench.stats import MIN_RUNS, figure, pending, table
from gates.config import Environment

assert REGISTERED_BY  # every scenario registered


def test_a_figure_is_the_median_of_its_runs_with_min_and_max_beside_it():
    """Median of an odd and of an even number of runs (the mean of the middle two), min and max, run count."""
    odd = figure("x", "s", [3.0, 1.0, 9.0, 2.0, 4.0])
    assert (odd.low, odd.median, odd.high, odd.runs) == (1.0, 3.0, 9.0, 5)
    even = figure("x", "s", [4.0, 1.0, 2.0, 10.0])
    assert (even.low, even.median, even.high, even.runs) == (1.0, 3.0, 10.0, 4)


def test_a_figure_in_the_json_report_has_min_median_max_and_every_run():
    """The JSON shape of a figure: its name and unit, min/median/max, the runs' values, target and verdict."""
    f = figure("deploy", "s", [1.5, 1.0, 2.0, 1.2, 1.1], "<= 2 s", True)
    assert f.as_dict() == {
        "name": "deploy", "unit": "s", "min": 1.0, "median": 1.2, "max": 2.0, "runs": 5,
        "values": [1.5, 1.0, 2.0, 1.2, 1.1], "target": "<= 2 s", "met": True, "pending": False,
    }  # fmt: skip


def test_a_figure_of_no_runs_is_null_in_json_and_a_missed_target():
    """Nothing measured is never a flattering zero: NaN in the table's figure, null in JSON, target missed."""
    f = figure("x", "s", [], "<= 1 s")
    assert math.isnan(f.median) and f.met is False
    assert (f.as_dict()["min"], f.as_dict()["median"], f.as_dict()["max"], f.as_dict()["runs"]) == (None, None, None, 0)


def test_a_slot_shows_its_target_and_no_verdict_until_measured():
    """A pending figure is a row with its target, "not measured yet", and no verdict either way."""
    slot = pending("rollback inside the warm window -> previous release serving", "s", "<= 0.1 s")
    assert slot.met is None and slot.as_dict()["pending"] is True and slot.as_dict()["median"] is None
    row = table([slot]).splitlines()[1]
    assert "<= 0.1 s" in row and row.endswith("not measured yet")


def test_every_scenario_runs_at_least_five_times_and_the_quick_run_keeps_the_cheap_ones():
    """Registered scenarios make >= 5 runs; the quick run's are the cheap ones (rollback, rolling deploy, hung
    target, collection) and the slots, never a whole release; the saturated releases run last."""
    assert all(s.runs >= MIN_RUNS for s in registry.SCENARIOS)
    cheap = {s.name for s in registry.SCENARIOS if s.cheap}
    assert {"collection", "rollback", "rolling deploy at 2, 4 and 8 instances", "hung target"} <= cheap
    expensive = {"release and gate", "no-change release of the React Router 7 demo", "database at scale",
                 "probe resolution", "comparison over healthy releases"}  # fmt: skip
    assert (expensive | {"saturation"}).isdisjoint(cheap)
    assert registry.SCENARIOS[-1].name == "saturation"


def test_a_window_rollback_is_timed_from_the_platforms_asked_line_to_the_first_answer_naming_the_release():
    """The warm window's rollback figure: from the deploy log's "rollback of <env> asked" line (its timestamp) to
    the first successful probe answer from the release gone back to; an answer from it before the ask, or none,
    is no figure; the cheap scenario's rows are a switch (<= 0.1 s) and a redeploy (<= 5 s), each with the
    command's wall and the failed requests (none in every run)."""
    from gates.bench.window import _asked_at, _figures, _first_answer
    from gates.monitor.sampler import Sample

    log = (
        "2026-12-07T10:00:00.000+00:00 release 3 complete\n"
        "2026-12-07T10:00:01.250+00:00 rollback of production asked (to release 2)\n"
        "2026-12-07T10:00:01.262+00:00 rollback to release 2: warm switch\n"
    )
    asked = _asked_at(log, "production")
    assert asked == dt.datetime(2026, 12, 7, 10, 0, 1, 250000, tzinfo=dt.UTC).timestamp()
    samples = [
        Sample(asked - 0.01, "/health", 200, 0.002, release="3"),
        Sample(asked + 0.010, "/health", 503, 0.001, release="2"),  # failed: not serving
        Sample(asked + 0.020, "/health", 200, 0.003, release="2"),
        Sample(asked + 0.030, "/health", 200, 0.001, release="2"),
    ]
    assert _first_answer(samples, 2, asked) - asked == pytest.approx(0.023)
    with pytest.raises(RuntimeError, match="before the rollback was asked"):
        _first_answer([Sample(asked - 0.5, "/health", 200, 0.001, release="2")], 2, asked)
    with pytest.raises(RuntimeError, match="no answer from release 2"):
        _first_answer(samples[:1], 2, asked)
    with pytest.raises(RuntimeError, match="expected one rollback asked of staging"):
        _asked_at(log, "staging")
    rows = _figures("inside the warm window", "switch", [(0.02, 1.1, 0), (0.03, 1.0, 1)], 0.1)
    assert [(f.name, f.target, f.met) for f in rows] == [
        ("rollback inside the warm window -> previous release serving", "<= 0.1 s (switch)", True),
        ("rollback inside the warm window: whole gates rollback command", "", None),
        ("rollback inside the warm window: failed probe requests", "0 in every run", False),
    ]


def test_a_scenario_of_fewer_than_five_runs_or_a_second_of_one_name_is_refused(monkeypatch):
    """The registry holds the bench to its statistics, and to one scenario per name."""
    monkeypatch.setattr(registry, "SCENARIOS", [])
    with pytest.raises(ValueError, match="fewer than the bench's 5"):
        registry.scenario("few", cheap=True, runs=3)
    registry.scenario("one", cheap=True)(lambda tmp, runs: [])
    with pytest.raises(ValueError, match="registered twice"):
        registry.scenario("one", cheap=False)(lambda tmp, runs: [])


def test_the_report_says_the_load_before_during_and_after_and_nproc():
    """The load line and its JSON: before, during (min/median/max of the samples), after, and nproc."""
    load = Load(nproc=2, before=0.5, after=3.0, during=(2.0, 4.0, 3.0))
    assert load.as_dict() == {
        "nproc": 2, "before": 0.5, "after": 3.0, "during": {"min": 2.0, "median": 3.0, "max": 4.0}, "samples": 3,
    }  # fmt: skip
    assert load.line() == "load average (1 min) before 0.50, during 2.00-4.00 (median 3.00), after 3.00; nproc 2"


def test_the_hung_target_bound_is_each_bounded_wait_once_plus_five_seconds():
    """health_timeout + [browser] load_timeout + 5 s."""
    assert hung_bound(2.0, 5.0) == 12.0


def test_deploys_of_more_instances_are_judged_against_twice_the_smallest():
    """The smallest count has no target of its own; a larger one meets its target within 2x the smallest's median."""
    figures = deploy_figures({8: [7.0], 2: [3.0, 3.4], 4: [6.0]})
    assert [(f.name, f.target, f.met) for f in figures] == [
        ("deploy: rolling, 2 instances", "", None),
        ("deploy: rolling, 4 instances", "<= 2x 2 instances (6.4 s)", True),
        ("deploy: rolling, 8 instances", "<= 2x 2 instances (6.4 s)", False),
    ]


def test_the_table_prints_each_figure_beside_its_target_and_verdict():
    """One line per figure: its name, median, target and whether it was met, side by side."""
    warm = figure("rollback: warm switch -> previous release serving", "s", [0.07, 0.08], "<= 0.1 s", True)
    cold = figure("rollback: redeploy -> previous release serving", "s", [1.7], "<= 5 s", True)
    missed = figure("hung target: whole staging gate", "s", [16.3], "<= 12 s (bound)", False)
    lines = table([warm, cold, missed]).splitlines()
    assert lines[0].split() == ["figure", "median", "min", "max", "runs", "target", "met"]
    assert lines[1].startswith("rollback: warm switch") and "0.075 s" in lines[1]
    assert "<= 0.1 s" in lines[1] and lines[1].split()[-1] == "yes"
    assert "<= 12 s (bound)" in lines[3] and lines[3].split()[-1] == "NO"


def test_the_default_surge_is_a_quarter_of_the_instances_rounded_up():
    """max_surge unset: 25 % of the instances rounded up, at least 1; set: as given."""
    env = Environment("production", "local", "http://127.0.0.1:1")
    assert [dataclasses.replace(env, instances=n).surge for n in (1, 2, 4, 5, 8, 9)] == [1, 1, 1, 2, 2, 3]
    assert dataclasses.replace(env, instances=8, max_surge=3).surge == 3


def test_the_default_unavailable_is_a_quarter_of_the_instances_rounded_down_and_never_all():
    """max_unavailable unset: 25 % of the instances rounded down (8 instances: batches of 2 + 2, as many as 2
    instances take); set: as given, but one instance always serves."""
    env = Environment("production", "local", "http://127.0.0.1:1")
    assert [dataclasses.replace(env, instances=n).unavailable for n in (1, 2, 4, 5, 8, 9)] == [0, 0, 1, 1, 2, 2]
    assert dataclasses.replace(env, instances=8, max_unavailable=3).unavailable == 3
    assert dataclasses.replace(env, instances=2, max_unavailable=5).unavailable == 1


def test_keep_previous_defaults_on_for_production_only():
    """Production (by name or protected) keeps its previous release warm unless told not to; others only if told."""
    production = Environment("production", "local", "http://127.0.0.1:1")
    staging = Environment("staging", "local", "http://127.0.0.1:2")
    assert production.keeps_previous and not staging.keeps_previous
    assert dataclasses.replace(staging, protected=True).keeps_previous
    assert not dataclasses.replace(production, keep_previous=False).keeps_previous
    assert dataclasses.replace(staging, keep_previous=True).keeps_previous


def junit(path: Path, cases: dict[str, tuple[str, float]]) -> Path:
    """A gate's JUnit XML: molecule -> (passed | failed | skipped, seconds)."""
    body = {"passed": "", "failed": '<failure message="memory comparison: median RSS 300 MB now"/>',
            "skipped": '<skipped message="no baseline"/>'}  # fmt: skip
    rows = "".join(f'<testcase name="{n}" time="{t}">{body[o]}</testcase>' for n, (o, t) in cases.items())
    path.write_text(f'<testsuites><testsuite name="pytest">{rows}</testsuite></testsuites>')
    return path


def test_the_comparison_tally_counts_false_alarms_per_comparison_and_its_share_of_the_gate(tmp_path):
    """Over healthy releases: each comparison's failures are its false alarms (target 0, with every release judged:
    a skip leaves the count unproven), the visual, latency and memory molecules' seconds are the comparison's cost,
    their share of the gate's wall time beside it, and the load at each release."""
    quiet = {COMPARISONS[k]: ("passed", 1.0) for k in ("visual", "latency", "memory")}
    quiet[COMPARISONS["layout"] + "[chromium]"] = ("passed", 0.0)
    one = junit(tmp_path / "1.xml", {**quiet, "test_other": ("passed", 9.0)})
    two = junit(tmp_path / "2.xml", {**quiet, COMPARISONS["memory"]: ("failed", 2.0)})
    grew = junit(tmp_path / "m.xml", {COMPARISONS["growth"]: ("skipped", 0.0)})
    gated = [GatedRelease(one, 10.0, grew, 3.0), GatedRelease(two, 8.0, grew, 5.0)]
    visual, latency, memory, layout, growth, seconds, share, wall, load = tally(gated, "demo")
    assert memory.name == "comparison false alarms: memory (2/2 healthy releases judged; demo)"
    assert (memory.values, memory.met, memory.target) == ((1.0,), False, "0, all judged")
    assert (visual.values, visual.met, latency.met, layout.met) == ((0.0,), True, True, True)
    assert (growth.values, growth.met) == ((0.0,), False) and "0/2 healthy releases judged" in growth.name
    assert seconds.name == "comparison: seconds added to the production gate (demo)" and seconds.values == (3.0, 4.0)
    assert (share.unit, share.values, wall.values, load.values) == ("%", (30.0, 50.0), (10.0, 8.0), (3.0, 5.0))
    assert alarms_said(gated) == [
        "release 3: test_memory_holds_like_the_release_it_replaces: memory comparison: median RSS 300 MB now (load 5.0)"
    ]


def test_the_saturation_records_count_the_comparison_of_every_gate_that_compared(tmp_path):
    """Each gate of a release record that ran a comparison molecule counts; its failures are false alarms."""
    record = tmp_path / "20261207T000000Z-abc"
    record.mkdir()
    junit(
        record / "staging-gate.xml", {COMPARISONS["visual"]: ("passed", 2.0), COMPARISONS["latency"]: ("failed", 1.0)}
    )
    junit(record / "drill-gate.xml", {COMPARISONS["visual"]: ("failed", 1.0)})  # a drill's: not a release's gate
    junit(record / "production-gate.xml", {COMPARISONS["visual"]: ("skipped", 0.0)})  # compared nothing
    seconds, alarms = record_figures(tmp_path, "under saturation")
    assert seconds.values == (3.0,) and alarms.values == (1.0,) and alarms.met is False
    assert alarms.name == "comparison (under saturation): false alarms over 1 gates"
