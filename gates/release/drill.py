"""The ``drill`` step (DEVOPS-013): rehearse the rollback on staging before production is touched.

On the staging environment, just after its gate passed: roll back to the previous good release, run the smoke
molecules against it, roll forward to the new release, and check it again. Each part is timed. The state's
``drill`` keeps the verdict, and the production steps refuse to run without a drill that passed (or was waived)
in the same release.

The rollback is a redeploy of the previous good release whatever the environment keeps warm (``keep_previous``,
``keep_previous_for``): a redeploy is what a rollback after the warm window is, and what the drill rehearses.
Where the platform can keep a release warm (the local platform), the rollback keeps the new release's instances
running out of rotation (``rollback_keeping_warm``: never a switch, which would mark the release being promoted
rolled back and stop it), and the roll forward is a traffic switch back to those very instances, which passed
the whole staging gate moments before. What a switch can break is then checked (``forward_checks``): the
environment serves the release just deployed and nothing else, every instance answers every health path, and
the smoke molecules pass through the front door. When the roll forward had to redeploy (no warm instances, or
not all healthy; Fly), the new instances are the ones gated: the whole staging gate runs again. The record's
``drill.back``, ``drill.forward`` and ``drill.verified`` say which way each went and what was checked.

The previous good release is chosen as everywhere (gates/release/goodness.py: by identity, never a release
that failed a step, was rolled back from or never passed every step). On an app's first release (or
with no good one) there is nothing to roll back to: the drill says so and fails, unless the release
was started with ``gates deploy --first-release``; then it is waived, with the reason.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TypeVar

from gates.config import Config, Environment
from gates.core.errors import GatesError
from gates.evidence.state import Drill, StepRecord
from gates.gaterun.runner import GATE_TIMEOUT, GateOutcome, HeldGate, gate_marker, held_gate, run_gate
from gates.platforms import KeepsPrevious, Platform, Release, rollback_path
from gates.release.context import Context
from gates.release.goodness import judge, previous_good

T = TypeVar("T")
DRILL_PARTS = ("rollback", "smoke", "roll_forward", "gate")  # the last is "verify" after a warm switch
HOLD_FOR = 2 * GATE_TIMEOUT  # bound of a held drill gate's wait: a dead gates process leaves it waiting no longer
FIRST_RELEASE_WAIVER = "first release: nothing to roll back to (--first-release)"


def drill_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Roll staging back, smoke-test it, roll it forward, gate it again; time each part."""
    drill = ctx.state.drill = Drill(env=env.name)
    if not getattr(ctx.platform(env), "deploys", True):
        drill.waived = (
            f"{env.name} is deployed by something else (platform {env.platform}): rehearse its rollback there"
        )
        rec.detail = f"waived: {drill.waived}"
        return
    new = ctx.record.releases.get(env.name, {}).get("after")
    if new is None:
        raise GatesError(f"no release of {env.name} was deployed in this release: nothing to drill")
    platform = ctx.platform(env)
    releases = platform.releases(env)
    # Only a good release is a target (gates/release/goodness.py): rehearsing a return to code that failed proves nothing,
    # and its fault would be blamed on the release being drilled.
    bad = judge(ctx.config, env, ctx.record.dir.parent).verdicts.unfit(releases)
    # Other code proves the most; a redeploy of unchanged code still rehearses the rollback itself.
    previous = previous_good(releases, new, bad) or previous_good(releases, new, bad, other_code=False)
    if previous is None:
        earlier = [r for r in releases if r.version < new and r.status == "complete"]
        said = (
            f"no earlier release of {ctx.config.app.name} on {env.name} is good to roll back to "
            f"({len(earlier)} complete, each failed or never passed every step)"
            if earlier
            else f"first release of {ctx.config.app.name} on {env.name}: no earlier complete release to roll back to"
        )
        if not ctx.first_release:
            raise GatesError(
                f"{said}; the rollback drill cannot run. If this is the app's first release, "
                "run `gates deploy --first-release` to go on without the drill"
            )
        drill.waived = f"{said} (--first-release)" if earlier else FIRST_RELEASE_WAIVER
        rec.detail = f"waived: {said} (--first-release)"
        return

    def timed(part: str, action: Callable[[], T]) -> T:
        started = time.monotonic()
        ctx.reporter.progress(f"drill {env.name}", len(drill.timings) + 1, len(DRILL_PARTS), part, "parts")
        try:
            with ctx.reporter.waiting(f"drill {env.name}: {part}"):
                return action()
        finally:
            with ctx.record.lock:  # the record is written by the steps beside this one (a backup)
                drill.timings[part] = round(time.monotonic() - started, 2)
                ctx.record.write()

    def judged(outcome: GateOutcome) -> GateOutcome:
        rec.artifacts.extend(ctx.record.relative(p) for p in outcome.artifacts)
        return outcome

    def held(marker: str, stem: str) -> contextlib.AbstractContextManager[HeldGate]:
        return held_gate(ctx.config, env, marker, ctx.record.dir, stem, hold_for=HOLD_FOR, workers=ctx.workers,
                         reporter=ctx.reporter)  # fmt: skip

    drill.releases = {"new": new, "previous": previous.version}
    expression, checked = forward_checks(ctx.config, env)
    with contextlib.ExitStack() as stack:
        # The drill's gates start with the rollback, holding their molecules until what each judges serves:
        # pytest's start-up and the browser's launch run beside the rollback. The checks of a roll forward by a
        # switch start only where the platform keeps the new release warm.
        smoke_gate = stack.enter_context(held(ctx.config.drill.smoke, "drill-smoke"))
        ahead = stack.enter_context(held(expression, "drill-forward")) if isinstance(platform, KeepsPrevious) else None
        try:
            back = timed("rollback", lambda: _roll_back(platform, env, previous.version))
            with ctx.record.lock:  # the record is written by the steps beside this one (a backup)
                drill.releases["rollback"] = back.version
                drill.back = rollback_path(previous.version, back)
            try:
                smoke_gate.go(back.version)
                smoke = timed("smoke", lambda: judged(smoke_gate.outcome()))
                drill.report = ctx.record.relative(ctx.record.dir / "drill-smoke.html")
                drill.smoke_passed = smoke.passed
                if not smoke.passed:  # the previous release's own fault: never a target again
                    why = f"its smoke molecules failed in the rollback drill of release {ctx.record.id}"
                    with ctx.record.lock:
                        ctx.builds(env).failed[previous.identity] = why
            finally:
                # Roll forward whatever the smoke said: staging must end on the release being promoted.
                forward = timed("roll_forward", lambda: platform.rollback(env, to=new))
        finally:
            ctx.remember(env, previous.version)
        with ctx.record.lock:
            drill.releases["forward"] = forward.version
            drill.forward = rollback_path(new, forward)
        if drill.forward == "warm switch" and ahead is not None:
            stem = "drill-forward"
            with ctx.record.lock:
                drill.verified = checked
            ahead.go(new)
            again = timed("verify", lambda: judged(ahead.outcome()))
        else:
            if ahead is not None:
                ahead.call_off("the roll forward redeployed: the whole gate judges the new instances instead")
            marker, stem = gate_marker(env), "drill-staging-gate"
            with ctx.record.lock:
                drill.verified = f"the whole {marker} gate: the roll forward started the release anew"
            again = timed("gate", lambda: judged(run_gate(
                ctx.config, env, marker, ctx.record.dir, stem, forward.version, ctx.workers, reporter=ctx.reporter,
            )))  # fmt: skip
    with ctx.record.lock:
        drill.reports = [ctx.record.relative(ctx.record.dir / f"{s}.html") for s in ("drill-smoke", stem)]
        drill.passed = smoke.passed and again.passed
    # A rollback that redeployed where the platform keeps releases warm left the new one warm (rollback_keeping_warm).
    kept = f", v{new} kept warm" if isinstance(platform, KeepsPrevious) and back.version != previous.version else ""
    rec.detail = (
        f"rolled back v{new} -> v{previous.version} by {drill.back} (as v{back.version}{kept}): smoke {smoke.said}; "
        f"rolled forward -> v{new} by {drill.forward}"
        + ("" if forward.version == new else f" (as v{forward.version})")
        + f"; checked {drill.verified}: {again.said}; "
        + ", ".join(f"{part} {seconds:.1f}s" for part, seconds in drill.timings.items())
    )
    if not drill.passed:
        raise GatesError(f"rollback drill on {env.name} failed: {rec.detail}")


