"""The release plan and its runner.

A plan is an ordered list of steps (migrate, deploy, gate, ...). The runner
executes them in order, records each in the release's Record, and stops at
the first failure, naming the step. Gates are `pytest -m <gate>` runs in a
child process, each writing a self-contained HTML report and JUnit XML into
the record.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gates.config import Config, Environment
from gates.drill import require_drill
from gates.errors import GatesError
from gates.platforms import Platform, platform_for
from gates.platforms.base import Release
from gates.procs import STOP_GRACE, run
from gates.record import Record, StepRecord
from gates.redact import redact

GATES_ROOT = Path(__file__).resolve().parent.parent
MOLECULES = GATES_ROOT / "tests" / "molecules"
GATE_TIMEOUT = 900.0


@dataclasses.dataclass
class Context:
    """What steps share during one release."""

    config: Config
    record: Record
    workers: int = 0
    approve: bool = False  # `gates deploy --approve`: the production sign-off without a terminal
    platforms: dict[str, Platform] = dataclasses.field(default_factory=dict)
    # `gates deploy --first-release`: the rollback drill may be waived when there is nothing to roll back to.
    first_release: bool = False
    # The last gate outcome of each environment: automatic rollback names its failed molecules.
    gates: dict[str, GateOutcome] = dataclasses.field(default_factory=dict)

    def platform(self, env: Environment) -> Platform:
        if env.name not in self.platforms:
            self.platforms[env.name] = platform_for(self.config, env)
        return self.platforms[env.name]


StepFn = Callable[[Context, Environment, StepRecord], None]


@dataclasses.dataclass(frozen=True)
class Step:
    name: str
    env: str
    run: StepFn


def plan(config: Config) -> list[Step]:
    """preflight; migrate, deploy and gate each environment, staging first; the rollback drill on the
    environment just before production; production (backed up, then signed off) last; then the monitor."""
    from gates.drill import drill_step
    from gates.signoff import signoff_step

    order = sorted(config.environments.values(), key=lambda e: (e.is_production, e.name != "staging"))
    # The preflight lints what is pending for production: the last environment of the order.
    steps: list[Step] = [Step("preflight", order[-1].name, preflight_step)]
    for index, env in enumerate(order):
        if env.is_production and index > 0 and not order[index - 1].is_production:
            # Rehearse the rollback on the environment just gated, before production is touched.
            steps.append(Step("drill", order[index - 1].name, drill_step))
        # The sign-off comes after the backup, so "a proven backup of this release" can be checked.
        steps += (
            [Step("backup", env.name, backup_step), Step("signoff", env.name, signoff_step)]
            if env.is_production
            else []
        )
        steps += [
            Step("migrate", env.name, migrate_step),
            Step("deploy", env.name, deploy_step),
            Step("gate", env.name, gate_step),
        ]
    if config.monitor.window and order:
        from gates.monitor.step import monitor_step

        # After the production gate: watch the release that now serves users.
        steps.append(Step("monitor", order[-1].name, monitor_step))
    return steps


def execute(ctx: Context, steps: Sequence[Step]) -> bool:
    """Run steps in order; stop at the first failure. Return whether every step passed.

    A failed production gate after a production deploy in this release rolls production back
    (steps ``rollback`` and ``rollback-gate``) and ends the record as ``rolled_back``. An
    interrupt (Ctrl-C, SIGTERM) marks the record "interrupted at <step>" and propagates.
    """
    index = 0
    try:
        for index, step in enumerate(steps):
            env = ctx.config.environment(step.env)
            try:
                with ctx.record.step(step.name, env.name) as rec:
                    step.run(ctx, env, rec)
            except GatesError as exc:
                title = f"{step.name} {step.env}"
                rolled_back = _roll_back_after(ctx, step, env, str(exc))
                _skip(ctx, steps[index + 1 :], f"not run: {title} failed")
                if rolled_back is None:
                    ctx.record.finish("failed", f"{title} failed: {exc}")
                else:
                    ctx.record.finish("rolled_back", rolled_back)
                return False
    except KeyboardInterrupt:
        # The step the interrupt hit (a rollback step too) is the last one the record holds.
        last = ctx.record.steps[-1] if ctx.record.steps else None
        title = last.title if last else "start"
        _skip(ctx, steps[index + 1 :], f"not run: interrupted at {title}")
        ctx.record.finish("interrupted", f"interrupted at {title}")
        raise
    ctx.record.finish("passed")
    return True


def _skip(ctx: Context, steps: Sequence[Step], reason: str) -> None:
    for later in steps:
        ctx.record.skip(later.name, later.env, reason)


def _roll_back_after(ctx: Context, step: Step, env: Environment, detail: str) -> str | None:
    """After a failed production gate that followed a production deploy: roll back, gate the rolled-back release.

    Returns the record's reason when production was rolled back, None when there was nothing to do
    (or the rollback itself failed: the release then simply failed). The database is never
    rolled back: ``extra["rollback"]`` names the backup and the command that restores it.
    """
    deployed = any(s.name == "deploy" and s.env == env.name and s.outcome == "passed" for s in ctx.record.steps)
    if not (step.name == "gate" and env.is_production and deployed):
        return None
    failed = ctx.gates.get(env.name)
    backup = ctx.record.extra.get("backup", {})
    path = str(ctx.record.dir / backup["path"]) if backup.get("env") == env.name and backup.get("path") else ""
    info: dict[str, Any] = {
        "env": env.name,
        "from": ctx.record.releases.get(env.name, {}).get("after"),
        "to": ctx.record.releases.get(env.name, {}).get("before"),
        "reason": detail,
        "failed": list(failed.failed) if failed else [],
        "gate_passed": False,
        "backup": backup["path"] if path else "",
        "restore_command": f"gates restore --env {env.name} --backup {path} --yes" if path else "",
    }
    ctx.record.extra["rollback"] = info
    try:
        with ctx.record.step("rollback", env.name) as rec:
            rollback_step(ctx, env, rec)
    except GatesError:
        return None
    try:
        with ctx.record.step("rollback-gate", env.name) as rec:
            rollback_gate_step(ctx, env, rec)
    except GatesError:
        pass
    verdict = "passed" if info["gate_passed"] else "FAILED too"
    return (
        f"{env.name} gate failed on release {info['from']}: {detail}; rolled back to release {info['to']} "
        f"(serving as release {info['release']}), whose gate {verdict}; the database was not rolled back"
    )


# ---------------------------------------------------------------------------
# Steps


def migrate_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Apply pending migrations with the Supabase CLI, then read the history back."""
    from gates.database import prepare_database
    from gates.database.migrate import migrate

    backup = ctx.record.extra.get("backup", {})
    if env.is_production and not (backup.get("verified") and backup.get("env") == env.name):
        raise GatesError(f"refusing to migrate {env.name}: no proven backup of it was taken in this release")
    if env.is_production:
        require_drill(ctx, env, "migrate")
    url = prepare_database(ctx.config, env)
    log = ctx.record.log(f"migrate-{env.name}")
    rec.artifacts.append(ctx.record.relative(log))
    rec.detail = migrate(ctx.config, url, log)


