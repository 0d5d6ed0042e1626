"""The warm window after a confirmed release, on real local rollouts with the window shortened and the clock
really passing: inside it `gates rollback` is a switch under a steady probe, after it a redeploy; `gates status`
shows the warm release, its memory and when it stops; the reaper, a later command or `gates down` stops it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from gates import cli
from gates.config import Config, Environment
from gates.core.measurement import utcnow
from gates.core.procs import wait_until
from gates.gaterun.probe import Probe
from gates.platforms.local import LocalPlatform, Site
from gates.platforms.local import reaper as reaper_process
from gates.platforms.local.processes import group, running
from gates.platforms.local.state import Proc
from gates.platforms.local.warm import REAPER_GRACE, deadline, reaper
from tests.selftests.platformfixtures import DEMO_DB_ENV
from tests.selftests.test_rollout_probe import probed_config

WINDOW = 20.0  # seconds: the test's "hour"
STOP_BOUND = 30.0  # seconds beyond the deadline for the reaper to stop a warm set (its poll, SIGTERM, a busy machine)


def _deploy_and_confirm(cfg: Config, env: Environment) -> dt.datetime | None:
    """A deploy (the release it replaces kept warm), then the release confirmed: the warm set's window opens, and
    its deadline is returned (None: nothing was warm)."""
    platform = LocalPlatform(cfg)
    platform.deploy(env, str(cfg.app_source))
    said = platform.release_confirmed(env)
    kept = Site(cfg, env).warm_instances()
    if not kept:
        assert said == []
        return None
    assert len(said) == 1 and re.match(rf"release {kept[0].release} stays warm until ", said[0]), said
    (until,) = {deadline(p) for p in kept}
    assert until is not None
    return until


def _confirmed_with_warm_set(cfg: Config, env: Environment) -> dt.datetime:
    """Releases 1 and 2, each confirmed: release 1 warm in its window; its deadline."""
    assert _deploy_and_confirm(cfg, env) is None
    until = _deploy_and_confirm(cfg, env)
    assert until is not None
    return until


def _rollback_under_probe(
    cfg: Config, env: Environment, to: int, capsys: pytest.CaptureFixture[str]
) -> tuple[str, int]:
    """`gates rollback --to` under a steady traffic probe: what it printed and how many probe requests failed."""
    before = LocalPlatform(cfg).status(env).release
    probe = Probe(cfg, env, cfg.record_dir / f"probe-{to}-{before}.jsonl", before).start()
    try:
        assert cli.main(["--config", str(cfg.path), "rollback", "--env", env.name, "--to", str(to)]) == 0
    finally:
        serving = LocalPlatform(cfg).status(env).release
        assert serving is not None
        probe.deployed(serving)
        run = probe.finish()
    said = capsys.readouterr().out
    summary = run.summary()
    assert summary["requests"] > 0
    return said, summary["failed"]


def _stopped(procs: list[Proc]) -> bool:
    """None of ``procs`` runs, nor anything of its process group."""
    return all(not running(p) and not group(p.pid) for p in procs)


def test_a_rollback_inside_the_window_is_a_switch_and_after_it_a_redeploy(
    make_config, pg_database, monkeypatch, capsys
):
    """keep_previous_for = "20s": after release 2 is confirmed, `gates status` shows release 1 warm with its MB and
    its stop time; `gates rollback` then switches back to it (0 failed probe requests, "by warm switch", the ledger
    says so, the release left is stopped and nothing stays warm). After release 3 is confirmed and its window
    passes, the reaper stops release 1's warm processes (no pid left) and exits; `gates rollback` is then a
    redeploy saying nothing was kept warm, still with 0 failed requests."""
    cfg = probed_config(make_config, keep_previous_for=f"{WINDOW:g}s")
    monkeypatch.setenv(DEMO_DB_ENV, pg_database)  # `gates rollback` takes its lock and writes its ledger there
    env = cfg.environment("production")
    platform = LocalPlatform(cfg)
    until = _confirmed_with_warm_set(cfg, env)
    assert reaper(Site(cfg, env)) is not None

    assert cli.main(["--config", str(cfg.path), "status", "--env", env.name]) == 0
    out = capsys.readouterr().out
    stops = f"stops at {until.isoformat(timespec='seconds')}, in 0m"
    assert re.search(r"warm previous release 1: 2 instances, \d+ MB \(out of rotation for an instant rollback; ", out)
    assert stops in out, out
    assert cli.main(["--config", str(cfg.path), "status", "--env", env.name, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["warm"]["release"] == 1 and row["warm"]["rss_bytes"] > 0 and row["warm"]["until"] == until.isoformat()
    left = Site(cfg, env).serving_instances()

    said, failed = _rollback_under_probe(cfg, env, 1, capsys)

    assert failed == 0, said
    assert re.search(r"v2 -> v1 by warm switch in \d+\.\d\ds \(.*release 1 in rotation \d+ ms after the call", said)
    assert "release 2 drained and stopped, not kept warm" in said
    assert platform.warm(env) is None and reaper(Site(cfg, env)) is None and _stopped(left)
    assert cli.main(["--config", str(cfg.path), "history", "--env", env.name, "--limit", "1"]) == 0
    assert "(release 1's code, by warm switch)" in capsys.readouterr().out

    until = _deploy_and_confirm(cfg, env)  # release 3 over release 1: release 1 warm again, a new window
    assert until is not None
    kept = Site(cfg, env).warm_instances()
    assert {p.release for p in kept} == {1} and all(running(p) for p in kept)
    reaping = reaper(Site(cfg, env))
    assert reaping is not None
    # Nothing but the reaper may stop them: waited for through /proc, which stops nothing (status would).
    bound = (until - utcnow()).total_seconds() + STOP_BOUND
    wait_until("the reaper to stop the expired warm set", lambda: _stopped(kept), timeout=bound)
    wait_until("the reaper to exit", lambda: not running(reaping), timeout=REAPER_GRACE)
    assert utcnow() >= until
    assert "instance v1-0 of release 1 (kept warm) stopped" in Path(reaping.log).read_text()
    assert Site(cfg, env).warm_instances() == [] and platform.warm(env) is None

    said, failed = _rollback_under_probe(cfg, env, 1, capsys)

    assert failed == 0, said
    assert re.search(r"v3 -> v1 by redeploy in \d+\.\d\ds \(serving v1's code as release v4; ", said), said
    assert "rollback to v1: redeploy, no release kept warm" in said


def test_a_later_command_stops_a_warm_set_whose_window_ended_without_its_reaper(make_config):
    """With the reaper gone (killed), the warm set outlives its deadline only until the next command touching the
    environment: `gates status` stops it first and shows no warm release; its processes are gone."""
    cfg = make_config(keep_previous_for="5s")
    env = cfg.environment("production")
    until = _confirmed_with_warm_set(cfg, env)
    site = Site(cfg, env)
    from gates.platforms.local.warm import stop_reaper

    assert stop_reaper(site)
    kept = site.warm_instances()
    wait_until("the window's deadline", lambda: utcnow() >= until, timeout=WINDOW)
    assert all(running(p) for p in kept)  # nobody stopped them yet

    assert cli.main(["--config", str(cfg.path), "status", "--env", env.name]) == 0

    assert _stopped(kept) and Site(cfg, env).warm_instances() == []
    assert "warm window ended: instance v1-0 of release 1 (kept warm) stopped" in (site.logs / "deploy.log").read_text()


def test_the_reaper_sleeps_until_the_deadline_and_a_deploy_replacing_its_warm_set_stops_it(make_config, monkeypatch):
    """The reaper does not poll the state: it sleeps once, until the warm set's deadline (an hour on production).
    What takes the warm set before then stops it: the next deploy, which replaces the warm set, leaves no reaper
    of the old window running."""
    cfg = make_config()  # production's default window: an hour
    env = cfg.environment("production")
    until = _confirmed_with_warm_set(cfg, env)
    slept: list[float] = []

    class Woken(Exception):
        """Ends the reaper's sleep here: the test wants its length, not the hour."""

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        raise Woken

    with monkeypatch.context() as patched, pytest.raises(Woken):
        patched.setattr(reaper_process.time, "sleep", sleep)
        reaper_process.reap(str(cfg.path), env.name, until)
    assert len(slept) == 1 and 3000 < slept[0] <= 3600, slept
    reaping = reaper(Site(cfg, env))
    assert reaping is not None and running(reaping)

    LocalPlatform(cfg).deploy(env, str(cfg.app_source))

    assert not running(reaping) and reaper(Site(cfg, env)) is None


