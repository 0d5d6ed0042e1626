"""The ``gate`` step: the environment's gate, `pytest -m <gate>`, with its HTML report in the record."""

from __future__ import annotations

from collections.abc import Sequence

from gates.config import Environment
from gates.core.errors import GatesError
from gates.core.measurement import utcnow
from gates.evidence.state import StepRecord
from gates.gaterun.runner import gate_marker, run_gate
from gates.release.comparison import gate_arguments, let_baseline_go
from gates.release.context import Context


def gate_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Run the environment's gate, expecting the release this release deployed to it."""
    expected = ctx.record.releases.get(env.name, {}).get("after")
    extra = gate_arguments(ctx, env)
    if ctx.accept_visual:
        with ctx.record.lock:  # the record is written by the steps beside this one
            ctx.state.visual_accepted[env.name] = {"by": ctx.accept_visual, "at": utcnow().isoformat()}
    try:
        gate_into(ctx, env, rec, f"{env.name}-gate", expected, extra)
    finally:
        rec.detail += let_baseline_go(ctx, env)


def gate_into(
    ctx: Context, env: Environment, rec: StepRecord, stem: str, expected: int | None, extra: Sequence[str] = ()
) -> None:
    """Run ``env``'s gate into the record under ``stem`` (``extra``: more options of its pytest); raise naming
    the failed molecules."""
    outcome = run_gate(
        ctx.config, env, gate_marker(env), ctx.record.dir, stem, expected, ctx.workers, reporter=ctx.reporter,
        options=extra,
    )  # fmt: skip
    with ctx.record.lock:  # the record is written by the steps beside this one
        ctx.gates[env.name] = outcome
        ctx.state.waivers.update({f"{env.name}: {name}": reason for name, reason in outcome.waived})
    rec.artifacts += [ctx.record.relative(p) for p in outcome.artifacts]
    # The comparison's screenshots, difference, plots and figures, beside the report (gates/gaterun/comparison).
    rec.artifacts += [ctx.record.relative(p) for p in sorted(ctx.record.dir.glob(f"{stem}-comparison*"))]
    rec.detail = outcome.detail
    if not outcome.passed:
        raise GatesError(outcome.detail)
