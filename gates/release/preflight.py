"""The ``preflight`` step: `pytest -m preflight` against what is pending for production, before anything changes."""

from __future__ import annotations

from gates.config import Environment
from gates.core.errors import GatesError
from gates.database import has_database, prepare_database
from gates.evidence.state import StepRecord
from gates.gaterun.runner import run_gate
from gates.release.context import Context


def preflight_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Run `pytest -m preflight` against the environment (what is pending for it) before anything changes."""
    if has_database(env):
        prepare_database(ctx.config, env)  # the lint asks the database which migrations are still pending
    outcome = run_gate(
        ctx.config, env, "preflight", ctx.record.dir, "preflight", None, ctx.workers, reporter=ctx.reporter
    )
    rec.artifacts += [ctx.record.relative(p) for p in outcome.artifacts]
    rec.detail = outcome.detail
    if not outcome.passed:
        raise GatesError(outcome.detail)