def _roll_back(platform: Platform, env: Environment, to: int) -> Release:
    """The drill's rollback, a redeploy of ``to``: where the platform can, the release it leaves stays warm for the
    way forward (a platform that keeps nothing warm, Fly, always redeploys on ``rollback``)."""
    if isinstance(platform, KeepsPrevious):
        return platform.rollback_keeping_warm(env, to)
    return platform.rollback(env, to=to)


def forward_checks(config: Config, env: Environment) -> tuple[str, str]:
    """After a roll forward by a warm switch: the marker expression of what the switch can break, and it in words.

    The instances serving again are the very processes that passed the whole gate of ``env`` moments before, and a
    switch changes only which of them the front door sends traffic to. So: the environment serves the release just
    deployed and nothing else, each instance answers every health path (the health molecules), and the smoke
    molecules pass through the front door (``[drill] smoke``). The database, the comparison and the rest of the gate
    judge nothing a switch changes."""
    marker = gate_marker(env)
    expression = f"({config.drill.smoke}) or ({marker} and health)"
    said = (
        f"what a warm switch can break ({expression}): {env.name} serves the release just deployed and nothing else, "
        "every instance answers every health path, the smoke molecules pass"
    )
    return expression, said


def require_drill(ctx: Context, env: Environment, action: str) -> None:
    """Refuse a production step unless this release's rollback drill passed or was waived."""
    if ctx.state.drill_ok():
        return
    state = (
        "failed in this release" if ctx.state.drill else "did not run in this release (no drill step before production)"
    )
    raise GatesError(f"refusing to {action} {env.name}: the rollback drill {state}")