def backup_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """pg_dump the environment's database into the record and prove it by a scratch restore."""
    from gates.database.backup import backup_environment

    if env.is_production:
        require_drill(ctx, env, "back up")
    log = ctx.record.log(f"backup-{env.name}")
    rec.artifacts.append(ctx.record.relative(log))
    backup = backup_environment(ctx.config, env, ctx.record.dir / "backups" / f"{env.name}.dump", log)
    ctx.record.extra["backup"] = {**backup.as_dict(), "path": ctx.record.relative(Path(backup.path)), "env": env.name}
    rec.artifacts.append(ctx.record.relative(Path(backup.path)))
    rec.detail = (
        f"{backup.bytes} bytes, sha256 {backup.sha256[:12]}, {backup.tables} tables / {backup.rows} rows restored"
    )


def preflight_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Run `pytest -m preflight` against the environment (what is pending for it) before anything changes."""
    from gates.database import prepare_database

    prepare_database(ctx.config, env)  # the lint asks the database which migrations are still pending
    outcome = run_gate(ctx.config, env, "preflight", ctx.record.dir, "preflight", None, ctx.workers)
    rec.artifacts += [ctx.record.relative(p) for p in outcome.artifacts]
    rec.detail = outcome.detail
    if not outcome.passed:
        raise GatesError(outcome.detail)


def deploy_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Deploy the app's source as a new release under the traffic probe; record the versions and the probe."""
    if env.is_production:
        require_drill(ctx, env, "deploy")
    platform = ctx.platform(env)
    before = next((r.version for r in platform.releases(env) if r.status == "complete"), None)
    ctx.record.releases[env.name] = {"before": before, "after": None}
    release = probed(ctx, env, rec, before, lambda: platform.deploy(env, str(ctx.config.app_source)))
    ctx.record.releases[env.name]["after"] = release.version
    rec.detail = f"release {before} -> {release.version} ({release.ref}); {rec.detail}"


