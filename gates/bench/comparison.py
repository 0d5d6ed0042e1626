"""The comparison with the release replaced, over the saturation bench's healthy releases: its cost, its false alarms.

Read from the releases' records: each gate's JUnit XML times every molecule (setup included, so the
comparison's visits and samples count against the molecule that took them first). A comparison
molecule failing on one of these healthy releases is a false alarm.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from gates.bench.stats import Figure, figure
from gates.core.markers import builtin_names

# The molecules that compare with the release replaced (gates/molecules/test_comparison.py) and the layout one.
COMPARISON = ("_like_the_release_it_replaces", "_as_fast_as_the_release_it_replaces", "test_the_dashboard_is_styled")


def comparison_figures(records: Path) -> list[Figure]:
    """Seconds the comparison added to each gate, and false alarms over every gate of the records under ``records``."""
    seconds: list[float] = []
    alarms = 0
    gates = 0
    for xml in sorted(records.glob("*/*-gate.xml")):
        if xml.name.startswith(("monitor-", "drill")) or "rollback" in xml.name:
            continue
        spent, failed, compared = _gate(xml)
        if compared:
            gates += 1
            seconds.append(spent)
            alarms += failed
    return [
        figure("comparison: seconds added to a gate", "s", seconds),
        figure(f"comparison: false alarms over {gates} healthy gates", "alarms", [float(alarms)], "0", alarms == 0),
    ]


def _gate(xml: Path) -> tuple[float, int, bool]:
    """(seconds of the comparison molecules, how many failed, whether any ran) in one gate's JUnit XML."""
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError):
        return 0.0, 0, False
    spent, failed, ran = 0.0, 0, False
    known = builtin_names()
    for case in root.iter("testcase"):
        name = case.get("name", "").split("[")[0]
        if name not in known or not any(mark in name for mark in COMPARISON):
            continue
        if case.find("skipped") is None:
            ran = True
            spent += float(case.get("time", "0") or 0)
        failed += case.find("failure") is not None or case.find("error") is not None
    return spent, failed, ran
