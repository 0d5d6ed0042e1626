"""The traffic probe around real rollouts of the demo on the local platform, and the zero_downtime molecule on them.

Each test deploys release 1, then release 2 through the pipeline's deploy step (which probes it),
and reads the probe's evidence in the record. The probe requests paths that do not need the
database (platformfixtures: there is none), at its default rate.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gates import config as config_mod
from gates.config import Config
from gates.evidence.record import Record
from gates.evidence.state import Drill
from gates.gaterun import probe
from gates.gaterun.runner import run_gate
from gates.platforms.local import LocalPlatform, down
from gates.release import Context, Step, execute
from gates.release.deploy import deploy_step
from tests.selftests.demo import DEMO, junit_results

MakeConfig = Callable[..., Config]
PROBE_PATHS = ["/health", "/api/ads/health", "/app"]
MOLECULE = "test_no_request_failed_during_the_rollout"


def probed_config(make_config: MakeConfig, **settings: Any) -> Config:
    cfg = make_config(**settings)
    cfg.path.write_text(cfg.path.read_text() + f"\n[probe]\npaths = {json.dumps(PROBE_PATHS)}\n")
    return config_mod.load(cfg.path)


def deploy(cfg: Config, source: Path = DEMO, *, health_timeout: float = 30.0, env: str = "production") -> Record:
    """One `gates deploy`-style deploy step of ``env`` (production by default), with its own record."""
    cfg = dataclasses.replace(cfg, app=dataclasses.replace(cfg.app, source=str(source)))
    ctx = Context(cfg, Record(cfg.record_dir))
    # A production deploy needs this release's rollback drill, passed or waived (gates/release/drill.py).
    ctx.state.drill = Drill(env="staging", waived="a deploy step on its own: the probe's self-test")
    ctx.platforms[env] = LocalPlatform(cfg, health_timeout=health_timeout)
    execute(ctx, [Step("deploy", env, deploy_step)])
    return ctx.record


def second_release(make_config: MakeConfig, **settings: Any) -> tuple[Config, Record]:
    cfg = probed_config(make_config, **settings)
    first = deploy(cfg)
    assert first.outcome == "passed", first.reason
    return cfg, deploy(cfg)


def gate(cfg: Config, out: Path, expected: int) -> dict[str, str]:
    (out / "logs").mkdir(parents=True, exist_ok=True)
    run_gate(cfg, cfg.environment("production"), "production and zero_downtime", out, "gate", expected)
    return junit_results(out / "gate.xml")


def assert_waived_and_skipped(cfg: Config, record: Record, release: int, reason: str) -> None:
    """The probe file holds no request and says why; the molecule is skipped with that reason."""
    run = probe.load(record.dir / "probe-production.jsonl")
    assert run.waived.startswith(reason) and run.samples == ()
    gate(cfg, record.dir, release)
    xml = (record.dir / "gate.xml").read_text()
    assert "<skipped" in xml and reason in xml


def test_a_rolling_rollout_loses_no_request_and_the_zero_downtime_molecule_passes(make_config, tmp_path):
    """Rolling: 0 of >= 100 probe requests failed, releases 1 -> 2 in the record; the molecule passes with
    --probe-samples (a timeline plot in its report) and, by hand, from the newest record of release 2."""
    cfg, record = second_release(make_config, strategy="rolling")

    assert record.outcome == "passed", record.reason
    kept = record.state.probes["production"]
    assert kept["path"] == "probe-production.jsonl" and kept["failed"] == 0 and kept["requests"] >= 100
    assert kept["releases"] == ["1", "2"] and kept["max_gap_ms"] is not None and kept["rate"] > 0
    assert "probe-production.jsonl" in record.steps[0].artifacts and "0 failed" in record.steps[0].detail
    assert gate(cfg, record.dir, 2) == {MOLECULE: "passed"}
    assert "traffic probe of the rollout" in (record.dir / "gate.html").read_text()
    assert gate(cfg, tmp_path / "by-hand", 2) == {MOLECULE: "passed"}


def test_the_first_release_is_not_probed_and_the_molecule_skips_saying_why(make_config):
    """Nothing served before a first release: the probe file says so and the molecule is skipped, not passed."""
    cfg = probed_config(make_config)
    record = deploy(cfg)
    assert_waived_and_skipped(cfg, record, 1, "first release of production")


def test_a_rollout_into_a_stopped_environment_is_not_probed_and_the_molecule_skips_saying_why(make_config):
    """After `gates down` nothing serves: the outage before the deploy is not the deploy's, so the probe is
    waived with that reason (never a failed release, never a pass)."""
    cfg = probed_config(make_config)
    assert deploy(cfg).outcome == "passed"
    down(cfg)
    record = deploy(cfg)
    assert record.outcome == "passed", record.reason
    assert_waived_and_skipped(cfg, record, 2, "nothing served production before the rollout")


def test_the_probe_catches_the_outage_of_an_immediate_rollout(make_config):
    """Immediate stops every instance first: the probe records failed requests and the molecule fails naming them."""
    cfg, record = second_release(make_config, strategy="immediate")

    assert record.state.probes["production"]["failed"] > 0
    message = gate(cfg, record.dir, 2)[MOLECULE]
    assert "zero downtime: FAILED" in message and "requests failed (" in message


def test_a_staging_rollout_that_failed_requests_fails_its_deploy_step(make_config):
    """Staging has no zero_downtime molecule: its deploy step itself judges the probe, so an outage there stops
    the release before production meets the fault."""
    cfg = probed_config(make_config, strategy="immediate")
    assert deploy(cfg, env="staging").outcome == "passed"
    record = deploy(cfg, env="staging")
    assert record.outcome == "failed" and record.state.probes["staging"]["failed"] > 0
    (step,) = record.steps
    assert step.outcome == "failed" and "the rollout of release 2 to staging was not without downtime" in step.detail


@pytest.mark.parametrize("strategy", ["bluegreen", "canary"])
def test_bluegreen_and_canary_rollouts_lose_no_request(make_config, strategy):
    """Blue-green (the whole new set, then one switch) and canary (one new first, then rolling) fail no request."""
    cfg, record = second_release(make_config, strategy=strategy)

    assert record.outcome == "passed", record.reason
    run = probe.load(record.dir / "probe-production.jsonl")
    assert probe.judge(run, 2, cfg).ok, probe.judge(run, 2, cfg).explain()
    assert {s.server for s in run.samples if s.release == "2"} == {"v2-0", "v2-1"}


@pytest.mark.parametrize("strategy", ["rolling", "bluegreen", "canary"])
def test_a_release_failing_its_health_check_never_gets_traffic_and_the_old_one_serves_on(
    make_config, faulty_demo: Callable[[dict[str, Any]], Path], strategy
):
    """New instances that fail GET /health are never put in rotation: the deploy step fails, and every probe
    request, before and after, was answered by release 1 without one failure."""
    cfg = probed_config(make_config, strategy=strategy)
    assert deploy(cfg).outcome == "passed"

    record = deploy(cfg, faulty_demo({"fail_health": True}), health_timeout=2)

    assert record.outcome == "failed" and "release 2" in record.reason and "0 failed" in record.reason
    run = probe.load(record.dir / "probe-production.jsonl")
    assert run.after is None and run.end["outcome"] == "failed"
    assert len(run.samples) >= 100 and not [s for s in run.samples if s.failed]
    assert {s.release for s in run.samples} == {"1"} and {s.server for s in run.samples} == {"v1-0", "v1-1"}


def test_by_hand_without_probe_evidence_of_the_release_served_the_molecule_fails_closed(make_config, tmp_path):
    """A release deployed outside `gates deploy` left no probe file: the molecule fails saying how to get one."""
    cfg = probed_config(make_config)
    LocalPlatform(cfg).deploy(cfg.environment("production"), str(DEMO))

    message = gate(cfg, tmp_path / "by-hand", 1)[MOLECULE]
    assert "no probe evidence of the deploy of release 1 to production" in message
    assert "gates deploy" in message and "--probe-samples" in message