def probed(
    ctx: Context, env: Environment, rec: StepRecord, before: int | None, rollout: Callable[[], Release], kind: str = ""
) -> Release:
    """Run ``rollout`` (a deploy, a rollback) under the traffic probe; keep its file in the record and its
    summary in ``extra["probe"][env]`` (``kind`` names a second probe of the environment: ``rollback``)."""
    from gates.probe import Probe, ProbeRun

    path = probe_path(ctx.record.dir, env, kind)
    rec.artifacts.append(ctx.record.relative(path))
    probe = Probe(ctx.config, env, path, before, _idle(ctx.platform(env), env, before)).start()

    def keep(run: ProbeRun) -> ProbeRun:
        key = f"{env.name}-{kind}" if kind else env.name
        ctx.record.extra.setdefault("probe", {})[key] = {"path": ctx.record.relative(path), **run.summary()}
        return run

    try:
        release = rollout()
    except GatesError as exc:
        # A failed rollout must leave the old release serving: the probe watches it do so.
        raise GatesError(f"{exc}; {keep(probe.finish()).describe()}") from None
    except BaseException:
        keep(probe.finish(settle=False))
        raise
    probe.deployed(release.version)
    rec.detail = keep(probe.finish()).describe()
    return release


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


def probe_path(out: Path, env: Environment, kind: str = "") -> Path:
    """Where a step keeps the traffic probe of ``env``'s rollout: ``probe-<env>[.<kind>].jsonl``."""
    return out / f"probe-{env.name}{'.' + kind if kind else ''}.jsonl"


