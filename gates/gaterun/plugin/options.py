"""The plugin's options, and what it registers when pytest configures: its markers, the shipped molecules
of a gate run, the browser's, the comparison's and the write-path kit's fixtures, the writers of the evidence and
the report's header."""

from __future__ import annotations

from pathlib import Path

import pytest

from gates.core.markers import CONCERNS, GATES, molecule_files
from gates.gaterun.plugin.events import EventWriter
from gates.gaterun.plugin.evidence import MeasurementWriter
from gates.gaterun.plugin.header import GatedHeader
from gates.gaterun.plugin.selection import GATE_RUN_KEY, TARGET_KEY, explicit_env, selects_a_gate


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gates", "deployment gates")
    group.addoption(
        "--env", dest="gates_env", default=None, help="environment to gate (default: from -m, or $GATES_ENV)"
    )
    group.addoption(
        "--gates-config",
        dest="gates_config",
        default=None,
        help="gates.toml path (default: $GATES_CONFIG or ./gates.toml)",
    )
    group.addoption(
        "--expect-release",
        dest="gates_expect_release",
        type=int,
        default=None,
        help="the release version the environment must serve (default: the platform's newest)",
    )
    group.addoption(
        "--baseline-release",
        dest="gates_baseline_release",
        type=int,
        default=None,
        help="the release replaced, kept reachable for the comparison: missing, the comparison fails "
        "(default: the environment's warm previous release, if any)",
    )
    group.addoption(
        "--no-baseline", dest="gates_no_baseline", default=None, help="why no release is compared with (a skip)"
    )
    group.addoption(
        "--accept-visual",
        dest="gates_accept_visual",
        default=None,
        metavar="SIGNER",
        help="the release's visual difference is intended, approved by SIGNER: the visual comparison passes saying so",
    )
    group.addoption(
        "--advisors-report",
        dest="gates_advisors_report",
        default=None,
        help="a run of `supabase db advisors` started with the gate (default: the molecule runs the CLI itself)",
    )
    group.addoption(
        "--probe-samples",
        dest="gates_probe_samples",
        default=None,
        help="the traffic probe's file of the rollout (probe-<env>.jsonl; default: the newest record's of that release)",
    )
    group.addoption(
        "--measurements",
        dest="gates_measurements",
        default=None,
        help="append every Measurement as JSON lines to this file",
    )
    group.addoption(
        "--gates-events",
        dest="gates_events",
        default=None,
        help="append one JSON line per finished molecule (verdict, first problem, DEVOPS id) to this file, as it finishes",
    )
    group.addoption(
        "--gates-record",
        dest="gates_record",
        default=None,
        help="the release record this gate belongs to: the HTML report names its release and links its summary",
    )
    group.addoption(
        "--gates-hold",
        dest="gates_hold",
        default=None,
        metavar="PATH",
        help="hold every molecule until PATH says go (a gate started before what it judges is ready)",
    )
    group.addoption(
        "--gates-hold-timeout",
        dest="gates_hold_timeout",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="how long --gates-hold waits for its word; then every molecule fails saying so (default 900)",
    )
    group.addoption(
        "--gates-commit",
        dest="gates_commit",
        default=None,
        help="the commit being gated, for the HTML report (default: the record's, else $GITHUB_SHA)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, text in {**GATES, **CONCERNS}.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.stash[TARGET_KEY] = None
    config.stash[GATE_RUN_KEY] = selects_a_gate(config.getoption("markexpr") or "", explicit_env(config))
    if config.stash[GATE_RUN_KEY]:
        # The shipped molecules join the run as files named on the command line would: collected
        # whatever the repository's python_files, testpaths or rootdir say (pytest skips duplicates).
        config.args.extend(str(p) for p in molecule_files())
    # Registered here, after every entry-point plugin, so its fixtures override pytest-playwright's.
    if config.pluginmanager.has_plugin("playwright") and not config.pluginmanager.has_plugin("gates-browser"):
        from gates.gaterun import browser

        config.pluginmanager.register(browser, "gates-browser")
        from gates.gaterun.comparison import fixtures as comparison

        config.pluginmanager.register(comparison, "gates-comparison")
        from gates.gaterun.comparison import memory as compared_memory

        config.pluginmanager.register(compared_memory, "gates-comparison-memory")
    # The write-path kit's fixtures (its browser: the gate run's one Chromium, asked for when a form is submitted).
    if not config.pluginmanager.has_plugin("gates-writepath"):
        from gates.gaterun import writepath

        config.pluginmanager.register(writepath, "gates-writepath")
    # The writers run on the controller, which sees every report; an xdist worker (same options) would write each
    # line a second time.
    controller = not hasattr(config, "workerinput")
    target = config.getoption("gates_measurements")
    if target and controller:
        config.pluginmanager.register(MeasurementWriter(Path(target)), "gates-measurements")
    events = config.getoption("gates_events")
    if events and controller:
        config.pluginmanager.register(EventWriter(Path(events)), "gates-events")
    config.pluginmanager.register(GatedHeader(config), "gates-html-header")
    if config.getoption("gates_hold") and not config.pluginmanager.has_plugin("gates-hold"):
        from gates.gaterun.plugin import hold

        config.pluginmanager.register(hold, "gates-hold")
