"""The fly platform against a fake `fly` replaying flyctl's JSON formats (Fly.io itself is never reached)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gates import config as config_mod
from gates.checks.flyctl_tree import parse, problem
from gates.core.errors import GatesError
from gates.core.redact import redact
from gates.platforms import platform_for
from gates.platforms.fly import FlyPlatform
from tests.selftests.flyfake import FAKES, TOKEN, WORKER, FakeFly, auto_stopping, web_and_worker


@pytest.fixture
def fly_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[config_mod.Config, config_mod.Environment]:
    monkeypatch.setenv("FLY_BIN", str(FAKES / "fly"))
    monkeypatch.setenv("FLY_API_TOKEN", TOKEN)
    monkeypatch.setenv("STAGING_DB_URL", "postgresql://u:pw-canary-1234@db.example/postgres")
    (tmp_path / "fly.staging.toml").write_text(
        'app = "hotdash-staging"\n[deploy]\n  release_command = "npx supabase db push"\n'
    )
    (tmp_path / "gates.toml").write_text(
        '[app]\nname = "hotdash"\n[environments.staging]\nplatform = "fly"\napp = "hotdash-staging"\n'
        'url = "https://staging.example"\nfly_config = "fly.staging.toml"\ndatabase_url_env = "STAGING_DB_URL"\n'
        f'[local]\nstate_dir = "{tmp_path / "state"}"\n'
    )
    monkeypatch.delenv("GATES_STATE_DIR", raising=False)
    cfg = config_mod.load(tmp_path / "gates.toml")
    return cfg, cfg.environment("staging")


def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: Any = None, **behaviour: Any) -> FakeFly:
    f = FakeFly(tmp_path / "fake-fly.json", shape, **behaviour)
    monkeypatch.setenv("FAKE_FLY_STATE", str(f.path))
    return f


def test_platform_for_a_fly_environment_is_the_fly_driver(fly_env):
    """An environment with platform = "fly" gets the flyctl driver."""
    cfg, env = fly_env
    assert isinstance(platform_for(cfg, env), FlyPlatform)


def test_a_clean_deploy_passes_and_every_machine_runs_the_new_release(fly_env, tmp_path, monkeypatch):
    """fly deploy (never --detach) then releases and status confirm v3 complete on both machines."""
    f = fake(tmp_path, monkeypatch)
    cfg, env = fly_env
    release = FlyPlatform(cfg).deploy(env, ".")
    assert (release.version, release.status) == (3, "complete")
    status = FlyPlatform(cfg).status(env)
    assert status.release == 3
    assert all(m.release == 3 and m.healthy for m in status.instances)
    deploy = next(c["argv"] for c in f.calls if c["argv"][0] == "deploy")
    assert "--detach" not in deploy
    assert "--strategy" not in deploy  # gates.toml sets none: fly.toml's [deploy] strategy runs
    assert deploy[deploy.index("--app") + 1] == "hotdash-staging"
    assert deploy[deploy.index("--config") + 1].endswith("fly.staging.toml")


def test_exit_0_with_a_failed_release_fails_the_deploy(fly_env, tmp_path, monkeypatch):
    """flyctl exiting 0 (flyctl#2651) does not make a failed release good: the deploy raises naming the release."""
    fake(tmp_path, monkeypatch, deploy_release_status="failed", deploy_exit=0)
    cfg, env = fly_env
    with pytest.raises(GatesError, match=r"exited 0 but release v3 is failed"):
        FlyPlatform(cfg).deploy(env, ".")


def test_a_machine_left_on_the_old_release_fails_the_deploy_naming_it(fly_env, tmp_path, monkeypatch):
    """One machine still on v2 after a 'successful' deploy fails it, naming that machine."""
    fake(tmp_path, monkeypatch, stale_machines=["3d8d9016b21e08"])
    cfg, env = fly_env
    with pytest.raises(GatesError, match=r"machine 3d8d9016b21e08 \(app, started\) runs release v2, expected v3"):
        FlyPlatform(cfg).deploy(env, ".")


def test_a_failing_check_on_one_machine_makes_it_unhealthy(fly_env, tmp_path, monkeypatch):
    """A critical service check on one machine is reported on that machine only."""
    f = fake(tmp_path, monkeypatch)
    state = f.state
    state["status"]["Machines"][1]["checks"][0]["status"] = "critical"
    f.path.write_text(json.dumps(state))
    cfg, env = fly_env
    machines = {m.id: m.healthy for m in FlyPlatform(cfg).status(env).instances}
    assert machines == {"148e21ea7e5d89": True, "3d8d9016b21e08": False}


def test_rollback_deploys_the_image_of_the_previous_complete_release(fly_env, tmp_path, monkeypatch):
    """Rollback is fly deploy --image <ImageRef of v1>, confirmed as a new release v3."""
    f = fake(tmp_path, monkeypatch)
    cfg, env = fly_env
    release = FlyPlatform(cfg).rollback(env)
    deploy = next(c["argv"] for c in f.calls if c["argv"][0] == "deploy")
    assert deploy[deploy.index("--image") + 1] == "registry.fly.io/hotdash-staging:deployment-01JDEPLOY0000000000000001"
    assert release.version == 3
    assert release.ref.endswith("01JDEPLOY0000000000000001")


def test_releases_checks_and_secrets_read_flyctls_json(fly_env, tmp_path, monkeypatch):
    """Releases newest first with image refs; checks without Fly's bluegreen bookkeeping; secret names and digests."""
    fake(tmp_path, monkeypatch)
    cfg, env = fly_env
    fly = FlyPlatform(cfg)
    assert [(r.version, r.status) for r in fly.releases(env)] == [(2, "complete"), (1, "complete")]
    assert fly.checks(env)["148e21ea7e5d89"] == [("servicecheck-00-http-3000", "passing")]
    assert [s.name for s in fly.secrets(env)] == ["DATABASE_URL", "ANALYTICS_REAL_DATA"]
    logs = fly.logs(env)
    assert [line.message for line in logs][-1] == "GET /health 200 (2)"


def test_every_command_the_driver_runs_is_in_flyctls_command_tree(fly_env, tmp_path, monkeypatch):
    """Every argv the driver builds (reads, deploy with and without a strategy, rollback) passes the workflow
    checker's reading of flyctl's command tree, to the last subcommand and flag."""
    f = fake(tmp_path, monkeypatch)
    cfg, env = fly_env
    fly = FlyPlatform(cfg)
    fly.releases(env), fly.status(env), fly.checks(env), fly.health_checks(env), fly.secrets(env), fly.logs(env)
    fly.deploy(env, "."), fly.deploy(env, ".", strategy="bluegreen"), fly.rollback(env)
    run = [c["argv"] for c in f.calls]
    assert {tuple(parse(argv).command) for argv in run} == {
        ("releases",),
        ("status",),
        ("checks", "list"),
        ("secrets", "list"),
        ("logs",),
        ("deploy",),
    }
    assert {" ".join(argv): problem(argv) for argv in run if problem(argv)} == {}


def test_a_hanging_fly_logs_is_cut_off_by_its_timeout(fly_env, tmp_path, monkeypatch):
    """`fly logs` that never answers raises GatesError naming the command and its bound."""
    fake(tmp_path, monkeypatch, hang=["logs"])
    cfg, env = fly_env
    with pytest.raises(GatesError, match=r"fly logs --no-tail --json --app hotdash-staging: no answer within 2s"):
        FlyPlatform(cfg, logs_timeout=2.0).logs(env)


def test_the_token_reaches_flyctl_only_through_the_environment(fly_env, tmp_path, monkeypatch):
    """Every call had the token in its environment; no argv, log or error text carries it."""
    f = fake(tmp_path, monkeypatch, deploy_release_status="failed", deploy_exit=0)
    cfg, env = fly_env
    with pytest.raises(GatesError) as err:
        FlyPlatform(cfg).deploy(env, ".")
    assert all(c["token_in_env"] for c in f.calls)
    assert TOKEN not in json.dumps(f.calls)
    assert TOKEN not in str(err.value)
    log = (cfg.state_dir / "staging" / "logs" / "fly.log").read_text()
    assert "deploy" in log and TOKEN not in log
    assert redact(f"token {TOKEN}") == "token ***"


def test_without_a_token_the_driver_refuses_before_calling_flyctl(fly_env, tmp_path, monkeypatch):
    """No FLY_API_TOKEN: a usage error naming the variable, and flyctl never runs."""
    f = fake(tmp_path, monkeypatch)
    monkeypatch.delenv("FLY_API_TOKEN")
    monkeypatch.delenv("FLY_ACCESS_TOKEN", raising=False)
    cfg, env = fly_env
    with pytest.raises(Exception, match="FLY_API_TOKEN is not set"):
        FlyPlatform(cfg).status(env)
    assert "calls" not in f.state


@pytest.mark.parametrize("shape", [web_and_worker, auto_stopping], ids=["web-and-worker", "auto-stopping"])
def test_a_web_and_worker_app_and_an_auto_stopping_app_deploy_and_roll_back(fly_env, tmp_path, monkeypatch, shape):
    """A worker without checks (healthy when started) and idle machines left stopped or suspended pass a deploy
    and a rollback; every machine, up or down, carries the new release, and the verdict says how each was judged."""
    f = fake(tmp_path, monkeypatch, shape)
    cfg, env = fly_env
    fly = FlyPlatform(cfg)
    deployed = fly.deploy(env, ".")
    back = fly.rollback(env, to=2)
    assert (deployed.version, back.version) == (3, 4)
    machines = f.state["status"]["Machines"]
    assert {m["config"]["metadata"]["fly_release_version"] for m in machines} == {"4"}
    if shape is web_and_worker:
        assert f"machine {WORKER} (worker, started): no configured checks" in deployed.description
        assert [i.id for i in fly.status(env).instances] == [
            "148e21ea7e5d89",
            "3d8d9016b21e08",
        ]  # workers take no traffic
    else:
        assert [m["state"] for m in machines] == ["stopped", "suspended"]
        assert "(app, suspended): left suspended by its auto-stopping service, updated to v4" in back.description


def test_a_stopped_machine_whose_service_does_not_auto_stop_fails_the_deploy(fly_env, tmp_path, monkeypatch):
    """A machine down without auto-stop is not expected: the deploy fails naming it and why."""
    f = fake(tmp_path, monkeypatch)
    state = f.state
    state["status"]["Machines"][1]["state"] = "stopped"
    f.path.write_text(json.dumps(state))
    cfg, env = fly_env
    with pytest.raises(
        GatesError, match=r"machine 3d8d9016b21e08 \(app, stopped\) on v3: its service does not auto-stop"
    ):
        FlyPlatform(cfg).deploy(env, ".")


def test_a_rollback_skips_the_release_command_and_says_so(fly_env, tmp_path, monkeypatch):
    """The deploy runs fly.toml's release_command; the rollback passes --skip-release-command, so it does not run
    on the old image, and the release says so."""
    f = fake(tmp_path, monkeypatch)
    cfg, env = fly_env
    fly = FlyPlatform(cfg)
    fly.deploy(env, ".")
    assert len(f.state["release_commands"]) == 1
    release = fly.rollback(env, to=2)
    assert "--skip-release-command" in f.argv("deploy")
    assert len(f.state["release_commands"]) == 1
    assert "--skip-release-command: fly.toml's release_command was not run" in release.description


def test_the_strategy_is_passed_only_when_gates_toml_sets_one(fly_env, tmp_path, monkeypatch):
    """strategy = "bluegreen" in gates.toml reaches flyctl on deploy and rollback; unset, no --strategy is passed."""
    f = fake(tmp_path, monkeypatch)
    cfg, env = fly_env
    explicit = dataclasses.replace(env, strategy="bluegreen")
    FlyPlatform(cfg).deploy(explicit, ".")
    assert f.argv("deploy")[f.argv("deploy").index("--strategy") + 1] == "bluegreen"
    FlyPlatform(cfg).rollback(env, to=2)
    assert "--strategy" not in f.argv("deploy")


def test_a_rollback_without_fly_config_runs_where_no_fly_toml_is(fly_env, tmp_path, monkeypatch):
    """No fly_config: flyctl would read whatever fly.toml is in the cwd; the rollback runs in a folder without one."""
    f = fake(tmp_path, monkeypatch)
    cfg, env = fly_env
    (tmp_path / "fly.toml").write_text('app = "someone-else"\n')
    monkeypatch.chdir(tmp_path)
    FlyPlatform(cfg).rollback(dataclasses.replace(env, fly_config=""), to=1)
    cwd = Path([c for c in f.calls if c["argv"][0] == "deploy"][-1]["cwd"])
    assert "--config" not in f.argv("deploy") and cwd != tmp_path and not (cwd / "fly.toml").exists()


def test_logs_are_the_first_page_of_every_region_whatever_fly_region_says(fly_env, tmp_path, monkeypatch):
    """`fly logs --no-tail` answers one page; FLY_REGION (set on Fly machines) would filter it: gates unsets it."""
    f = fake(tmp_path, monkeypatch)
    page = "".join(
        json.dumps({"timestamp": f"2026-11-27T10:00:0{i}Z", "message": f"m{i}", "instance": "x", "region": r}, indent=2)
        for i, r in enumerate(["iad", "ord", "iad"])
    )
    f.update(log_pages=[page, json.dumps({"timestamp": "2026-11-27T10:01:00Z", "message": "later", "region": "iad"})])
    monkeypatch.setenv("FLY_REGION", "ord")
    cfg, env = fly_env
    assert [line.message for line in FlyPlatform(cfg).logs(env)] == ["m0", "m1", "m2"]


def fly(state: FakeFly, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "FAKE_FLY_STATE": str(state.path), "FLY_API_TOKEN": TOKEN}
    return subprocess.run([str(FAKES / "fly"), *args], env=environ, capture_output=True, text=True, timeout=30)


def test_the_fake_parses_its_command_line_as_flyctl_does(tmp_path):
    """Unknown flags, subcommands and extra arguments are errors (`fly deploy --json`, `fly apps releases rollback`);
    without --json a table is printed; a failed release exits non-zero."""
    f = FakeFly(tmp_path / "fake-fly.json")
    rejected = fly(f, "deploy", "--json", "--app", "hotdash-staging")
    assert (rejected.returncode, rejected.stderr.strip()) == (1, "Error: unknown flag: --json")
    extra = fly(f, "apps", "releases", "rollback", "-a", "hotdash-staging")
    assert extra.returncode == 1 and 'unknown command "rollback" for "fly apps releases"' in extra.stderr
    listed = fly(f, "releases", "-a", "hotdash-staging")
    assert listed.returncode == 0 and listed.stdout.splitlines()[0].split() == [
        "VERSION",
        "STATUS",
        "DESCRIPTION",
        "USER",
        "DATE",
    ]
    failed = fly(
        FakeFly(tmp_path / "failing.json", deploy_release_status="failed"), "deploy", ".", "-a", "hotdash-staging"
    )
    assert failed.returncode == 1 and "release v3 failed" in failed.stderr
