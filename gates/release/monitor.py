"""The ``monitor`` release step: a monitoring window of the environment, then the monitor gate over it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gates.config import Environment
from gates.core.durations import parse_duration
from gates.core.errors import GatesError
from gates.evidence.state import StepRecord
from gates.gaterun.runner import run_gate
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
        env_vars: dict[str, str] = {}
        with ctx.reporter.waiting(what, total=window):
            # The browser watches the dashboard through the same window the sampler measures, from its start.
            watcher = Watcher.start(ctx.config, env, window, every, browser_file) if every else None
            result = run_window(ctx.config, env, window, ctx.record.dir, stem, on_progress=progress_to(ctx, what),
                                memory=instance_memory(ctx, env))  # fmt: skip
            if watcher is not None:  # its last visit may end a page load after the window: still told as waiting
                files += [watcher.finish(), *watcher.screenshots]
                env_vars[BROWSER_ENV] = str(browser_file)
        files += [result.plot_path, result.json_path, result.samples_path]
        env_vars[WINDOW_ENV] = str(result.json_path)
        rec.artifacts += [ctx.record.relative(p) for p in files]
        outcome = run_gate(
            ctx.config, env, "monitor", ctx.record.dir, f"{stem}-gate", workers=ctx.workers,
            env_vars=env_vars, reporter=ctx.reporter,
        )  # fmt: skip
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
