"""The ``deploy`` step: the app's source released to the environment under the traffic probe.

Production is deployed only after a rollback drill that passed (or was waived) in this release;
its downtime is judged by the production gate's zero_downtime molecule (a failure there rolls it
back). Any other environment is judged here, with the same verdict: a staging rollout that failed
requests fails its step, so production never meets the fault.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any

from gates import probe
from gates.config import Environment
from gates.errors import GatesError
from gates.platforms import Platform
from gates.redact import redact
from gates.release.context import Context
from gates.release.drill import require_drill
from gates.release.probed import probed
from gates.state import StepRecord

LOG_LINES = 1000  # the newest lines of the environment's logs kept with each deploy, and of each instance's own
INSTANCE_LINES = 100_000  # the newest lines read to keep each instance's own: bounded, never all
STATUS_EVERY = 2.0  # seconds between two asks of the platform for the rollout's progress


def deploy_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Deploy the app's source as a new release under the traffic probe; record the versions and the probe."""
    if env.is_production:
        require_drill(ctx, env, "deploy")
    platform = ctx.platform(env)
    if not getattr(platform, "deploys", True):
        rec.detail = (
            f"not deployed by gates: {env.name} is deployed by something else (platform {env.platform}); gated as it is"
        )
        return
    before = next((r.version for r in platform.releases(env) if r.status == "complete"), None)
    ctx.record.releases[env.name] = {"before": before, "after": None}
    try:
        progress = throttled(lambda: replaced(platform, env, before), STATUS_EVERY)
        with ctx.reporter.waiting(f"deploy {env.name}", detail=progress):
            release = probed(ctx, env, rec, before, lambda: platform.deploy(env, str(ctx.config.app_source)))
    except GatesError as exc:
        kept = keep_instance_logs(ctx, env, rec)
        raise GatesError(f"{exc}{outputs_named(str(exc), kept)}") from None
    except BaseException:
        keep_instance_logs(ctx, env, rec)
        raise
    keep_instance_logs(ctx, env, rec)
    ctx.record.releases[env.name]["after"] = release.version
    built = f" ({release.description})" if release.description else ""
    rec.detail = f"release {before} -> {release.version} ({release.ref}{built}); {rec.detail}"
    if not env.is_production:
        _judge_rollout(ctx, env, release.version)


def throttled(ask: Callable[[], str], seconds: float) -> Callable[[], str]:
    """``ask``, answered at most once per ``seconds`` (the last answer in between): a live terminal redraws every
    half second, and on Fly each answer is a `fly status` run."""
    last: list[Any] = [None, ""]

    def answer() -> str:
        now = time.monotonic()
        if last[0] is None or now - last[0] >= seconds:
            last[:] = [now, ask()]
        return str(last[1])

    return answer


def replaced(platform: Platform, env: Environment, before: int | None) -> str:
    """How far a rollout has got: the instances that run a newer release than ``before``, of the environment's."""
    instances = platform.status(env).instances
    new = sum(1 for i in instances if i.release is not None and (before is None or i.release > before))
    return f"{new} of {env.instances} instances on the new release"


def keep_instance_logs(ctx: Context, env: Environment, rec: StepRecord) -> dict[str, str]:
    """The platform's logs of the rollout into the record, secrets masked: the newest lines of every instance and
    of the rollout events together, and each instance's output since the step began in a file of its own (an
    instance that died at start is there whole, however much the others logged). Instance -> its file."""
    path = ctx.record.log(f"instances-{env.name}")
    try:
        # Read once (on Fly each read is a `fly logs`): the newest lines together, and each instance's since the step
        # began, with a second's margin (a log's timestamps may be whole seconds).
        lines = ctx.platform(env).logs(env, limit=INSTANCE_LINES)
        path.write_text(
            redact("".join(f"{line.at.isoformat()} {line.instance}: {line.message}\n" for line in lines[-LOG_LINES:]))
        )
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
        own = path.parent / f"instances-{env.name}" / f"{_file_name(instance)}.log"
        try:
            own.parent.mkdir(parents=True, exist_ok=True)
            own.write_text(redact("".join(texts[-LOG_LINES:])))
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


def _judge_rollout(ctx: Context, env: Environment, version: int) -> None:
    """The zero-downtime verdict on this rollout's probe; raise with its first problem when it failed."""
    run = probe.load(probe.probe_path(ctx.record.dir, env))
    if run.waived:
        return
    measured = probe.judge(run, version, ctx.config)
    if not measured.ok:
        first = measured.problems[0] if measured.problems else measured.summary()
        raise GatesError(f"the rollout of release {version} to {env.name} was not without downtime: {first}")