def latest_probe(out: Path, env: Environment) -> Path | None:
    """The newest probe file of ``env`` in ``out``: the rollout the environment serves now."""
    found = [p for p in (probe_path(out, env), *out.glob(f"probe-{env.name}.*.jsonl")) if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None


def gate_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Run the environment's gate as `pytest -m <gate>` with an HTML report in the record."""
    expected = ctx.record.releases.get(env.name, {}).get("after")
    _gate_into(ctx, env, rec, f"{env.name}-gate", expected)


def rollback_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Roll the environment back to the release that served before this release's deploy."""
    info = ctx.record.extra["rollback"]
    if info["to"] is None:
        raise GatesError(f"{env.name}: nothing to roll back to: release {info['from']} is its first release")
    platform = ctx.platform(env)
    # Under the traffic probe too: the rollback gate's zero_downtime molecule judges this rollout.
    release = probed(ctx, env, rec, info["from"], lambda: platform.rollback(env, to=info["to"]), kind="rollback")
    info["release"] = release.version
    rec.detail = (
        f"release {info['from']} -> {info['to']} (serving it as release {release.version}); "
        f"database not rolled back; {rec.detail}"
    )
    if info["restore_command"]:
        rec.detail += f"; to restore it from this release's backup: {info['restore_command']}"


def rollback_gate_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Gate the rolled-back release: the environment's gate, expecting the release the rollback made."""
    info = ctx.record.extra["rollback"]
    try:
        _gate_into(ctx, env, rec, f"{env.name}-rollback-gate", info["release"])
        info["gate_passed"] = True
    finally:
        ctx.record.write()


def gate_marker(env: Environment) -> str:
    return "production" if env.is_production else "staging"


def _gate_into(ctx: Context, env: Environment, rec: StepRecord, stem: str, expected: int | None) -> None:
    outcome = run_gate(ctx.config, env, gate_marker(env), ctx.record.dir, stem, expected, ctx.workers)
    ctx.gates[env.name] = outcome
    rec.artifacts += [ctx.record.relative(p) for p in outcome.artifacts]
    rec.detail = outcome.detail
    if not outcome.passed:
        raise GatesError(outcome.detail)


@dataclasses.dataclass(frozen=True)
class GateOutcome:
    passed: bool
    detail: str
    failed: tuple[str, ...]
    artifacts: tuple[Path, ...]


def gate_command(
    config: Config, env: Environment, marker: str, out: Path, stem: str, expected: int | None, workers: int
) -> list[str]:
    args = [
        sys.executable, "-m", "pytest", str(MOLECULES),
        "-m", marker, "--env", env.name, "--gates-config", str(config.path),
        f"--html={out / (stem + '.html')}", "--self-contained-html",
        f"--junitxml={out / (stem + '.xml')}", f"--measurements={out / (stem + '-measurements.jsonl')}",
        "--rootdir", str(GATES_ROOT), "-c", str(GATES_ROOT / "pyproject.toml"),
        "-p", "no:cacheprovider", "-q", "-rfE", "--color=no",
    ]  # fmt: skip
    if expected is not None:
        args += ["--expect-release", str(expected)]
    probe = latest_probe(out, env)
    if probe is not None:  # only the zero_downtime molecule (production) reads it
        args += ["--probe-samples", str(probe)]
    if workers:
        args += ["-n", str(workers)]
    return args


def run_gate(
    config: Config,
    env: Environment,
    marker: str,
    out: Path,
    stem: str,
    expected: int | None = None,
    workers: int = 0,
    env_vars: Mapping[str, str] | None = None,
) -> GateOutcome:
    """Run one gate in a child pytest; its exit code and JUnit XML give the verdict."""
    log = out / "logs" / f"{stem}.log"
    args = gate_command(config, env, marker, out, stem, expected, workers)
    advisors = _prefetch_advisors(config, env, marker, out / f"{stem}-advisors.json")
    if advisors is not None:
        args += ["--advisors-report", str(advisors[0])]
    try:
        result = run(args, timeout=GATE_TIMEOUT, cwd=GATES_ROOT, log=log, check=False, env=env_vars)
    except subprocess.SubprocessError as exc:  # pragma: no cover - run() converts the usual ones
        raise GatesError(f"gate {marker} on {env.name}: {exc}") from None
    except BaseException:
        if advisors is not None:  # interrupted: do not wait out the CLI's whole timeout
            advisors[1].join(timeout=STOP_GRACE)
        raise
    if advisors is not None:
        advisors[1].join()  # bounded by the CLI's own timeout; usually done long before the gate
    extra = (advisors[0],) if advisors is not None and advisors[0].exists() else ()
    artifacts = tuple(p for p in (out / f"{stem}.html", out / f"{stem}.xml", log, *extra) if p.exists())
    counts, failed = _junit_summary(out / f"{stem}.xml")
    if result.returncode == 0 and counts.get("tests", 0) > 0:
        return GateOutcome(True, f"{counts['tests']} molecules passed", (), artifacts)
    if result.returncode == 0 or result.returncode == 5:
        # Fail closed: a gate that ran nothing proved nothing.
        return GateOutcome(False, f"gate {marker} on {env.name} ran no molecule", (), artifacts)
    if failed:
        names = "; ".join(failed[:5])
        return GateOutcome(
            False, f"{len(failed)} of {counts.get('tests', '?')} molecules failed: {names}", failed, artifacts
        )
    tail = " | ".join(result.output.strip().splitlines()[-3:])
    return GateOutcome(
        False, f"gate {marker} on {env.name} could not run (exit {result.returncode}): {tail}", (), artifacts
    )


def _prefetch_advisors(
    config: Config, env: Environment, marker: str, path: Path
) -> tuple[Path, threading.Thread] | None:
    """Start `supabase db advisors` for a whole staging or production gate (the gates with the advisors
    molecule) in a thread, now: it runs on the core the child pytest leaves idle while it starts up,
    instead of after the browser molecules. None when the database cannot be named (the molecule then
    reports that itself)."""
    if marker not in ("staging", "production"):
        return None
    from gates.checks.advisors import prefetch
    from gates.database import database_url
    from gates.database.exposed import exposed_schemas

    try:
        url = database_url(config, env)
        schemas = exposed_schemas(config).schemas
    except GatesError:
        return None
    path.unlink(missing_ok=True)  # a run left by an earlier gate of this record is not this gate's
    kwargs = {"read_only": env.is_production, "schemas": schemas}
    thread = threading.Thread(target=prefetch, args=(url, path), kwargs=kwargs, name="gates-advisors", daemon=True)
    thread.start()
    return path, thread


def _junit_summary(path: Path) -> tuple[dict[str, int], tuple[str, ...]]:
    """Test counts and 'name: first line of message' for each failed or errored molecule."""
    if not path.is_file():
        return {}, ()
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return {}, ()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return {}, ()
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    failed: list[str] = []
    for case in suite.iter("testcase"):
        for tag in ("failure", "error"):
            node = case.find(tag)
            if node is not None:
                failed.append(redact(f"{case.get('name')}: {_first_cause(node.get('message') or node.text or tag)}"))
    return counts, tuple(failed)


def _first_cause(message: str) -> str:
    """A failure's first line, with its first listed problem: the summary alone ("0 of 1 false")
    would not name the cause in the record, the notifications or the incident report."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "failed"
    if len(lines) > 1 and lines[1].startswith("- "):
        return f"{lines[0]} -- {lines[1][2:]}"
    return lines[0]
