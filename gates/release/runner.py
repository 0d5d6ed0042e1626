"""The release plan and its runner.

A plan is a list of steps (preflight, migrate, deploy, gate, ...), each naming the steps whose verdicts it
waits on. The runner executes them as the schedule allows (gates.release.schedule), records each in the
release's Record, and stops at the first failure, naming the step. A failed production gate after a
production deploy rolls production back and gates the rolled-back release.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from gates.config import Config, Environment
from gates.core.errors import GatesError
from gates.core.measurement import utcnow
from gates.evidence.state import StepRecord
from gates.release.backup import backup_step
from gates.release.build import build_step
from gates.release.context import Context, Step
from gates.release.deploy import deploy_step
from gates.release.drill import drill_step
from gates.release.gate import gate_step
from gates.release.migrate import migrate_step
from gates.release.monitor import monitor_step
from gates.release.preflight import preflight_step
from gates.release.rollback import confirm_releases, plan_rollback, rollback_gate_step, rollback_step
from gates.release.schedule import BESIDE, Ran, Schedule
from gates.release.signoff import signoff_step


def plan(config: Config) -> list[Step]:
    """preflight and the build; migrate, deploy and gate each environment, staging first; the rollback drill on the
    environment just before production; production (backed up, then signed off) last; then the monitor.

    What each step waits on is the order of decisions: nothing is migrated, deployed or signed before the verdicts
    it needs. Two steps only read what is already decided, and run beside the steps before them: the preflight
    (the migrations pending for production, the repository) beside the build, and production's backup (its own
    database, in one snapshot) beside the gate and the drill of the environment before it, once that
    environment's migrations and deploy are done. The first change (a migration) waits on the build and the
    preflight; the sign-off on the backup and the drill (itself after the gate); everything after it, in turn.
    """
    order = sorted(config.environments.values(), key=lambda e: (e.is_production, e.name != "staging"))
    # The preflight lints what is pending for production: the last environment of the order.
    preflight = Step("preflight", order[-1].name, preflight_step, after=())
    build = Step("build", order[0].name, build_step, after=())
    steps: list[Step] = [preflight, build]
    decided: tuple[str, ...] = (preflight.title, build.title)  # what the next step that changes anything waits on
    deployed: tuple[str, ...] = ()  # the deploy of the environment before this one
    for index, env in enumerate(order):
        if env.is_production and index > 0 and not order[index - 1].is_production:
            # Rehearse the rollback on the environment just gated, before production is touched.
            drill = Step("drill", order[index - 1].name, drill_step, after=decided)
            steps.append(drill)
            decided = (drill.title,)
        if env.is_production:
            # The backup reads production's database only: it waits until the environment before is migrated and
            # deployed (a database two environments share then changes no more) and runs beside its gate and
            # drill. The sign-off comes after it, so "a proven backup of this release" can be checked.
            backup = Step("backup", env.name, backup_step, after=deployed or (preflight.title,))
            signoff = Step("signoff", env.name, signoff_step, after=(*decided, backup.title))
            steps += [backup, signoff]
            decided = (signoff.title,)
        migrate = Step("migrate", env.name, migrate_step, after=decided)
        deploy = Step("deploy", env.name, deploy_step, after=(migrate.title,))
        gate = Step("gate", env.name, gate_step, after=(deploy.title,))
        steps += [migrate, deploy, gate]
        decided, deployed = (gate.title,), (deploy.title,)
    if config.monitor.window and order:
        # After the production gate: watch the release that now serves users.
        steps.append(Step("monitor", order[-1].name, monitor_step, after=decided))
    return steps


def execute(ctx: Context, steps: Sequence[Step], beside: int = BESIDE) -> bool:
    """Run the plan (gates.release.schedule); stop at the first failure. Return whether every step passed.

    The failure of the earliest step (in plan order) that failed is the release's verdict, whether it ran beside
    another or alone. A failed production gate (or monitor gate) after a production deploy in this release rolls
    production back (steps ``rollback`` and ``rollback-gate``) and ends the record as ``rolled_back``. An
    interrupt (Ctrl-C, SIGTERM) stops every running step, marks the record "interrupted at <step>[, <step>]" and
    propagates.
    """
    schedule = Schedule(steps, lambda step: _run(ctx, step), beside)
    ran = schedule.run()
    try:
        if ran.interrupted:
            raise KeyboardInterrupt
        if ran.failed:
            return _failed(ctx, ran)
    except KeyboardInterrupt:
        where = _stopped(ctx, schedule.still_running())
        _skip(ctx, ran.not_run, f"not run: interrupted at {where}")
        ctx.record.finish("interrupted", f"interrupted at {where}")
        raise
    confirm_releases(ctx)  # every step passed: the previous release kept warm for a rollback can go
    ctx.record.finish("passed")
    return True


def _run(ctx: Context, step: Step) -> None:
    env = ctx.config.environment(step.env)
    ctx.intend(step.name, env.name)
    try:
        with _told(ctx, step.name, env.name) as rec:
            step.run(ctx, env, rec)
    finally:
        ctx.ended(step.name, env.name)


def _failed(ctx: Context, ran: Ran) -> bool:
    """End the record of a release whose step failed (rolled back first, after a production gate); re-raise an
    error that is not a verdict (a fault of gates itself) once the record says what happened."""
    step, exc = ran.failed[0]
    env = ctx.config.environment(step.env)
    rolled_back = _roll_back_after(ctx, step, env, str(exc)) if isinstance(exc, GatesError) else None
    _skip(ctx, ran.not_run, f"not run: {step.title} failed")
    if rolled_back is not None:
        ctx.record.finish("rolled_back", rolled_back)
    else:
        also = "".join(f"; {other.title} failed too: {error}" for other, error in ran.failed[1:])
        ctx.record.finish("failed", f"{step.title} failed: {exc}{also}")
    if not isinstance(exc, GatesError):
        raise exc
    return False


def _stopped(ctx: Context, left: Sequence[Step]) -> str:
    """Where an interrupt stopped the release: the steps it interrupted (a step whose thread never unwound is
    marked so now), else the last step that began; "start" before any."""
    with ctx.record.lock:
        for rec in ctx.record.steps:
            if rec.outcome == "running" and any(s.title == rec.title for s in left):
                rec.outcome, rec.ended_at = "interrupted", utcnow().isoformat()
                rec.detail = rec.detail or "interrupted (its step did not stop in time)"
        ctx.record.write()
        hit = [rec.title for rec in ctx.record.steps if rec.outcome == "interrupted"]
        last = ctx.record.steps[-1].title if ctx.record.steps else "start"
    return ", ".join(hit) or last


@contextlib.contextmanager
def _told(ctx: Context, name: str, env: str) -> Iterator[StepRecord]:
    """A recorded step, told to the reporter when it starts and when it ends, with the notifications it caused."""
    ctx.reporter.notifications(ctx.state.notifications)
    ctx.reporter.step_started(name, env)
    rec: StepRecord | None = None
    try:
        with ctx.record.step(name, env) as rec:
            yield rec
    finally:
        if rec is not None:
            ctx.reporter.step_ended(rec)
        ctx.reporter.notifications(ctx.state.notifications)


def _skip(ctx: Context, steps: Sequence[Step], reason: str) -> None:
    begun = {rec.title for rec in ctx.record.steps}
    for later in steps:
        if later.title not in begun:
            ctx.reporter.step_ended(ctx.record.skip(later.name, later.env, reason))


def _roll_back_after(ctx: Context, step: Step, env: Environment, detail: str) -> str | None:
    """After a failed production gate or monitor gate that followed a production deploy: roll back, gate the
    rolled-back release.

    Returns the record's reason when production was rolled back, None when there was nothing to do
    (or the rollback itself failed: the release then simply failed). The database is never
    rolled back: the state's rollback names the backup and the command that restores it.
    """
    deployed = any(s.name == "deploy" and s.env == env.name and s.outcome == "passed" for s in ctx.record.steps)
    # The monitor gate judges the same release the production gate passed, a little later: its failure too.
    if not (step.name in ("gate", "monitor") and env.is_production and deployed):
        return None
    info = plan_rollback(ctx, env, detail)
    try:
        _run(ctx, Step("rollback", env.name, rollback_step))
    except GatesError:
        return None
    finally:
        last = ctx.record.steps[-1]
        ctx.reporter.rollback(env.name, info.from_version, info.to_version, f"{last.outcome}: {last.detail}")
    with contextlib.suppress(GatesError):
        _run(ctx, Step("rollback-gate", env.name, rollback_gate_step))
    verdict = "passed" if info.gate_passed else "FAILED too"
    return (
        f"{env.name} {'gate' if step.name == 'gate' else 'monitor gate'} failed on release {info.from_version}: "
        f"{detail}; rolled back to release {info.to_version} "
        f"(serving as release {info.release}), whose gate {verdict}; the database was not rolled back"
    )
