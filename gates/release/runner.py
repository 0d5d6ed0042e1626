"""The release plan and its runner.

A plan is an ordered list of steps (preflight, migrate, deploy, gate, ...). The runner executes
them in order, records each in the release's Record, and stops at the first failure, naming the
step. A failed production gate after a production deploy rolls production back and gates the
rolled-back release.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from gates.config import Config, Environment
from gates.core.errors import GatesError
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
from gates.release.signoff import signoff_step


def plan(config: Config) -> list[Step]:
    """preflight; the build (before any migration); migrate, deploy and gate each environment, staging first; the rollback drill on the
    environment just before production; production (backed up, then signed off) last; then the monitor."""
    order = sorted(config.environments.values(), key=lambda e: (e.is_production, e.name != "staging"))
    # The preflight lints what is pending for production: the last environment of the order.
    steps: list[Step] = [Step("preflight", order[-1].name, preflight_step), Step("build", order[0].name, build_step)]
    for index, env in enumerate(order):
        if env.is_production and index > 0 and not order[index - 1].is_production:
            # Rehearse the rollback on the environment just gated, before production is touched.
            steps.append(Step("drill", order[index - 1].name, drill_step))
        # The sign-off comes after the backup, so "a proven backup of this release" can be checked.
        steps += (
            [Step("backup", env.name, backup_step), Step("signoff", env.name, signoff_step)]
            if env.is_production
            else []
        )
        steps += [
            Step("migrate", env.name, migrate_step),
            Step("deploy", env.name, deploy_step),
            Step("gate", env.name, gate_step),
        ]
    if config.monitor.window and order:
        # After the production gate: watch the release that now serves users.
        steps.append(Step("monitor", order[-1].name, monitor_step))
    return steps


def execute(ctx: Context, steps: Sequence[Step]) -> bool:
    """Run steps in order; stop at the first failure. Return whether every step passed.

    A failed production gate (or monitor gate) after a production deploy in this release rolls production back
    (steps ``rollback`` and ``rollback-gate``) and ends the record as ``rolled_back``. An
    interrupt (Ctrl-C, SIGTERM) marks the record "interrupted at <step>" and propagates.
    """
    index = 0
    try:
        for index, step in enumerate(steps):
            env = ctx.config.environment(step.env)
            ctx.intend(step.name, env.name)
            try:
                with _told(ctx, step.name, env.name) as rec:
                    step.run(ctx, env, rec)
            except GatesError as exc:
                title = f"{step.name} {step.env}"
                rolled_back = _roll_back_after(ctx, step, env, str(exc))
                _skip(ctx, steps[index + 1 :], f"not run: {title} failed")
                if rolled_back is None:
                    ctx.record.finish("failed", f"{title} failed: {exc}")
                else:
                    ctx.record.finish("rolled_back", rolled_back)
                return False
    except KeyboardInterrupt:
        # The step the interrupt hit (a rollback step too) is the last one the record holds.
        last = ctx.record.steps[-1] if ctx.record.steps else None
        title = last.title if last else "start"
        _skip(ctx, steps[index + 1 :], f"not run: interrupted at {title}")
        ctx.record.finish("interrupted", f"interrupted at {title}")
        raise
    confirm_releases(ctx)  # every step passed: the previous release kept warm for a rollback can go
    ctx.record.finish("passed")
    return True


@contextlib.contextmanager
def _told(ctx: Context, name: str, env: str) -> Iterator[StepRecord]:
    """A recorded step, told to the reporter when it starts and when it ends, with the notifications it caused."""
    ctx.reporter.notifications(ctx.state.notifications)
    ctx.reporter.step_started(name, env)
    try:
        with ctx.record.step(name, env) as rec:
            yield rec
    finally:
        ctx.reporter.step_ended(ctx.record.steps[-1])
        ctx.reporter.notifications(ctx.state.notifications)


def _skip(ctx: Context, steps: Sequence[Step], reason: str) -> None:
    for later in steps:
        ctx.record.skip(later.name, later.env, reason)
        ctx.reporter.step_ended(ctx.record.steps[-1])


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
    ctx.intend("rollback", env.name)
    try:
        with _told(ctx, "rollback", env.name) as rec:
            rollback_step(ctx, env, rec)
    except GatesError:
        return None
    finally:
        last = ctx.record.steps[-1]
        ctx.reporter.rollback(env.name, info.from_version, info.to_version, f"{last.outcome}: {last.detail}")
    ctx.intend("rollback-gate", env.name)
    try:
        with _told(ctx, "rollback-gate", env.name) as rec:
            rollback_gate_step(ctx, env, rec)
    except GatesError:
        pass
    verdict = "passed" if info.gate_passed else "FAILED too"
    return (
        f"{env.name} {'gate' if step.name == 'gate' else 'monitor gate'} failed on release {info.from_version}: "
        f"{detail}; rolled back to release {info.to_version} "
        f"(serving as release {info.release}), whose gate {verdict}; the database was not rolled back"
    )
