"""The fly platform against a fake `fly` replaying flyctl's JSON formats (Fly.io itself is never reached)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gates import config as config_mod
from gates.errors import GatesError
from gates.platforms import platform_for
from gates.platforms.fly import FlyPlatform
from gates.redact import redact
from tests.selftests.flyfake import FAKES, TOKEN, FakeFly


@pytest.fixture
def fly_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[config_mod.Config, config_mod.Environment]:
    monkeypatch.setenv("FLY_BIN", str(FAKES / "fly"))
    monkeypatch.setenv("FLY_API_TOKEN", TOKEN)
    monkeypatch.setenv("STAGING_DB_URL", "postgresql://u:pw-canary-1234@db.example/postgres")
    (tmp_path / "fly.staging.toml").write_text('app = "hotdash-staging"\n')
    (tmp_path / "gates.toml").write_text(
        '[app]\nname = "hotdash"\n[environments.staging]\nplatform = "fly"\napp = "hotdash-staging"\n'
        'url = "https://staging.example"\nfly_config = "fly.staging.toml"\ndatabase_url_env = "STAGING_DB_URL"\n'
        f'[local]\nstate_dir = "{tmp_path / "state"}"\n'
    )
    monkeypatch.delenv("GATES_STATE_DIR", raising=False)
    cfg = config_mod.load(tmp_path / "gates.toml")
    return cfg, cfg.environment("staging")


def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **behaviour: Any) -> FakeFly:
    f = FakeFly(tmp_path / "fake-fly.json", **behaviour)
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
    release = FlyPlatform(cfg).deploy(env, ".", "rolling")
    assert (release.version, release.status) == (3, "complete")
    status = FlyPlatform(cfg).status(env)
    assert status.release == 3
    assert all(m.release == 3 and m.healthy for m in status.instances)
    deploy = next(c["argv"] for c in f.calls if c["argv"][0] == "deploy")
    assert "--detach" not in deploy
    assert deploy[deploy.index("--strategy") + 1] == "rolling"
    assert deploy[deploy.index("--app") + 1] == "hotdash-staging"
    assert deploy[deploy.index("--config") + 1].endswith("fly.staging.toml")


def test_exit_0_with_a_failed_release_fails_the_deploy(fly_env, tmp_path, monkeypatch):
    """flyctl exiting 0 does not make a failed release good: the deploy raises naming the release."""
    fake(tmp_path, monkeypatch, deploy_release_status="failed")
    cfg, env = fly_env
    with pytest.raises(GatesError, match=r"exited 0 but release v3 is failed"):
        FlyPlatform(cfg).deploy(env, ".")


def test_a_machine_left_on_the_old_release_fails_the_deploy_naming_it(fly_env, tmp_path, monkeypatch):
    """One machine still on v2 after a 'successful' deploy fails it, naming that machine."""
    fake(tmp_path, monkeypatch, stale_machines=["3d8d9016b21e08"])
    cfg, env = fly_env
    with pytest.raises(GatesError, match=r"machine 3d8d9016b21e08 runs release v2, expected v3"):
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


def test_a_hanging_fly_logs_is_cut_off_by_its_timeout(fly_env, tmp_path, monkeypatch):
    """`fly logs` that never answers raises GatesError naming the command and its bound."""
    fake(tmp_path, monkeypatch, hang=["logs"])
    cfg, env = fly_env
    with pytest.raises(GatesError, match=r"fly logs --no-tail --json --app hotdash-staging: no answer within 2s"):
        FlyPlatform(cfg, logs_timeout=2.0).logs(env)


def test_the_token_reaches_flyctl_only_through_the_environment(fly_env, tmp_path, monkeypatch):
    """Every call had the token in its environment; no argv, log or error text carries it."""
    f = fake(tmp_path, monkeypatch, deploy_release_status="failed")
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