def test_gates_down_stops_the_warm_set_and_its_reaper(make_config):
    """`gates down` inside the window stops the reaper first, then every instance, warm ones included: no pid left."""
    cfg = make_config()  # production's default window: an hour
    env = cfg.environment("production")
    _confirmed_with_warm_set(cfg, env)
    site = Site(cfg, env)
    reaping, kept = reaper(site), site.warm_instances()
    assert reaping is not None and len(kept) == 2

    from gates.platforms.local import down

    stopped = down(cfg)

    assert "production: the warm set's reaper" in stopped
    assert not running(reaping) and _stopped(kept)


def test_with_the_window_off_confirmation_stops_the_warm_set(make_config):
    """keep_previous_for = "off": the previous release is warm only until the release is confirmed, then stopped;
    no reaper is started."""
    cfg = make_config(keep_previous_for="off")
    env = cfg.environment("production")
    platform = LocalPlatform(cfg)
    platform.deploy(env, str(cfg.app_source))
    platform.deploy(env, str(cfg.app_source))
    kept = Site(cfg, env).warm_instances()
    assert len(kept) == 2

    said = platform.release_confirmed(env)

    assert said == [f"instance {p.id} of release 1 (kept warm) stopped" for p in kept]
    assert _stopped(kept) and reaper(Site(cfg, env)) is None


