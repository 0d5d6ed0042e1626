"""The ``monitor`` release step: a monitoring window of the environment, then the monitor gate over it."""

from __future__ import annotations

from gates.config import Environment
from gates.durations import parse_duration
from gates.errors import GatesError
from gates.gaterun import run_gate
from gates.monitor.window import WINDOW_ENV, run_window
from gates.release.context import Context, StepFn
from gates.state import StepRecord


def monitor_step_for(seconds: float | None = None) -> StepFn:
    """The step, watching for ``seconds`` (default: the config's [monitor] window)."""

    def monitor_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
        window = seconds or parse_duration(ctx.config.monitor.window or "60s", "[monitor] window")
        stem = f"monitor-{env.name}"
        result = run_window(ctx.config, env, window, ctx.record.dir, stem)
        rec.artifacts += [ctx.record.relative(p) for p in (result.plot_path, result.json_path, result.samples_path)]
        outcome = run_gate(
            ctx.config, env, "monitor", ctx.record.dir, f"{stem}-gate", workers=ctx.workers,
            env_vars={WINDOW_ENV: str(result.json_path)},
        )  # fmt: skip
        rec.artifacts += [ctx.record.relative(p) for p in outcome.artifacts]
        rec.detail = f"{result.describe()}; gate: {outcome.detail}"
        if not outcome.passed:
            raise GatesError(rec.detail)

    return monitor_step


monitor_step = monitor_step_for()
