"""The ``monitor`` release step: a monitoring window of the environment, and the monitor gate over it.

The gate's child starts with the window and holds its molecules until the window is over (gates/gaterun/plugin/
hold.py): its start-up runs beside the window, its verdicts judge the finished window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gates.config import Environment
from gates.core.durations import parse_duration
from gates.core.errors import GatesError
from gates.evidence.state import StepRecord
from gates.gaterun.runner import GATE_TIMEOUT, held_gate
from gates.monitor.window import BROWSER_ENV, WINDOW_ENV, WindowProgress, run_window
from gates.release.comparison import instance_memory
from gates.release.context import Context, StepFn
from gates.release.watch import Watcher, browser_every


def monitor_step_for(seconds: float | None = None) -> StepFn:
    """The step, watching for ``seconds`` (default: the config's [monitor] window)."""

    def monitor_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
        window = seconds or parse_duration(ctx.config.monitor.window or "60s", "[monitor] window")
        stem = f"monitor-{env.name}"
        what = f"monitor {env.name}"
        every = browser_every(ctx.config)
        browser_file = ctx.record.dir / f"{stem}-browser.json"
        files: list[Path] = []
        # Where the window leaves what the gate reads (gates/monitor/window.py writes <stem>.json): known now.
        env_vars = {WINDOW_ENV: str(ctx.record.dir / f"{stem}.json")} | (
            {BROWSER_ENV: str(browser_file)} if every else {}
        )
        # The gate starts with the window and holds its molecules until the window is over: pytest's start-up
        # and collection happen meanwhile; every molecule judges the finished window, as before.
        with held_gate(
            ctx.config, env, "monitor", ctx.record.dir, f"{stem}-gate", hold_for=window + GATE_TIMEOUT,
            workers=ctx.workers, env_vars=env_vars, reporter=ctx.reporter,
        ) as gate:  # fmt: skip
            with ctx.reporter.waiting(what, total=window):
                # The browser watches the dashboard through the same window the sampler measures, from its start.
                watcher = Watcher.start(ctx.config, env, window, every, browser_file) if every else None
                result = run_window(ctx.config, env, window, ctx.record.dir, stem, on_progress=progress_to(ctx, what),
                                    memory=instance_memory(ctx, env))  # fmt: skip
                if watcher is not None:  # its last visit may end a page load after the window: still told as waiting
                    files += [watcher.finish(), *watcher.screenshots]
            gate.go()
        files += [result.plot_path, result.json_path, result.samples_path]
        rec.artifacts += [ctx.record.relative(p) for p in files]
        outcome = gate.outcome()
        ctx.gates[env.name] = outcome  # the environment's latest gate: a rollback after it names what failed
        rec.artifacts += [ctx.record.relative(p) for p in outcome.artifacts]
        rec.detail = f"{result.describe()}; gate: {outcome.detail}"
        if not outcome.passed:
            raise GatesError(rec.detail)

    return monitor_step


def progress_to(ctx: Context, what: str) -> Callable[[WindowProgress], None]:
    """The window's progress told to the release's reporter: elapsed of total, samples, error rate and p95 so far."""

    def told(now: WindowProgress) -> None:
        ctx.reporter.progress(what, round(now.elapsed), now.total, now.describe(), "s")

    return told


monitor_step = monitor_step_for()
