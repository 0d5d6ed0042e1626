"""The rollback drill's decisions: first releases, refusals of production, and which release is previous and good.

The drill run for real (rollback, smoke gate, roll forward, staging gate) and the automatic
rollback are pinned by the second release of tests/selftests/test_release.py.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from gates.config import Config
from gates.core.errors import GatesError
from gates.evidence.record import Record
from gates.evidence.state import Backup, Builds, Drill, StepRecord
from gates.platforms import platform_for
from gates.platforms.base import KeepsPrevious, Platform, Release
from gates.release import Context, Step, execute, plan
from gates.release.backup import backup_step
from gates.release.deploy import deploy_step
from gates.release.drill import FIRST_RELEASE_WAIVER, drill_step
from gates.release.goodness import pick, previous_good
from gates.release.migrate import migrate_step
from gates.release.migrating import migrate
from gates.release.schedule import waits
from tests.selftests.demo import junit_results
from tests.selftests.platformfixtures import DEMO_DB_ENV

MakeConfig = Callable[..., Config]
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _release(version: int, ref: str, status: str = "complete") -> Release:
    return Release(version, ref, T0 + dt.timedelta(minutes=version), status)


def _first_staging_release(config: Config, tmp_path: Path, *, first_release: bool) -> Context:
    """A context whose staging has just received its very first release, as the deploy step leaves it."""
    env = config.environment("staging")
    release = platform_for(config, env).deploy(env, str(config.app_source))
    ctx = Context(config, Record(tmp_path / "deploys"), first_release=first_release)
    ctx.record.releases["staging"] = {"before": None, "after": release.version}
    return ctx


def _current(releases: Iterable[Release]) -> Release:
    """The release an environment serves: its newest complete one."""
    return max((r for r in releases if r.status == "complete"), key=lambda r: r.version)


def _passed(root: Path, release: Release) -> None:
    """The record of a release of staging that passed every step there, having deployed ``release``."""
    record = Record(root)
    record.steps = [StepRecord("deploy", "staging", outcome="passed"), StepRecord("gate", "staging", outcome="passed")]
    record.state.builds["staging"] = Builds({str(release.version): release.identity}, deployed=release.identity)
    record.finish("passed")


def test_the_drill_sits_after_the_staging_gate_and_before_anything_production_decides(make_config: MakeConfig) -> None:
    """The plan drills the rollback on staging once staging is gated; the sign-off (and through it production's
    migrate) waits on the drill; production's backup, which only reads, does not."""
    steps = plan(make_config())
    after = waits(steps)
    names = [(s.name, s.env) for s in steps]
    assert names[names.index(("gate", "staging")) + 1] == ("drill", "staging")
    assert after["drill staging"] == ("gate staging",)
    assert "drill staging" in after["signoff production"] and after["migrate production"] == ("signoff production",)
    assert "drill staging" not in after["backup production"]


