"""The ``drill`` step (DEVOPS-013): rehearse the rollback on staging before production is touched.

On the staging environment, just after its gate passed: roll back to the previous good release,
run the smoke molecules against it, roll forward to the new release, run the whole staging gate
again. Each part is timed. The state's ``drill`` keeps the verdict, and the production steps
refuse to run without a drill that passed (or was waived) in the same release.

The previous good release is chosen as everywhere (gates/release/goodness.py: by identity, never a release
that failed a step, was rolled back from or never passed every step). On an app's first release (or
with no good one) there is nothing to roll back to: the drill says so and fails, unless the release
was started with ``gates deploy --first-release``; then it is waived, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from gates.config import Environment
from gates.core.errors import GatesError
from gates.evidence.state import Drill, StepRecord
from gates.gaterun.runner import GateOutcome, gate_marker, run_gate
from gates.release.context import Context
from gates.release.goodness import judge, previous_good

T = TypeVar("T")
DRILL_PARTS = ("rollback", "smoke", "roll_forward", "gate")
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

    def gate(marker: str, stem: str, expected: int) -> GateOutcome:
        outcome = run_gate(ctx.config, env, marker, ctx.record.dir, stem, expected, ctx.workers, reporter=ctx.reporter)
        rec.artifacts.extend(ctx.record.relative(p) for p in outcome.artifacts)
        return outcome

    drill.releases = {"new": new, "previous": previous.version}
    try:
        back = timed("rollback", lambda: platform.rollback(env, to=previous.version))
        with ctx.record.lock:
            drill.releases["rollback"] = back.version
        try:
            smoke = timed("smoke", lambda: gate(ctx.config.drill.smoke, "drill-smoke", back.version))
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
    again = timed("gate", lambda: gate(gate_marker(env), "drill-staging-gate", forward.version))
    drill.reports = [ctx.record.relative(ctx.record.dir / f"{s}.html") for s in ("drill-smoke", "drill-staging-gate")]
    drill.passed = smoke.passed and again.passed
    rec.detail = (
        f"rolled back v{new} -> v{previous.version} (as v{back.version}): smoke {smoke.said}; "
        f"rolled forward -> v{new} (as v{forward.version}): staging gate {again.said}; "
        + ", ".join(f"{part} {seconds:.1f}s" for part, seconds in drill.timings.items())
    )
    if not drill.passed:
        raise GatesError(f"rollback drill on {env.name} failed: {rec.detail}")


def require_drill(ctx: Context, env: Environment, action: str) -> None:
    """Refuse a production step unless this release's rollback drill passed or was waived."""
    if ctx.state.drill_ok():
        return
    state = (
        "failed in this release" if ctx.state.drill else "did not run in this release (no drill step before production)"
    )
    raise GatesError(f"refusing to {action} {env.name}: the rollback drill {state}")
