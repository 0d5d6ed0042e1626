"""The Fly.io platform: drives flyctl (``fly``), and never believes its exit code alone.

flyctl has reported success for failed deploys (flyctl#2651, PR #4921), so every deploy and
rollback is confirmed afterwards: ``fly releases --json`` must show a new release, complete, and
``fly status --json`` must show every machine on it, judged per process group as flyctl judges it
(``machines.py``): a started machine passes its configured checks, a machine with none configured
(a worker no service routes to) is healthy when started, a machine its service auto-stops may stay
stopped or suspended (a deploy updates it without starting it).

The binary is ``$FLY_BIN`` or ``fly`` on PATH. The token is read from ``FLY_API_TOKEN`` (or
``FLY_ACCESS_TOKEN``) by flyctl itself from the environment: gates registers it as a secret and
never puts it on a command line. Every call is bounded by a timeout (``fly logs`` can hang on an
empty buffer). Rollback is ``fly deploy --image <ImageRef of an earlier complete release>
--skip-release-command``: flyctl has no ``releases rollback`` command, and without the flag the
CURRENT fly.toml's ``[deploy] release_command`` (migrations, typically) would run against the old
image. ``--strategy`` is passed only when gates.toml sets one: otherwise fly.toml's ``[deploy]
strategy`` (else flyctl's rolling) runs, the one the preflight lint judged.

Tested only against a fake ``fly`` replaying flyctl's JSON formats (tests/selftests/fakes/fly);
never against Fly.io itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gates.config import Config, Environment
from gates.core.errors import ConfigError, GatesError, UsageError
from gates.core.flyconfig import check_seconds, service_checks
from gates.core.procs import Completed, run
from gates.core.redact import register_env
from gates.platforms.base import HealthCheck, LogLine, Release, Secret, Status
from gates.platforms.flymachines import (
    IGNORED_CHECK_PREFIX,
    Machine,
    in_rotation,
    machine_counts,
    machine_verdict,
    parse_machine,
)
from gates.platforms.releases import pick

TOKEN_ENVS = ("FLY_API_TOKEN", "FLY_ACCESS_TOKEN")
FORCE_INSTANCE_HEADER = "fly-force-instance-id"
# Bounds, in seconds. A deploy waits for flyctl's own --wait-timeout (5 min by default) per machine group.
DEPLOY_TIMEOUT = 1800.0
READ_TIMEOUT = 60.0
LOGS_TIMEOUT = 30.0
# flyctl filters `fly logs` to this region when it is set (as it is on a Fly machine): gates wants every region.
REGION_ENV = "FLY_REGION"
# Without a fly.toml of its own, flyctl reads the one in its working directory: a rollback without
# fly_config runs where there is none, so flyctl deploys with the app's current remote config.
NO_FLY_TOML = "fly-cwd"
APP_NOT_FOUND = "Could not find App"  # flyctl's error for an app that does not exist (yet)
# Fly's Prometheus API for an organization (its slug): fly.io/docs/monitoring/metrics, "Querying".
PROMETHEUS_URL = "https://api.fly.io/prometheus/{org}"
_RELEASE_STATUS = {"complete": "complete", "succeeded": "complete", "running": "running", "pending": "running"}


class FlyPlatform:
    """The Platform protocol on Fly.io, through flyctl."""

    name = "fly"
    runs_locally = False  # nothing of it runs on this machine: `gates down` has nothing to stop

    @classmethod
    def validate(cls, config: Config, env: Environment, key: str) -> None:
        """A Fly environment names its Fly app and the variable holding its database URL."""
        if not env.app:
            raise ConfigError(config.path, f"{key}.app", "required for platform 'fly' (the Fly app's name)")
        if not env.database_url_env:
            raise ConfigError(config.path, f"{key}.database_url_env", "required for platform 'fly'")

    def __init__(self, config: Config, *, logs_timeout: float = LOGS_TIMEOUT) -> None:
        self.config = config
        self.binary = os.environ.get("FLY_BIN") or "fly"
        self.logs_timeout = logs_timeout
        register_env(*TOKEN_ENVS)

    # -- flyctl --------------------------------------------------------------

    def _fly(self, env: Environment, *args: str, timeout: float = READ_TIMEOUT, cwd: Path | None = None) -> Completed:
        if not any(os.environ.get(name) for name in TOKEN_ENVS):
            raise UsageError(f"FLY_API_TOKEN is not set: the fly platform of {env.name!r} needs a Fly.io token")
        log = self.config.state_dir / env.name / "logs" / "fly.log"
        # The token travels in the environment flyctl inherits, never in argv.
        environ = {k: v for k, v in os.environ.items() if k != REGION_ENV}
        return run(
            [self.binary, *args, "--app", env.app], timeout=timeout, log=log, env=environ, inherit=False, cwd=cwd
        )

    def _json(self, env: Environment, *args: str, timeout: float = READ_TIMEOUT) -> Any:
        result = self._fly(env, *args, "--json", timeout=timeout)
        try:
            return json.loads(result.stdout)
        except ValueError:
            raise GatesError(f"{result.command}: expected JSON, got {result.stdout[:120]!r}") from None

    def _config_args(self, env: Environment) -> list[str]:
        return ["--config", str(self.config.resolve(env.fly_config))] if env.fly_config else []

    def _strategy_args(self, env: Environment, strategy: str | None = None) -> list[str]:
        """``--strategy`` only when asked for or set in gates.toml: else fly.toml's, the one the lint judged, runs."""
        chosen = strategy or env.strategy
        return ["--strategy", chosen] if chosen else []

    def machines(self, env: Environment) -> list[Machine]:
        """Every machine of the app from ``fly status --json``, workers and stopped ones included."""
        return [parse_machine(m) for m in self._status_json(env).get("Machines") or []]

    def _status_json(self, env: Environment) -> Mapping[str, Any]:
        raw = self._json(env, "status")
        if not isinstance(raw, Mapping):
            raise GatesError(f"fly status --json -a {env.app}: expected an object")
        return raw

    def prometheus_url(self, env: Environment) -> str:
        """Fly's Prometheus API of the app's organization, its slug read from ``fly status --json``
        (``Organization.Slug``); GatesError naming the command when it has none."""
        org = self._status_json(env).get("Organization")
        slug = str(org.get("Slug") or "") if isinstance(org, Mapping) else ""
        if not slug:
            raise GatesError(f"fly status --json -a {env.app}: no Organization.Slug, so no Prometheus API to read")
        return PROMETHEUS_URL.format(org=slug)

    # -- the protocol ---------------------------------------------------------

    def releases(self, env: Environment) -> Sequence[Release]:
        raw = self._json(env, "releases")
        if not isinstance(raw, list):
            raise GatesError(f"fly releases --json -a {env.app}: expected a list, got {type(raw).__name__}")
        return [parse_release(r) for r in raw]

    def machine_counts(self, env: Environment) -> dict[str, int] | None:
        """Machines per process group (what ``fly scale show`` counts); None when the app does not exist yet."""
        try:
            return machine_counts(self.machines(env))
        except GatesError as exc:
            if APP_NOT_FOUND in str(exc):
                return None
            raise

    def status(self, env: Environment) -> Status:
        """The machines in rotation (served, started) as instances; the release they, else every machine, run."""
        machines = self.machines(env)
        serving = in_rotation(machines)
        versions = {m.release for m in serving or machines}
        release = versions.pop() if len(versions) == 1 else None
        return Status(env=env.name, url=env.url, release=release, instances=tuple(m.instance() for m in serving))

    def checks(self, env: Environment) -> dict[str, list[tuple[str, str]]]:
        """Machine id -> [(check name, status)] from ``fly checks list --json``."""
        raw = self._json(env, "checks", "list")
        if not isinstance(raw, Mapping):
            raise GatesError(f"fly checks list --json -a {env.app}: expected an object")
        found: dict[str, list[tuple[str, str]]] = {str(machine): [] for machine in raw}
        for check in fly_health_checks(raw, None):
            found[check.instance].append((check.name, check.status))
        return found

    def health_checks(self, env: Environment) -> Sequence[HealthCheck]:
        """Every machine's checks from ``fly checks list --json``, at the slowest service-check interval of fly.toml."""
        import tomllib

        interval = None
        if env.fly_config:
            try:
                interval = slowest_service_check(tomllib.loads(self.config.resolve(env.fly_config).read_text()))
            except (OSError, tomllib.TOMLDecodeError):
                interval = None  # unknown: the monitoring molecule fails closed on it
        return fly_health_checks(self._json(env, "checks", "list"), interval)

    def secrets(self, env: Environment) -> Sequence[Secret]:
        raw = self._json(env, "secrets", "list")
        if not isinstance(raw, list):
            raise GatesError(f"fly secrets list --json -a {env.app}: expected a list")
        # Newer flyctl prints snake_case keys, older PascalCase: accept both.
        return [
            Secret(name=str(s.get("name") or s.get("Name")), digest=str(s.get("digest") or s.get("Digest")))
            for s in raw
        ]

    def logs(self, env: Environment, since: dt.datetime | None = None, limit: int = 200) -> Sequence[LogLine]:
        """The newest page of the app's logs, every region (``--no-tail`` returns after the first page)."""
        result = self._fly(env, "logs", "--no-tail", "--json", timeout=self.logs_timeout)
        lines = [parse_log(entry) for entry in concatenated_json(result.stdout)]
        if since is not None:
            lines = [line for line in lines if line.at >= since]
        return lines[-limit:]

    def deploy(self, env: Environment, source: str, strategy: str | None = None) -> Release:
        before = self._newest(env)
        # flyctl changes into SOURCE: the Dockerfile (without [build] dockerfile) is looked up there.
        args = ["deploy", source, *self._config_args(env), *self._strategy_args(env, strategy), "--yes"]
        # Never --detach: a detached deploy skips the health checks and proves nothing.
        self._fly(env, *args, timeout=DEPLOY_TIMEOUT)
        return self._confirm(env, before)

    def rollback(self, env: Environment, to: int | None = None) -> Release:
        releases = self.releases(env)
        # Only a release with an image can be redeployed (`fly deploy --image`).
        _, target = pick([r for r in releases if r.ref], env.name, to, other_code=False)
        before = max((r.version for r in releases), default=None)
        # --skip-release-command: the current fly.toml's release_command (migrations) must not run on the old image.
        args = ["deploy", *self._config_args(env), "--image", target.ref, *self._strategy_args(env)]
        self._fly(env, *args, "--skip-release-command", "--yes", timeout=DEPLOY_TIMEOUT, cwd=self._rollback_cwd(env))
        release = self._confirm(env, before)
        said = f"fly deploy --image {target.ref} --skip-release-command: fly.toml's release_command was not run"
        return dataclasses.replace(release, description=f"{said}; {release.description}")

    def _rollback_cwd(self, env: Environment) -> Path | None:
        if env.fly_config:
            return None
        folder = self.config.state_dir / env.name / NO_FLY_TOML
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # -- confirmation ---------------------------------------------------------

    def _newest(self, env: Environment) -> int | None:
        return max((r.version for r in self.releases(env)), default=None)

    def _confirm(self, env: Environment, before: int | None) -> Release:
        """flyctl said it deployed; check that a new complete release runs, healthy, on every machine."""
        releases = self.releases(env)
        newest = max(releases, key=lambda r: r.version) if releases else None
        if newest is None or (before is not None and newest.version <= before):
            raise GatesError(f"fly deploy -a {env.app} exited 0 but no new release appeared (newest is v{before})")
        if newest.status != "complete":
            raise GatesError(f"fly deploy -a {env.app} exited 0 but release v{newest.version} is {newest.status}")
        problems, notes = machine_verdict(self.machines(env), newest.version)
        if problems:
            raise GatesError(f"fly deploy -a {env.app} exited 0 but " + "; ".join(problems + notes))
        return dataclasses.replace(newest, description="; ".join([newest.description, *notes]).strip("; "))