def test_a_warm_set_that_is_not_good_is_let_go_at_once_whatever_the_window(make_config):
    """let_warm_go (the deploy step's answer to a warm release that is not good), on production with its hour's
    window: the warm set stops at once, no window opens, no reaper starts, nothing is left for a rollback."""
    cfg = make_config()  # production's default window: an hour
    env = cfg.environment("production")
    platform = LocalPlatform(cfg)
    platform.deploy(env, str(cfg.app_source))
    platform.deploy(env, str(cfg.app_source))
    kept = Site(cfg, env).warm_instances()
    assert len(kept) == 2 and env.keep_previous_seconds == 3600.0

    said = platform.let_warm_go(env)

    assert said == [f"instance {p.id} of release 1 (kept warm) stopped" for p in kept]
    assert _stopped(kept) and reaper(Site(cfg, env)) is None and platform.warm(env) is None


@pytest.mark.parametrize("inside", [True, False])
def test_the_bench_setup_meets_a_switch_inside_the_window_and_a_redeploy_outside(make_config, inside: bool):
    """confirmed_then_bad (the bench's set-up): release 2 confirmed over release 1; inside the window the rollback
    is a switch back to release 1 itself, outside it (the window ended at its deadline) a redeploy as release 3."""
    from gates.platforms.local.windowed import confirmed_then_bad

    cfg = make_config()
    env = cfg.environment("production")
    platform = LocalPlatform(cfg)
    source = str(cfg.app_source)

    bad = confirmed_then_bad(platform, env, source, source, inside=inside)

    assert bad == 2 and (platform.warm(env) is not None) == inside
    rolled = platform.rollback(env)
    assert (rolled.version, rolled.description.split(":")[0]) == (
        (1, "warm switch") if inside else (3, "rollback to v1")
    )
