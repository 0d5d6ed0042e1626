"""The benchmark's pure parts: its bounds, its targets and its table, with made-up figures (no process runs)."""

from __future__ import annotations

import dataclasses

from gates.bench.scenarios import deploy_figures, hung_bound
from gates.bench.stats import figure, table
from gates.config import Environment


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


def test_keep_previous_defaults_on_for_production_only():
    """Production (by name or protected) keeps its previous release warm unless told not to; others only if told."""
    production = Environment("production", "local", "http://127.0.0.1:1")
    staging = Environment("staging", "local", "http://127.0.0.1:2")
    assert production.keeps_previous and not staging.keeps_previous
    assert dataclasses.replace(staging, protected=True).keeps_previous
    assert not dataclasses.replace(production, keep_previous=False).keeps_previous
    assert dataclasses.replace(staging, keep_previous=True).keeps_previous
