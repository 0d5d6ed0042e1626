"""The monitor window's browser: a release whose page logs an error long after load fails the monitor gate.

A healthy first release of the demo passes its monitor window with the dashboard watched in a real
browser throughout; the second release logs a console error 10 s after the page loads -- later than
any gate's settle window, so the staging gate, the drill and the production gate pass it -- and the
monitor gate fails on it, naming the error, and rolls production back as a failed production gate does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gates.bench.sandbox import NOTIFY, NOTIFY_ENV
from tests.selftests.demo import demo_copy, gates, junit_results, write_config
from tests.selftests.test_release import _deploy

pytestmark = pytest.mark.xdist_group("monitor-browser")

LATE = "late boom ten seconds in"
MONITOR = f'\n[monitor]\nwindow = "20s"\nbrowser_every = "30s"\nwebhook_env = "{NOTIFY_ENV}"\n'
CLEAN = "test_the_dashboard_stays_clean_in_a_browser_through_the_window"


def _record(folder: Path, index: int) -> tuple[Path, dict]:
    record = sorted((folder / "deploys").iterdir())[index]
    return record, json.loads((record / "record.json").read_text())


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list]]:
    folder = tmp_path_factory.mktemp("monitor-browser")
    config = write_config(folder, environments={"staging": {"instances": 1}, "production": {}}, extra=NOTIFY + MONITOR)
    try:
        first = _deploy(config, "--first-release")
        late = demo_copy(
            folder / "late", {"extra_html": f"<script>setTimeout(() => console.error('{LATE}'), 10000)</script>"}
        )
        second = config.with_name("gates-late.toml")
        second.write_text(
            re.sub(r"^source = .*$", f"source = {json.dumps(str(late))}", config.read_text(), count=1, flags=re.M)
        )
        yield folder, [first, _deploy(second)]
    finally:
        gates("down", config=config)


def test_a_healthy_release_passes_its_monitor_window_watched_by_a_browser(releases):
    """The first release's monitor step visits the dashboard in a browser through the window; the visits are kept in
    the record and the molecule judging them passes."""
    folder, (first, _) = releases
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    record, data = _record(folder, 0)
    (monitor,) = [s for s in data["steps"] if s["name"] == "monitor"]
    assert "monitor-production-browser.json" in monitor["artifacts"]
    visits = json.loads((record / "monitor-production-browser.json").read_text())["visits"]
    assert visits and visits[0]["visit"]["loaded"] and visits[0]["visit"]["settle"] >= 10
    assert junit_results(record / "monitor-production-gate.xml")[CLEAN] == "passed"


def test_an_error_ten_seconds_after_load_fails_the_monitor_gate_and_rolls_production_back(releases):
    """The late error passes every gate's settle window, fails the monitor gate naming it, and production is rolled
    back to the first release, whose gate passes again; exit 1."""
    folder, (_, second) = releases
    assert second.returncode == 1, second.stdout[-3000:] + second.stderr[-3000:]
    record, data = _record(folder, 1)
    outcomes = {(s["name"], s["env"]): s["outcome"] for s in data["steps"]}
    assert (
        outcomes[("gate", "staging")] == outcomes[("drill", "staging")] == outcomes[("gate", "production")] == "passed"
    )
    assert outcomes[("monitor", "production")] == "failed"
    assert (outcomes[("rollback", "production")], outcomes[("rollback-gate", "production")]) == ("passed", "passed")
    assert data["outcome"] == "rolled_back" and "production monitor gate failed" in data["reason"]
    said = junit_results(record / "monitor-production-gate.xml")[CLEAN]
    assert "console.error" in said and LATE in said, said
    assert list(record.glob("monitor-production-browser-*.png")), "the failed visit's screenshot is kept"
