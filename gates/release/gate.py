"""The ``gate`` step: the environment's gate, `pytest -m <gate>`, with its HTML report in the record."""

from __future__ import annotations

from gates.config import Environment
from gates.core.errors import GatesError
from gates.evidence.state import StepRecord
from gates.gaterun.runner import gate_marker, run_gate
from gates.release.context import Context


def gate_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Run the environment's gate, expecting the release this release deployed to it."""
    expected = ctx.record.releases.get(env.name, {}).get("after")
    gate_into(ctx, env, rec, f"{env.name}-gate", expected)


def gate_into(ctx: Context, env: Environment, rec: StepRecord, stem: str, expected: int | None) -> None:
    """Run ``env``'s gate into the record under ``stem``; raise naming the failed molecules."""
    outcome = run_gate(
        ctx.config, env, gate_marker(env), ctx.record.dir, stem, expected, ctx.workers, reporter=ctx.reporter
    )
    ctx.gates[env.name] = outcome
    ctx.state.waivers.update({f"{env.name}: {name}": reason for name, reason in outcome.waived})
    rec.artifacts += [ctx.record.relative(p) for p in outcome.artifacts]
    rec.detail = outcome.detail
    if not outcome.passed:
        raise GatesError(outcome.detail)
