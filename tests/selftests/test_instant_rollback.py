"""Rolling deploys with surge, and the instant rollback to a previous release kept warm, on real local rollouts.

Each test deploys the demo through the pipeline's deploy step (under the traffic probe, as
test_rollout_probe does) and reads the probe's evidence in the record.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gates import cli
from gates.config import Config, Environment
from gates.core.errors import ConfigError, GatesError
from gates.evidence.record import Record
from gates.evidence.state import Drill, StepRecord
from gates.platforms import WarmSet, registry
from gates.platforms.local import LocalPlatform, Site
from gates.release import Context, Step, execute, runner
from gates.release.context import Context as ContextType
from gates.release.deploy import deploy_step
from tests.selftests.platformfixtures import DEMO_DB_ENV
from tests.selftests.test_rollout_probe import deploy, probed_config

Faulty = Callable[[dict[str, Any]], Path]
GATE_FAULT = {"extra_html": '<script>console.error("broken")</script>'}  # serves 200: only a gate sees it


def test_a_surge_rollout_starts_instances_together_and_loses_no_request(make_config):
    """Four instances with max_surge 2: two new ones start before the first is in rotation, no probe request
    fails, and four instances of release 2 serve in the end; the passed release keeps release 1 warm for its window
    (keep_previous_for, an hour on production), with the time it stops."""
    cfg = probed_config(make_config, instances=4, max_surge=2)
    assert deploy(cfg).outcome == "passed"

    record = deploy(cfg)

    assert record.outcome == "passed", record.reason
    assert record.state.probes["production"]["failed"] == 0
    env = cfg.environment("production")
    platform = LocalPlatform(cfg)
    instances = platform.status(env).instances
    assert sorted(i.id for i in instances) == ["v2-0", "v2-1", "v2-2", "v2-3"]
    assert all(i.healthy and i.release == 2 for i in instances)
    kept = platform.warm(env)
    assert kept is not None and (kept.release, kept.instances) == (1, 4) and kept.until is not None
    log = (Site(cfg, env).logs / "deploy.log").read_text()
    assert log.index("instance v2-1 started") < log.index("instance v2-0 (pid")


def test_a_max_surge_below_one_is_refused_naming_the_key(make_config):
    """max_surge 0 would start nothing: the local driver's validation refuses it, naming file and key."""
    with pytest.raises(ConfigError, match=r"environments\.\w+\.max_surge: expected at least 1 instance, got 0"):
        registry.validate(make_config(max_surge=0))


def test_eight_instances_roll_in_two_batches_of_four_taking_two_old_ones_out_first(make_config):
    """Eight instances, default surge and unavailable (2 and 2): as each batch starts, two old instances leave
    rotation (the six others serve on), four new ones start together; two batches in all, as for two instances;
    no probe request fails, and eight instances of release 2 serve in the end."""
    cfg = probed_config(make_config, instances=8)
    assert deploy(cfg).outcome == "passed"

    record = deploy(cfg)

    assert record.outcome == "passed", record.reason
    assert record.state.probes["production"]["failed"] == 0
    env = cfg.environment("production")
    instances = LocalPlatform(cfg).status(env).instances
    assert sorted(i.id for i in instances) == [f"v2-{n}" for n in range(8)]
    assert all(i.healthy and i.release == 2 for i in instances)
    log = (Site(cfg, env).logs / "deploy.log").read_text()
    log = log[log.index("release 2: rolling rollout") :]
    out = [
        (m.start(), {m[1], m[2]})
        for m in re.finditer(r"instance\(s\) (v1-\d), (v1-\d) out of rotation while v2-[04]..v2-[37] start \(max_unavailable 2\)", log)
    ]
    assert len(out) == 2 and len(out[0][1] | out[1][1]) == 4, log  # two batches, two old instances out each
    first, second = out[0][0], out[1][0]
    started = [log.index(f"instance v2-{n} started") for n in range(8)]
    ready = [log.index(f"instance v2-{n} (pid") for n in range(8)]
    assert first < min(started[:4]) and max(started[:4]) < min(ready[:4])
    assert max(ready[:4]) < second < min(started[4:])


