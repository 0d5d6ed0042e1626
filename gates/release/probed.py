"""A rollout (a deploy, a rollback) under the traffic probe, its file and summary kept in the record, with the
output of the environment's instances: a failure naming an instance says where its output is kept."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from gates.config import Environment
from gates.core.errors import GatesError
from gates.core.redact import keep
from gates.evidence.state import StepRecord
from gates.gaterun.probe import Probe, ProbeRun, probe_path
from gates.platforms import Platform, Release
from gates.release.context import Context

LOG_LINES = 1000  # the newest lines of the environment's logs kept with each rollout, and of each instance's own
INSTANCE_LINES = 100_000  # the newest lines read to keep each instance's own: bounded, never all


def probed(
    ctx: Context, env: Environment, rec: StepRecord, before: int | None, rollout: Callable[[], Release], kind: str = ""
) -> Release:
    """Run ``rollout`` under the traffic probe; keep its file in the record and its summary in the state
    (``kind`` names a second probe of the environment: ``rollback``)."""
    path = probe_path(ctx.record.dir, env, kind)
    rec.artifacts.append(ctx.record.relative(path))
    probe = Probe(ctx.config, env, path, before, _idle(ctx.platform(env), env, before)).start()

    def keep(run: ProbeRun) -> ProbeRun:
        key = f"{env.name}-{kind}" if kind else env.name
        ctx.state.probes[key] = {"path": ctx.record.relative(path), **run.summary()}
        return run

    try:
        release = rollout()
    except GatesError as exc:
        # A failed rollout must leave the old release serving: the probe watches it do so.
        watched = keep(probe.finish()).describe()
        kept = keep_instance_logs(ctx, env, rec, kind)
        raise GatesError(f"{exc}; {watched}{outputs_named(str(exc), kept)}") from None
    except BaseException:
        keep(probe.finish(settle=False))
        keep_instance_logs(ctx, env, rec, kind)
        raise
    probe.deployed(release.version)
    rec.detail = keep(probe.finish()).describe()
    keep_instance_logs(ctx, env, rec, kind)
    return release


def keep_instance_logs(ctx: Context, env: Environment, rec: StepRecord, kind: str = "") -> dict[str, str]:
    """The platform's logs of the rollout into the record, secrets masked: the newest lines of every instance and
    of the rollout events together, and each instance's output since the step began in a file of its own (an
    instance that died at start is there whole, however much the others logged); files named with ``kind`` as
    the probe's. Instance -> its file."""
    stem = f"instances-{env.name}" + (f"-{kind}" if kind else "")
    path = ctx.record.log(stem)
    try:
        # Read once (on Fly each read is a `fly logs`): the newest lines together, and each instance's since the step
        # began, with a second's margin (a log's timestamps may be whole seconds).
        lines = ctx.platform(env).logs(env, limit=INSTANCE_LINES)
        keep(path, "".join(f"{line.at.isoformat()} {line.instance}: {line.message}\n" for line in lines[-LOG_LINES:]))
    except (GatesError, OSError):
        return {}  # a platform without logs (external), or logs that could not be kept: never the step's verdict
    since = dt.datetime.fromisoformat(rec.started_at) - dt.timedelta(seconds=1)
    step_lines = [line for line in lines if line.at >= since]
    rec.artifacts.append(ctx.record.relative(path))
    by_instance: dict[str, list[str]] = {}
    for line in step_lines:
        by_instance.setdefault(line.instance, []).append(f"{line.at.isoformat()} {line.message}\n")
    kept: dict[str, str] = {}
    for instance, texts in sorted(by_instance.items()):
        own = path.parent / stem / f"{_file_name(instance)}.log"
        try:
            keep(own, "".join(texts[-LOG_LINES:]))
        except OSError:
            continue
        kept[instance] = ctx.record.relative(own)
        rec.artifacts.append(kept[instance])
    return kept


def outputs_named(message: str, kept: dict[str, str]) -> str:
    """Where the record keeps the output of each instance a failure names ("instance v2-0 exited ..."), to follow
    the failure's message."""
    named = [
        f"instance {i}'s output: {path}"
        for i, path in kept.items()
        if re.search(rf"\binstance {re.escape(i)}\b", message)
    ]
    return f" ({'; '.join(named)}, in the record)" if named else ""


def _file_name(instance: str) -> str:
    """An instance's name as a file name (a Fly machine id already is one; anything else is made one)."""
    return re.sub(r"[^\w.-]", "_", instance) or "_"


def _idle(platform: Platform, env: Environment, before: int | None) -> str:
    """Why the rollout has no downtime to measure although a release exists: none of its instances
    runs (the environment was stopped). Empty when one does, or when the platform cannot say: then
    the probe measures (fail closed)."""
    if before is None:
        return ""
    try:
        instances = platform.status(env).instances
    except GatesError:
        return ""
    if any(i.healthy for i in instances):
        return ""
    return f"nothing served {env.name} before the rollout (no healthy instance of release {before}): no downtime to measure"