# ---------------------------------------------------------------------------
# flyctl's JSON, parsed (pure functions: the fake and the real flyctl print the same shapes)


def _time(value: Any) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.fromtimestamp(0, dt.UTC)


def parse_release(raw: Mapping[str, Any]) -> Release:
    """One entry of ``fly releases --json`` (PascalCase: Version, Status, ImageRef, CreatedAt...)."""
    status = str(raw.get("Status", "")).lower()
    return Release(
        version=int(raw["Version"]),
        ref=str(raw.get("ImageRef") or ""),
        created_at=_time(raw.get("CreatedAt")),
        status=_RELEASE_STATUS.get(status, "failed"),  # failed, interrupted, unknown: not a good release
        description=str(raw.get("Description") or raw.get("Reason") or ""),
    )


def fly_health_checks(data: Any, interval: float | None) -> list[HealthCheck]:
    """Checks from ``fly checks list --json`` (machine id -> [{name, status, output, updated_at}]).

    Fly's answer has no intervals: ``interval`` is the slowest service check of fly.toml
    (``slowest_service_check``), or None when unknown, which fails the check. flyctl's internal
    bluegreen checks are dropped.
    """
    if not isinstance(data, Mapping):
        return []
    found: list[HealthCheck] = []
    for machine, checks in data.items():
        for c in checks if isinstance(checks, list) else []:
            name = str(c.get("name", "")) if isinstance(c, Mapping) else ""
            if not name or name.startswith(IGNORED_CHECK_PREFIX):
                continue
            found.append(HealthCheck(str(machine), name, interval, str(c.get("status", "")), ""))
    return found


def slowest_service_check(fly_toml: Mapping[str, Any]) -> float | None:
    """The longest interval of fly.toml's routing service checks (Fly's default 15 s when unset); None without any."""
    intervals = [check_seconds(key, check.get("interval", "15s")) for key, check in service_checks(fly_toml)]
    if not intervals or any(i is None for i in intervals):
        return None
    return max(i for i in intervals if i is not None)


def concatenated_json(text: str) -> list[Mapping[str, Any]]:
    """``fly logs --json`` prints indented JSON objects one after another (not NDJSON)."""
    decoder = json.JSONDecoder()
    out: list[Mapping[str, Any]] = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        try:
            value, i = decoder.raw_decode(text, i)
        except ValueError:
            raise GatesError(f"fly logs --json: unreadable output at character {i}") from None
        if isinstance(value, Mapping):
            out.append(value)


def parse_log(raw: Mapping[str, Any]) -> LogLine:
    return LogLine(
        at=_time(raw.get("timestamp")), instance=str(raw.get("instance", "")), message=str(raw.get("message", ""))
    )
