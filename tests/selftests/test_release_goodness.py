"""Which release is good, on real releases of an app whose faults are commits of its code (gates/release/goodness.py).

Staging on the local platform (two instances, a real database), released in process step by step
as `gates deploy` runs them: a healthy commit, a commit whose ads health answers 503 (the rollout
completes, its probe sees the 503s), a commit whose second instance never becomes healthy (the
rollout fails half-way), then a healthy commit again, drilled. The pure rules are pinned by
tests/fast/test_release_goodness.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gates.config import Config, load
from gates.evidence.record import Record
from gates.evidence.state import StepRecord
from gates.platforms.local import LocalPlatform, down
from gates.release import Context, Step, execute
from gates.release.deploy import deploy_step
from gates.release.drill import drill_step
from gates.release.gate import gate_step
from gates.release.migrate import migrate_step
from tests.selftests.demo import gates, write_config
from tests.selftests.platformfixtures import DEMO_DB_ENV
from tests.selftests.repofixtures import app_repository, commit_change
from tests.selftests.test_ledger import WAIVE
from tests.selftests.test_rollout_probe import probed_config

DB_ENV = "GATES_GOODNESS_DB"
ADS_OK = 'return JSONResponse({"status": "ok", "service": "ads", "release": RELEASE})'
ADS_503 = 'return JSONResponse({"status": "down", "service": "ads", "release": RELEASE}, status_code=503)'
HEALTH = "async def health(request: Request) -> Response:\n"
LATE_ERROR = '{extra}\n<script>setTimeout(() => console.error("tiles: undefined"), 500)</script>'
SECOND_SICK = HEALTH + '    if INSTANCE.endswith("-1"):\n        return JSONResponse({"status": "error"}, status_code=503)\n'


def _release(config: Config, *steps: tuple[str, Callable[..., None]]) -> Record:
    """One release of staging made of ``steps``, as `gates deploy` runs them, with its own record."""
    ctx = Context(config, Record(config.record_dir))
    execute(ctx, [Step(name, "staging", run) for name, run in steps])
    return ctx.record


def _identities(config: Config) -> dict[int, str]:
    """Staging's release numbers -> what each runs (its build)."""
    env = config.environment("staging")
    return {r.version: r.ref for r in LocalPlatform(config).releases(env)}


def _serving(config: Config) -> set[str]:
    """The builds staging's instances serve."""
    identity = _identities(config)
    instances = LocalPlatform(config).status(config.environment("staging")).instances
    return {identity[i.release] for i in instances if i.release is not None}


def _step(record: Record, name: str) -> StepRecord:
    return next(s for s in record.steps if s.name == name)


@pytest.fixture
def staging(tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Config, Path]]:
    """A config releasing a git repository of the demo app to staging (two instances, a fresh database)."""
    monkeypatch.setenv(DB_ENV, pg_database)
    monkeypatch.delenv("GATES_STATE_DIR", raising=False)
    app = app_repository(tmp_path)
    path = write_config(
        tmp_path / "cfg", source=app, environments={"staging": {"database_url_env": DB_ENV, "instances": 2}},
        extra=WAIVE + '\n[drill]\nsmoke = "staging and health"\n',
    )  # fmt: skip
    config = load(path)
    yield config, app
    down(config)


def test_a_failed_release_is_never_returned_to_and_a_healthy_one_is_not_blamed_for_it(
    staging: tuple[Config, Path],
) -> None:
    """A release whose staging deploy failed (its probe saw 503s) leaves staging on the previous good release, not on
    itself; a rollout that failed on one instance of two leaves staging serving exactly that release again; the next
    healthy release is drilled against the good release (never the failed one) and passes; `gates rollback` chooses
    the good release's code too."""
    config, app = staging
    migrate_deploy_gate = (("migrate", migrate_step), ("deploy", deploy_step), ("gate", gate_step))
    good = _release(config, *migrate_deploy_gate)
    assert good.outcome == "passed", good.reason
    (a,) = _serving(config)

    commit_change(app, "ads: answer 503", {ADS_OK: ADS_503})
    probed = _release(config, ("deploy", deploy_step), ("gate", gate_step))
    deploy = _step(probed, "deploy")
    assert deploy.outcome == "failed" and "was not without downtime" in deploy.detail, deploy.detail
    assert "staging returned to the previous good release 1" in deploy.detail
    assert _serving(config) == {a}

    commit_change(app, "ads fixed; health: the second instance is sick", {ADS_503: ADS_OK, HEALTH: SECOND_SICK})
    half = _release(config, ("deploy", deploy_step), ("gate", gate_step))
    deploy = _step(half, "deploy")
    assert deploy.outcome == "failed" and "put back:" in deploy.detail, deploy.detail
    assert _serving(config) == {a}  # exactly one release: today the healthy new instance stayed beside it
    assert len(LocalPlatform(config).status(config.environment("staging")).instances) == 2

    commit_change(app, "health: every instance answers again", {SECOND_SICK: HEALTH + "    # every instance\n"})
    healthy = _release(config, ("deploy", deploy_step), ("gate", gate_step), ("drill", drill_step))
    assert healthy.outcome == "passed", healthy.reason
    drill = healthy.state.drill
    assert drill is not None and drill.passed and drill.smoke_passed
    assert _identities(config)[drill.releases["previous"]] == a

    result = gates("rollback", "--env", "staging", config=config.path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _serving(config) == {a}, result.stdout


def test_records_from_before_a_reset_never_mark_a_new_release_with_the_same_number(
    make_config: Callable[..., Config], pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Release 2 failed its gate (a late console error, committed) before the state folder was reset; after the reset a
    new release 2 of other code passed: the old record's verdict is on the old build, so `gates rollback` from the new
    release 3 returns to the new release 2."""
    config = probed_config(make_config, instances=1)  # the probe leaves the database's routes out: it is empty
    monkeypatch.setenv(DEMO_DB_ENV, pg_database)  # where `gates rollback` takes its lock
    app = app_repository(config.path.parent)
    config.path.write_text(config.path.read_text().replace(str(config.app_source), str(app)))
    config = load(config.path)
    assert _release(config, ("deploy", deploy_step)).outcome == "passed"
    commit_change(app, "dashboard: log a late error", {"{extra}": LATE_ERROR})
    failed = _release(config, ("deploy", deploy_step), ("gate", gate_step))
    assert _step(failed, "gate").outcome == "failed" and failed.releases["staging"]["after"] == 2

    down(config)
    shutil.rmtree(config.state_dir)  # the reset: the records stay, the numbers start again
    for n in range(3):
        commit_change(app, f"dashboard: release {n} after the reset", {"{extra}": f"{{extra}}<!-- {n} -->"})
        assert _release(config, ("deploy", deploy_step)).outcome == "passed"

    result = gates("rollback", "--env", "staging", config=config.path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gates: rolled back staging: v3 -> v2 by redeploy" in result.stdout, result.stdout