def test_a_max_unavailable_of_every_instance_is_refused_naming_the_key(make_config):
    """max_unavailable as large as instances would leave nothing serving: refused, naming file, key and range."""
    expected = r"environments\.\w+\.max_unavailable: expected 0 to 1 \(one of the 2 instances always serves\), got 2"
    with pytest.raises(ConfigError, match=expected):
        registry.validate(make_config(max_unavailable=2))


def _failed_gate_then_rollback(
    cfg: Config, monkeypatch: pytest.MonkeyPatch, faulty: Path, seen: list[Any]
) -> tuple[Record, str]:
    """Deploy ``faulty`` as release 2 and fail its production gate: the runner rolls production back.

    The rollback gate is not run (it is the release gate's concern); what the failed gate saw of the
    environment (its warm set, `gates status`, a crash repair) goes into ``seen``.
    """
    env = cfg.environment("production")

    def failing_gate(ctx: ContextType, env: Environment, rec: StepRecord) -> None:
        platform = LocalPlatform(cfg)
        seen.append(platform.warm(env))
        seen.append(platform.repair(env))  # a crash repair now must leave the warm set alone
        seen.append(platform.warm(env))
        raise GatesError("production gate failed: test_ads_api_is_healthy")

    def rollback_gate(ctx: ContextType, env: Environment, rec: StepRecord) -> None:
        assert ctx.state.rollback is not None
        ctx.state.rollback.gate_passed = True

    monkeypatch.setattr(runner, "rollback_gate_step", rollback_gate)
    cfg = dataclasses.replace(cfg, app=dataclasses.replace(cfg.app, source=str(faulty)))
    ctx = Context(cfg, Record(cfg.record_dir))
    ctx.state.drill = Drill(env="staging", waived="a deploy step on its own: the rollback's self-test")
    ctx.platforms[env.name] = LocalPlatform(cfg)
    assert not execute(ctx, [Step("deploy", env.name, deploy_step), Step("gate", env.name, failing_gate)])
    rollback = next(s for s in ctx.record.steps if s.name == "rollback")
    assert rollback.outcome == "passed", rollback.detail
    return ctx.record, rollback.detail


def test_a_failed_production_gate_switches_back_to_the_warm_previous_release(
    make_config, faulty_demo: Faulty, monkeypatch
):
    """Production keeps release 1 warm under release 2 (`gates status` shows it and its memory; a crash
    repair keeps it, its window starting); the failed gate's rollback is a warm switch: no probe request fails across it, release 1
    serves alone again on its own instances, release 2 is marked rolled back."""
    cfg = probed_config(make_config)
    env = cfg.environment("production")
    assert deploy(cfg).outcome == "passed"
    seen: list[Any] = []

    record, detail = _failed_gate_then_rollback(cfg, monkeypatch, faulty_demo(GATE_FAULT), seen)

    warm, repaired, still_warm = seen
    assert isinstance(warm, WarmSet) and warm.release == 1 and warm.instances == 2 and warm.rss_bytes > 0
    # The repair takes release 2 for dead: release 1's window (an hour on production) starts, it stays warm.
    assert len(repaired) == 1 and repaired[0].startswith("release 1 stays warm until "), repaired
    assert isinstance(still_warm, WarmSet) and (still_warm.release, still_warm.instances) == (1, 2)
    assert "release 2 -> 1 by warm switch (serving it as release 1)" in detail
    assert record.outcome == "rolled_back" and record.state.probes["production-rollback"]["failed"] == 0
    platform = LocalPlatform(cfg)
    assert sorted((i.id, i.healthy) for i in platform.status(env).instances) == [("v1-0", True), ("v1-1", True)]
    assert {r.version: r.status for r in platform.releases(env)} == {1: "complete", 2: "rolled_back"}
    assert platform.warm(env) is None