def test_a_first_release_without_the_flag_fails_the_drill_and_production_never_starts(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """With nothing to roll back to, the drill says so, names --first-release, fails, and no production step runs."""
    config = make_config(instances=1)
    ctx = _first_staging_release(config, tmp_path, first_release=False)
    steps = [Step("drill", "staging", drill_step), Step("deploy", "production", deploy_step)]
    assert not execute(ctx, steps)
    drill, deploy = ctx.record.steps
    assert drill.outcome == "failed" and "first release of demo on staging" in drill.detail
    assert "gates deploy --first-release" in drill.detail
    assert deploy.outcome == "skipped"
    assert ctx.state.drill == Drill(env="staging")
    production = config.environment("production")
    assert list(platform_for(config, production).releases(production)) == []


def test_the_first_release_flag_waives_the_drill_with_its_reason(make_config: MakeConfig, tmp_path: Path) -> None:
    """`--first-release` turns the impossible drill into a waiver the record states; production may go on."""
    config = make_config(instances=1)
    ctx = _first_staging_release(config, tmp_path, first_release=True)
    assert execute(ctx, [Step("drill", "staging", drill_step)])
    assert ctx.state.drill is not None and ctx.state.drill.waived == FIRST_RELEASE_WAIVER
    assert ctx.state.drill.passed is False
    assert ctx.record.steps[0].detail.startswith("waived: first release of demo on staging")
    assert json.loads((ctx.record.dir / "record.json").read_text())["drill"]["waived"] == FIRST_RELEASE_WAIVER


@pytest.mark.parametrize(
    ("drill", "said"),
    [(None, "did not run"), (Drill(env="staging"), "failed")],
)
@pytest.mark.parametrize("step", [migrate_step, deploy_step])
def test_production_steps_refuse_without_a_passed_drill(
    make_config: MakeConfig, tmp_path: Path, drill: Drill | None, said: str, step: Callable[..., None]
) -> None:
    """Migrating or deploying production is refused, naming the drill, when it did not run or failed in this release
    (even with a proven backup of it: the backup only reads, and runs beside the drill)."""
    config = make_config(instances=1)
    ctx = Context(config, Record(tmp_path / "deploys"))
    ctx.state.drill = drill
    ctx.state.backups["production"] = Backup("production", "backups/production.dump", 1, "ab" * 32, verified=True)
    assert not execute(ctx, [Step(step.__name__.removesuffix("_step"), "production", step)])
    (rec,) = ctx.record.steps
    assert rec.outcome == "failed" and f"the rollback drill {said} in this release" in rec.detail
    assert rec.detail.startswith("refusing to ")
    production = config.environment("production")
    assert list(platform_for(config, production).releases(production)) == []


def test_previous_good_skips_failed_same_code_and_gated_out_releases() -> None:
    """The previous good release is complete, runs other code than the current one and has no failed gate."""
    releases = [_release(1, "a"), _release(2, "b"), _release(3, "c", "failed"), _release(4, "a"), _release(5, "b")]
    assert previous_good(releases, 5) == releases[3]
    assert previous_good(releases, 5, bad={4}) == releases[0]
    assert previous_good(releases, 2, bad={1}) is None
    assert previous_good([_release(1, "a")], 1) is None
    assert previous_good([_release(1, "a"), _release(2, "a")], 2) is None
    assert previous_good([_release(1, "a"), _release(2, "a")], 2, other_code=False) == _release(1, "a")


def test_pick_names_current_and_target_or_says_why_not() -> None:
    """pick returns (current, target); an explicit --to must be complete; nothing to roll back to is an error."""
    releases = [_release(1, "a"), _release(2, "b"), _release(3, "c", "failed")]
    assert pick(releases, "staging", None) == (releases[1], releases[0])
    assert pick(releases, "staging", 1) == (releases[1], releases[0])
    with pytest.raises(GatesError, match="release 3 is failed"):
        pick(releases, "staging", 3)
    with pytest.raises(GatesError, match="release 9 does not exist"):
        pick(releases, "staging", 9)
    with pytest.raises(GatesError, match="nothing to roll back to"):
        pick(releases, "staging", None, bad={1})


def test_a_failed_smoke_on_the_rolled_back_release_fails_the_drill_and_staging_is_rolled_forward(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """When the rolled-back release fails its smoke molecules the drill fails naming them, yet staging ends on the new release's code."""
    config = make_config(instances=1)  # no database: the dashboard's tiles cannot load, so the smoke fails
    staging = config.environment("staging")
    platform = platform_for(config, staging)
    first = platform.deploy(staging, str(config.app_source))
    _passed(tmp_path / "deploys", first)
    ctx = _first_staging_release(config, tmp_path, first_release=True)
    new = ctx.record.releases["staging"]["after"]
    assert not execute(ctx, [Step("drill", "staging", drill_step), Step("backup", "production", backup_step)])
    drill, backup = ctx.record.steps
    assert drill.outcome == "failed" and "smoke FAILED" in drill.detail and "test_every_tile_shows_data" in drill.detail
    assert backup.outcome == "skipped"
    record = ctx.state.drill
    assert record is not None and record.passed is False
    assert set(record.timings) == {"rollback", "smoke", "roll_forward", "verify"}
    serving = _current(platform.releases(staging))
    assert serving.version == record.releases["forward"] == new and record.forward == "warm switch"
    assert (ctx.record.dir / "drill-smoke.html").is_file() and "drill-smoke.html" in drill.artifacts
    # The smoke judged release 1's build: it is never a target again, by identity.
    assert record.smoke_passed is False and first.identity in ctx.state.builds["staging"].failed


def test_the_drill_smoke_expression_is_configurable(tmp_path: Path) -> None:
    """`[drill] smoke` sets the marker expression run against the rolled-back release; the default is the staging smoke molecules."""
    from gates.bench.sandbox import write_config
    from gates.config import load

    default = load(write_config(tmp_path / "default", environments={"staging": {}}))
    assert default.drill.smoke == "staging and smoke"
    custom = load(
        write_config(
            tmp_path / "custom", environments={"staging": {}}, extra='\n[drill]\nsmoke = "staging and health"\n'
        )
    )
    assert custom.drill.smoke == "staging and health"


def test_the_drill_rolls_forward_by_switching_back_to_the_instances_the_gate_passed(
    make_config: MakeConfig, tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new release stays warm through the rollback, so the roll forward is a switch back to the very processes
    that served before the drill (nothing started again), then what a switch can break is checked -- the release
    served and nothing else, every instance's health paths, the smoke molecules -- as the detail and the record say;
    the rolled-back release is left marked rolled back."""
    platform, _, ctx, new = _promoting(make_config(instances=2), tmp_path, pg_database, monkeypatch)
    staging = ctx.config.environment("staging")
    before = {(i.id, i.pid) for i in platform.status(staging).instances}
    assert execute(ctx, [Step("drill", "staging", drill_step)]), ctx.record.steps[0].detail
    (step,) = ctx.record.steps
    record = ctx.state.drill
    assert record is not None and record.passed and record.forward == "warm switch"
    assert record.releases["forward"] == new and set(record.timings) == {"rollback", "smoke", "roll_forward", "verify"}
    assert {(i.id, i.pid) for i in platform.status(staging).instances} == before
    assert record.verified.startswith("what a warm switch can break ((staging and smoke) or (staging and health))")
    assert f"rolled forward -> v{new} by warm switch; checked what a warm switch can break" in step.detail
    checked = junit_results(ctx.record.dir / "drill-forward.xml")
    assert {"test_environment_serves_the_release_just_deployed", "test_every_machine_answers_every_health_path",
            "test_dashboard_loads_inside_the_admin_frame[chromium]"} <= set(checked), checked  # fmt: skip
    assert set(checked.values()) == {"passed"}, checked
    assert record.reports == ["drill-smoke.html", "drill-forward.html"] and "drill-forward.html" in step.artifacts
    by_version = {r.version: r for r in platform.releases(staging)}
    assert (
        by_version[record.releases["rollback"]].status == "rolled_back" and _current(by_version.values()).version == new
    )


def test_with_a_warm_window_on_staging_the_drill_still_rolls_back_by_a_redeploy_and_passes(
    make_config: MakeConfig, tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """keep_previous_for set on staging keeps the previous good release warm after the new release's deploy; the
    drill's rollback still redeploys it (what the drill rehearses) rather than switching to it, which would mark
    the release being promoted rolled back and stop it, so the roll forward is a switch back to the release being
    promoted, the drill passes, and the record says rollback by redeploy, roll forward by warm switch."""
    config = make_config(instances=2, keep_previous_for="10m")
    platform, first, ctx, new = _promoting(config, tmp_path, pg_database, monkeypatch)
    staging = config.environment("staging")
    assert isinstance(platform, KeepsPrevious)
    kept = platform.warm(staging)
    assert kept is not None and kept.release == first.version  # the warm switch the drill must not take
    before = {(i.id, i.pid) for i in platform.status(staging).instances}
    assert execute(ctx, [Step("drill", "staging", drill_step)]), ctx.record.steps[0].detail
    (step,) = ctx.record.steps
    record = ctx.state.drill
    assert record is not None and record.passed and (record.back, record.forward) == ("redeploy", "warm switch")
    assert record.releases["rollback"] not in (first.version, new) and record.releases["forward"] == new
    assert f"rolled back v{new} -> v{first.version} by redeploy (as v{record.releases['rollback']}, " in step.detail
    assert f"v{new} kept warm" in step.detail and f"rolled forward -> v{new} by warm switch" in step.detail
    saved = json.loads((ctx.record.dir / "record.json").read_text())["drill"]
    assert (saved["back"], saved["forward"], saved["passed"]) == ("redeploy", "warm switch", True)
    assert {(i.id, i.pid) for i in platform.status(staging).instances} == before
    by_version = {r.version: r for r in platform.releases(staging)}
    assert by_version[new].status == "complete" and _current(by_version.values()).version == new
    assert by_version[first.version].status == "complete"  # still a target of the next rollback
    assert by_version[record.releases["rollback"]].status == "rolled_back"


def _promoting(
    config: Config, tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Platform, Release, Context, int]:
    """Staging's first release deployed and passed, then a new release of it deployed as a release does before its
    drill: (the platform, the first release, the release's context, the new release's version)."""
    monkeypatch.setenv(DEMO_DB_ENV, pg_database)
    migrate(config, pg_database, None)
    staging = config.environment("staging")
    platform = platform_for(config, staging)
    first = platform.deploy(staging, str(config.app_source))
    _passed(tmp_path / "deploys", first)
    ctx = _first_staging_release(config, tmp_path, first_release=False)
    return platform, first, ctx, ctx.record.releases["staging"]["after"]