def test_without_keep_previous_the_rollback_redeploys(make_config, faulty_demo: Faulty, monkeypatch):
    """keep_previous = false: nothing is kept warm, and the failed gate's rollback rolls release 1 out anew
    (release 3), saying so, still without a failed probe request."""
    cfg = probed_config(make_config, keep_previous=False)
    assert deploy(cfg).outcome == "passed"
    seen: list[Any] = []

    record, detail = _failed_gate_then_rollback(cfg, monkeypatch, faulty_demo(GATE_FAULT), seen)

    assert seen[0] is None
    assert "release 2 -> 1 by redeploy (serving it as release 3)" in detail
    assert record.state.probes["production-rollback"]["failed"] == 0


def test_gates_status_names_the_warm_set_and_gates_rollback_switches_back_to_it(
    make_config, pg_database, monkeypatch, capsys
):
    """`gates status` right after a deploy that kept release 1 warm says so, with its MB; confirming the release
    stops the warm set (keep_previous_for = "off"); after the next deploy, `gates rollback` switches back to the
    warm release and says so, with how soon it served."""
    cfg = probed_config(make_config, keep_previous_for="off")
    monkeypatch.setenv(DEMO_DB_ENV, pg_database)  # `gates rollback` takes its lock in the database
    env = cfg.environment("production")
    platform = LocalPlatform(cfg)
    platform.deploy(env, str(cfg.app_source))
    platform.deploy(env, str(cfg.app_source))  # outside a release: nothing confirms it, release 1 stays warm

    assert cli.main(["--config", str(cfg.path), "status", "--env", env.name]) == 0

    out = capsys.readouterr().out
    assert "warm previous release 1: 2 instances, " in out and " MB (out of rotation" in out
    assert "serves more than one release" not in out
    # The monitor's health-check molecule judges what serves: the warm set (draining on purpose) is not in it.
    checks = platform.health_checks(env)
    assert sorted(c.instance for c in checks) == ["v2-0", "v2-1"] and all(c.status == "passing" for c in checks)
    assert platform.release_confirmed(env) == [
        "instance v1-0 of release 1 (kept warm) stopped",
        "instance v1-1 of release 1 (kept warm) stopped",
    ]
    assert platform.warm(env) is None
    platform.deploy(env, str(cfg.app_source))  # release 3; release 2 kept warm

    assert cli.main(["--config", str(cfg.path), "rollback", "--env", env.name, "--to", "2"]) == 0

    said = capsys.readouterr().out
    switched = (
        r"by warm switch in \d+\.\d\ds \(serving v2's code as release v2; warm switch: release 2 in rotation \d+ ms"
    )
    assert re.search(r"rolled back production: v3 -> v2 " + switched, said), said
    assert sorted(i.id for i in platform.status(env).instances) == ["v2-0", "v2-1"] and platform.warm(env) is None


def test_a_crash_repair_puts_a_warm_set_back_in_rotation_when_its_release_is_current_again(make_config):
    """A deploy that died after keeping release 1 warm leaves release 2 unfinished: the repair marks it failed,
    puts release 1's warm instances back in rotation and stops release 2's."""
    cfg = probed_config(make_config)
    env = cfg.environment("production")
    platform = LocalPlatform(cfg)
    platform.deploy(env, str(cfg.app_source))
    platform.deploy(env, str(cfg.app_source))
    Site(cfg, env).update_release(2, "running")  # what a SIGKILL before "release 2 complete" leaves

    said = platform.repair(env)

    assert (
        "instance v1-0 (release 1, kept warm) is back in rotation" in said
        and "production serves release 1 alone" in said
    )
    assert sorted((i.id, i.healthy) for i in platform.status(env).instances) == [("v1-0", True), ("v1-1", True)]
    assert platform.warm(env) is None
