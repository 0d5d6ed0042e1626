"""The local platform: numbered releases of an app folder, run as uvicorn processes behind HAProxy.

An environment is ``env.instances`` processes of ``python -m uvicorn app:app``, each on a free
port of 127.0.0.1, behind one HAProxy on the port of ``env.url`` (see ``gates.platforms.haproxy``).
A deploy snapshots the app folder (content-addressed, immutable) and rolls it out; a rollback rolls
out an earlier snapshot as a new release, as Fly does. Processes outlive the gates call that
started them; ``down`` stops them.

State, under ``config.state_dir / env.name``::

    releases.json        every release, oldest first (version, ref, created_at, status, commit, description)
    instances.json       every process gates started and has not stopped yet (id, pid, port, release, argv)
    snapshots/<ref>/     the app folder of a release, as deployed (ref = sha256 of its content, 12 hex)
    haproxy.cfg, haproxy.pid, haproxy.sock, admin.html (the Admin stand-in on admin_url's port)
    uvicorn-log.json     the logging config of the instances (timestamped lines)
    logs/<instance>.log  each instance's output; logs/deploy.log the rollout steps; logs/haproxy.log
    deploy.lock          held (flock) during deploy and rollback
    secrets.json         `gates secrets set` values (0600), given to instances as environment variables
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from gates.admin import admin_origins, stand_in_page
from gates.checks.http import healthy_body
from gates.config import Config, Environment
from gates.database import database_url, uses_local_cluster
from gates.errors import GatesError, UsageError
from gates.platforms.base import HealthCheck, Instance, LogLine, Release, Secret, Status
from gates.platforms.haproxy import FrontDoor, ServerStat
from gates.platforms.secrets import SecretStore
from gates.procs import run, wait_until
from gates.redact import redact, register_secret
from gates.rollback import pick

STRATEGIES_BUILT = ("rolling", "immediate", "bluegreen", "canary")
HEALTH_PATH = "/health"
IGNORED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".git", ".venv", "node_modules", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".temp"
)
# Bounds of every wait of a rollout, in seconds.
HEALTH_TIMEOUT = 30.0  # a new instance answers GET /health with 200 and its release
PLACE_TIMEOUT = 10.0  # HAProxy reports a placed instance UP
DRAIN_TIMEOUT = 30.0  # a draining instance finishes its requests
STOP_TIMEOUT = 8.0  # a process exits after SIGTERM (uvicorn's graceful shutdown is bounded at 5 s)
REMOVE_TIMEOUT = 5.0  # HAProxy lets go of a stopped server's connections
LOCK_TIMEOUT = 10.0  # another deploy of the same environment finishes
PROBE_TIMEOUT = 1.0  # one direct GET /health of an instance
CANARY_TIMEOUT = 15.0  # the canary passes CANARY_CHECKS health checks in a row while taking traffic
CANARY_CHECKS = 5
# Instances get only these variables from the gates process: its environment holds other
# environments' secrets (PRODUCTION_DB_URL must never reach a staging process).
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "PYTHONPATH", "SSL_CERT_FILE")


# ---------------------------------------------------------------------------
# State of one environment


@dataclasses.dataclass(frozen=True)
class Proc:
    """One process gates started for an environment, as recorded in instances.json."""

    id: str
    pid: int
    port: int
    release: int
    argv: tuple[str, ...]
    log: str
    started_at: str


class Site:
    """The files of one local environment under the state dir, and its front door."""

    def __init__(self, config: Config, env: Environment) -> None:
        if env.platform != "local":
            raise UsageError(f"{config.path}: environments.{env.name}: platform is {env.platform!r}, not 'local'")
        port = urlsplit(env.url).port
        if port is None:  # config validation requires a port for local environments
            raise UsageError(f"{config.path}: environments.{env.name}.url: no port in {env.url!r}")
        self.env = env
        self.dir = config.state_dir / env.name
        self.logs = self.dir / "logs"
        self.snapshots = self.dir / "snapshots"
        admin_port = urlsplit(env.admin_url).port if env.admin_url else None
        self.front = FrontDoor(self.dir, port, env.name, admin_port, stand_in_page(config, env) if admin_port else "")
        self.frame_ancestors = " ".join(admin_origins(config, env))

    def load_releases(self) -> list[Release]:
        """Every release, oldest first."""
        return [_release_from_json(r) for r in _read_json(self.dir / "releases.json", [])]

    def save_releases(self, releases: Sequence[Release]) -> None:
        _write_json(self.dir / "releases.json", [_release_to_json(r) for r in releases])

    def update_release(self, version: int, status: str) -> Release:
        releases = self.load_releases()
        updated = [dataclasses.replace(r, status=status) if r.version == version else r for r in releases]
        self.save_releases(updated)
        return next(r for r in updated if r.version == version)

    def load_instances(self) -> list[Proc]:
        return [Proc(**{**p, "argv": tuple(p["argv"])}) for p in _read_json(self.dir / "instances.json", [])]

    def save_instances(self, procs: Sequence[Proc]) -> None:
        _write_json(self.dir / "instances.json", [dataclasses.asdict(p) for p in procs])

    def add_instance(self, proc: Proc) -> None:
        self.save_instances([*self.load_instances(), proc])

    def drop_instance(self, proc: Proc) -> None:
        self.save_instances([p for p in self.load_instances() if p.id != proc.id])

    def event(self, message: str) -> None:
        """One line in logs/deploy.log: the rollout's own evidence."""
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / "deploy.log").open("a") as fh:
            fh.write(f"{_now().isoformat(timespec='milliseconds')} {redact(message)}\n")


def current_release(releases: Sequence[Release]) -> Release | None:
    """The release an environment is meant to run: the newest complete one."""
    return next((r for r in sorted(releases, key=lambda r: -r.version) if r.status == "complete"), None)


# ---------------------------------------------------------------------------
# The platform


class LocalPlatform:
    """Deploy, roll back and inspect releases of ``config``'s app on local environments."""

    def __init__(self, config: Config, *, health_timeout: float = HEALTH_TIMEOUT) -> None:
        self.config = config
        self.health_timeout = health_timeout

    def deploy(self, env: Environment, source: str, strategy: str | None = None) -> Release:
        """Snapshot ``source`` as the next release and roll it out; GatesError if it does not come up."""
        chosen = _check_strategy(strategy or env.strategy)
        folder = self.config.resolve(source)
        _check_source(folder)
        db_url = self._database_url(env)
        site = Site(self.config, env)
        with _locked(site):
            ref = snapshot(folder, site.snapshots)
            release = self._record(site, ref, _git_commit(folder), "")
            return self._roll_out(site, release, chosen, db_url)

    def releases(self, env: Environment) -> Sequence[Release]:
        """Every release of the environment, newest first."""
        return sorted(Site(self.config, env).load_releases(), key=lambda r: -r.version)

    def rollback(self, env: Environment, to: int | None = None) -> Release:
        """Roll out release ``to`` (default: the newest complete release before the current one) as a new release."""
        chosen = _check_strategy(env.strategy)
        db_url = self._database_url(env)
        site = Site(self.config, env)
        with _locked(site):
            target = rollback_target(site.load_releases(), to, env.name)
            release = self._record(site, target.ref, target.commit, f"rollback to v{target.version}")
            return self._roll_out(site, release, chosen, db_url)

    def status(self, env: Environment) -> Status:
        """The current release and every instance with its health, seen directly and by HAProxy."""
        site = Site(self.config, env)
        current = current_release(site.load_releases())
        stats = site.front.servers_or_none() if _front_door_pid(site) else None
        instances = tuple(_instance_view(p, stats) for p in site.load_instances())
        db = database_url(self.config, env) if uses_local_cluster(env) else ""
        return Status(env.name, env.url, current.version if current else None, instances, db)

    def secrets(self, env: Environment) -> Sequence[Secret]:
        """Names and digests of the environment's secrets (``gates secrets set``); never values."""
        return SecretStore(Site(self.config, env).dir).list()

    def health_checks(self, env: Environment) -> Sequence[HealthCheck]:
        """HAProxy's check of every instance: its interval and state, read through the runtime API."""
        site = Site(self.config, env)
        if not _front_door_pid(site):
            return []
        return [
            HealthCheck(name, "haproxy httpchk GET /health", interval, _check_state(status), check)
            for name, interval, status, check in site.front.health_checks()
        ]

    def logs(self, env: Environment, since: dt.datetime | None = None, limit: int = 200) -> Sequence[LogLine]:
        """The last ``limit`` lines of every instance's log and of the rollout log, oldest first."""
        lines: list[LogLine] = []
        for path in sorted(Site(self.config, env).logs.glob("*.log")):
            lines += _read_log(path, path.stem)
        lines.sort(key=lambda line: line.at)  # stable: lines of one file keep their order within a second
        if since is not None:
            since = since if since.tzinfo else since.replace(tzinfo=dt.UTC)  # naive means UTC
            lines = [line for line in lines if line.at >= since]
        return lines[-limit:] if limit > 0 else []

    # -- internals -------------------------------------------------------------

    def _database_url(self, env: Environment) -> str:
        # A missing variable is a usage error: let it through before anything changes.
        url = database_url(self.config, env)
        register_secret(url)
        return url

    def _record(self, site: Site, ref: str, commit: str, description: str) -> Release:
        releases = site.load_releases()
        version = max((r.version for r in releases), default=0) + 1
        release = Release(version, ref, _now(), "running", commit, description)
        site.save_releases([*releases, release])
        site.event(f"release {version} ({ref}) created{': ' + description if description else ''}")
        return release

    def _roll_out(self, site: Site, release: Release, strategy: str, db_url: str) -> Release:
        """Run the strategy; mark the release complete, or failed with what serves now."""
        rollout = Rollout(site, release, db_url, self.health_timeout)
        site.event(f"release {release.version}: {strategy} rollout to {site.env.instances} instance(s)")
        try:
            rollout.ensure_front_door()
            strategies = {"rolling": rollout.rolling, "immediate": rollout.immediate}
            strategies |= {"bluegreen": rollout.bluegreen, "canary": rollout.canary}
            strategies[strategy]()
        except BaseException as exc:
            site.update_release(release.version, "failed")
            site.event(f"release {release.version} failed: {exc}")
            if isinstance(exc, GatesError):
                raise GatesError(
                    f"{site.env.name}: release {release.version} ({release.ref}) failed: {exc}; now serving: {_serving(site)}"
                ) from None
            raise
        site.event(f"release {release.version} complete")
        return site.update_release(release.version, "complete")


def _check_state(haproxy_status: str) -> str:
    """HAProxy's server status in Fly's words: UP passing, a transition (``UP 1/2``) warning, else critical."""
    if haproxy_status == "UP":
        return "passing"
    return "warning" if haproxy_status.startswith(("UP ", "DOWN ")) else "critical"


def _check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES_BUILT:
        raise GatesError(
            f"the local platform's {strategy!r} strategy is not built yet (built: {', '.join(STRATEGIES_BUILT)})"
        )
    return strategy


def _check_source(folder: Path) -> None:
    if not folder.is_dir():
        raise UsageError(f"{folder}: app source folder not found")
    if not (folder / "app.py").is_file():
        raise UsageError(f"{folder}: no app.py; the local platform runs `python -m uvicorn app:app` in the app folder")


def rollback_target(releases: Sequence[Release], to: int | None, env_name: str) -> Release:
    """The release a rollback redeploys: ``to``, or the newest complete release older than the current one."""
    return pick(releases, env_name, to, other_code=False)[1]


# ---------------------------------------------------------------------------
# Rollouts


class Rollout:
    """The steps of rolling one release out to one environment."""

    def __init__(self, site: Site, release: Release, db_url: str, health_timeout: float) -> None:
        self.site = site
        self.release = release
        self.db_url = db_url
        self.health_timeout = health_timeout

    def rolling(self) -> None:
        """One at a time: start a new instance, put it in rotation, drain and stop an old one."""
        old = self.site.load_instances()
        for index in range(self.site.env.instances):
            self.launch(index)
            if index < len(old):
                self.retire(old[index], drain=True)
        for proc in old[self.site.env.instances :]:
            self.retire(proc, drain=True)

    def immediate(self) -> None:
        """Stop every old instance, then start the new ones: downtime in between, on purpose."""
        for proc in self.site.load_instances():
            self.retire(proc, drain=False)
        for index in range(self.site.env.instances):
            self.launch(index)

    def bluegreen(self) -> None:
        """Start the whole new set beside the old one, taking no traffic; switch every server at once; stop the old."""
        old = self.site.load_instances()
        new: list[Proc] = []
        try:
            for index in range(self.site.env.instances):
                new.append(self.launch(index, state="drain"))
        except BaseException:
            for proc in new:  # never took traffic: stop them, the old set serves on
                self.retire(proc, drain=False)
            raise
        front = self.site.front
        # New ones ready before old ones drain: for a moment both serve, never neither.
        for proc in new:
            front.set_state(proc.id, "ready")
        for proc in old:
            front.set_state(proc.id, "drain")
        self.site.event(f"switched traffic to release {self.release.version} ({', '.join(p.id for p in new)})")
        for proc in old:
            self.retire(proc, drain=True)

    def canary(self) -> None:
        """One new instance beside the old ones; once it keeps passing its health check under traffic, roll the rest."""
        old = self.site.load_instances()
        first = self.launch(0)
        try:
            self.gate_canary(first)
        except BaseException:
            self.retire(first, drain=True)
            raise
        for index in range(1, self.site.env.instances):
            if index - 1 < len(old):
                self.retire(old[index - 1], drain=True)
            self.launch(index)
        for proc in old[max(self.site.env.instances - 1, 0) :]:
            self.retire(proc, drain=True)

    def gate_canary(self, proc: Proc) -> None:
        """The canary answers CANARY_CHECKS health checks in a row with its release, and HAProxy keeps it UP."""
        streak = [0]
        last = ["no answer yet"]

        def passing() -> bool:
            last[0], ok = _health(proc.port, proc.release)
            stat = self.site.front.servers().get(proc.id)
            ok = ok and stat is not None and stat.status == "UP"
            streak[0] = streak[0] + 1 if ok else 0
            return streak[0] >= CANARY_CHECKS

        what = f"canary {proc.id} to pass {CANARY_CHECKS} health checks in a row while in rotation"
        try:
            wait_until(what, passing, timeout=CANARY_TIMEOUT)
        except GatesError as exc:
            raise GatesError(f"{exc}; last answer: {redact(last[0])}") from None
        self.site.event(f"canary {proc.id} passed {CANARY_CHECKS} health checks in a row; rolling the rest")

    def ensure_front_door(self) -> None:
        """Start HAProxy when it is not running, and put back the instances that still run."""
        if _front_door_pid(self.site):
            return
        self.site.front.start(self.site.logs / "haproxy.log")
        self.site.event(f"HAProxy started on 127.0.0.1:{self.site.front.port}")
        for proc in self.site.load_instances():
            if _running(proc):
                self.site.front.add(proc.id, proc.port)

    def launch(self, index: int, state: str = "ready") -> Proc:
        """Start instance ``index`` of the release, wait for it to be healthy, and place it in HAProxy:
        in rotation (``ready``), or checked but taking no traffic yet (``drain``)."""
        proc = self.start(index)
        try:
            self.await_healthy(proc)
            self.site.front.add(proc.id, proc.port, state)
            self.site.front.wait_status(proc.id, "UP" if state == "ready" else "DRAIN", PLACE_TIMEOUT)
        except BaseException:
            self.site.event(f"instance {proc.id} failed to come up; stopping it")
            # Clean up as far as possible, but never hide why the instance failed.
            with contextlib.suppress(OSError, GatesError):
                self.remove_from_front_door(proc)
                stop(proc.pid, started_as(proc))
                self.site.drop_instance(proc)
            raise
        self.site.event(f"instance {proc.id} (pid {proc.pid}, port {proc.port}) is {state} in HAProxy")
        return proc

    def start(self, index: int) -> Proc:
        """Start one instance process on a free port; record it before anything can go wrong."""
        instance_id = f"v{self.release.version}-{index}"
        port = _free_port()
        folder = self.site.snapshots / self.release.ref
        log = self.site.logs / f"{instance_id}.log"
        argv = [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--log-config", str(_log_config(self.site)), "--timeout-graceful-shutdown", "5"]
        pid = spawn(argv, folder, self.instance_env(instance_id), log)
        proc = Proc(instance_id, pid, port, self.release.version, tuple(argv), str(log), _now().isoformat())
        self.site.add_instance(proc)
        self.site.event(f"instance {instance_id} started (pid {pid}, port {port})")
        return proc

    def instance_env(self, instance_id: str) -> dict[str, str]:
        passed = {k: v for k, v in os.environ.items() if k in PASSED_ENV}
        return {
            **passed,
            **SecretStore(self.site.dir).values(),  # `gates secrets set`: the app's configuration
            "APP_RELEASE": str(self.release.version),
            "APP_INSTANCE": instance_id,
            "DATABASE_URL": self.db_url,
            "FRAME_ANCESTORS": self.site.frame_ancestors,
            # Snapshots are immutable: no __pycache__ written into them.
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }

    def await_healthy(self, proc: Proc) -> None:
        """Poll the instance's own GET /health until it answers 200 with this release; fail fast if it exits."""
        last = ["no answer yet"]

        def probe() -> str | None:
            if not _running(proc):
                return None if _starting(proc) else "exited"
            last[0], ok = _health(proc.port, proc.release)
            return "healthy" if ok else None

        what = f"instance {proc.id} (port {proc.port}) to answer GET {HEALTH_PATH} with 200 and release {proc.release}"
        try:
            outcome = wait_until(what, probe, timeout=self.health_timeout)
        except GatesError as exc:
            raise GatesError(f"{exc}; last answer: {redact(last[0])}") from None
        if outcome == "exited":
            tail = " | ".join(Path(proc.log).read_text(errors="replace").strip().splitlines()[-3:])
            raise GatesError(
                f"instance {proc.id} exited before it was healthy ({_process_state(proc.pid)}); "
                f"its log ends: {redact(tail)}"
            )

    def retire(self, proc: Proc, *, drain: bool) -> None:
        """Take an old instance out of rotation (after its requests finish, when draining) and stop it."""
        front = self.site.front
        if drain and _running(proc) and front.set_state(proc.id, "drain"):
            try:
                front.wait_idle(proc.id, DRAIN_TIMEOUT)
            except GatesError as exc:
                # Its requests outlived the bound: stop it anyway; uvicorn still finishes them gracefully.
                self.site.event(f"instance {proc.id}: {exc}; stopping it anyway")
        front.set_state(proc.id, "maint")
        stop(proc.pid, started_as(proc))
        self.remove_from_front_door(proc)
        self.site.drop_instance(proc)
        self.site.event(f"instance {proc.id} (release {proc.release}) stopped")

    def remove_from_front_door(self, proc: Proc) -> None:
        """Delete the server once HAProxy has let go of its connections; leave it in maint if it will not."""
        front = self.site.front
        if not front.set_state(proc.id, "maint"):
            return
        try:
            wait_until(f"HAProxy to delete server {proc.id}", lambda: front.remove(proc.id), timeout=REMOVE_TIMEOUT)
        except GatesError as exc:
            self.site.event(f"{exc}; it stays in maintenance")


def _health(port: int, release: int, judge_body: bool = False) -> tuple[str, bool]:
    """The instance's answer to GET /health, and whether it is 200 from ``release`` (and, judging the body as the
    health molecules do, with a JSON status that is ok)."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}{HEALTH_PATH}", timeout=PROBE_TIMEOUT)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}", False
    answer = f"{response.status_code} {response.text[:200]}"
    try:
        body: Any = response.json()
    except ValueError:
        return answer, False
    ok = response.status_code == 200 and isinstance(body, dict) and body.get("release") == release
    return answer, ok and (not judge_body or healthy_body(body))


def _serving(site: Site) -> str:
    procs = [p for p in site.load_instances() if _running(p)]
    if not procs:
        return "no instance"
    return ", ".join(f"{p.id} (release {p.release})" for p in procs)


def _instance_view(proc: Proc, stats: dict[str, ServerStat] | None) -> Instance:
    """One instance as status reports it: healthy when it answers GET /health itself and HAProxy has it UP."""
    alive = _running(proc)
    answer, ok = _health(proc.port, proc.release, judge_body=True) if alive else ("process not running", False)
    stat = (stats or {}).get(proc.id)
    front_view = "HAProxy not running" if stats is None else stat.status if stat else "not in HAProxy"
    return Instance(
        id=proc.id,
        release=proc.release,
        state=front_view if alive else "stopped",
        healthy=alive and ok and front_view == "UP",
        address=f"127.0.0.1:{proc.port}",
        pid=proc.pid,
        port=proc.port,
        checks=((f"GET {HEALTH_PATH}", answer.split(" ")[0] if alive else answer), ("haproxy", front_view)),
    )


# ---------------------------------------------------------------------------
# Snapshots


def snapshot(source: Path, snapshots: Path) -> str:
    """Copy ``source`` into ``snapshots/<ref>`` unless that content is already there; return ref."""
    ref = content_ref(source)
    target = snapshots / ref
    if not target.is_dir():
        staging = snapshots / f".incoming-{ref}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging, ignore=IGNORED)
        staging.rename(target)  # atomic: a snapshot is whole or absent
    return ref


def content_ref(source: Path) -> str:
    """The first 12 hex digits of a sha256 over every file's relative path and bytes."""
    digest = hashlib.sha256()
    for path in _files(source):
        digest.update(str(path.relative_to(source)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        ignored = IGNORED(root, [*dirs, *files])
        dirs[:] = sorted(d for d in dirs if d not in ignored)
        found += [Path(root) / f for f in sorted(files) if f not in ignored]
    return found


def _git_commit(folder: Path) -> str:
    """The commit the source is at, if it is in a git repository."""
    try:
        result = run(["git", "-C", str(folder), "rev-parse", "HEAD"], timeout=10, check=False)
    except GatesError:  # git not installed
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


# ---------------------------------------------------------------------------
# Processes


# Reads the environment of the process on stdin: neither in its own environment (gates' whole
# environment would leak into it) nor in argv (visible to every user of the machine).
_LAUNCHER = """\
import json, os, sys
cwd, log, *argv = sys.argv[1:]
env = json.load(sys.stdin)
os.chdir(cwd)
out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
null = os.open(os.devnull, os.O_RDONLY)
actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, out, 2)]
print(os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True))
"""


def spawn(argv: Sequence[str], cwd: Path, env: dict[str, str], log: Path) -> int:
    """Start a detached process (own session, output to ``log``) that outlives gates; return its pid.

    A short-lived launcher starts it, so the process is not gates' child: nothing of gates has to
    reap it, and it keeps running whatever happens to the gates process.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    launcher = [sys.executable, "-I", "-c", _LAUNCHER, str(cwd), str(log), *argv]
    result = run(launcher, timeout=10, input=json.dumps(env))
    return int(result.stdout.strip())


def _cmdline(pid: int) -> list[str]:
    """A process's command line; empty when there is no such process or it is a zombie."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1] if raw else []


def started_as(proc: Proc) -> Callable[[list[str]], bool]:
    """Whether a command line is the one gates started ``proc`` with (a reused pid runs something else)."""
    return lambda cmdline: cmdline == list(proc.argv)


def _running(proc: Proc) -> bool:
    return started_as(proc)(_cmdline(proc.pid))


def _process_state(pid: int) -> str:
    """What /proc says of ``pid`` now: evidence for an instance that did not come up."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return f"pid {pid}: no such process"
    return f"pid {pid}: state {state}, command line {' '.join(_cmdline(pid))[:120]!r}"


def _starting(proc: Proc) -> bool:
    """A live process whose command line is still being set up by execve: empty, or a part of ours.

    posix_spawn returns once the child has let go of the parent's memory, before the kernel has
    written the new program's arguments; on a loaded machine a first look at /proc/<pid>/cmdline
    can find it empty or cut short, which is not an exit.
    """
    try:
        stat = Path(f"/proc/{proc.pid}/stat").read_text()
        raw = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[:1]
    expected = b"".join(arg.encode() + b"\0" for arg in proc.argv)
    return state not in (["Z"], ["X"], []) and raw != expected and expected.startswith(raw)


def stop(pid: int, is_ours: Callable[[list[str]], bool]) -> bool:
    """SIGTERM a process we started, then SIGKILL after STOP_TIMEOUT; False when it was not running."""
    if not is_ours(_cmdline(pid)):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    try:
        wait_until(f"process {pid} to exit after SIGTERM", lambda: not is_ours(_cmdline(pid)), timeout=STOP_TIMEOUT)
    except GatesError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_until(f"process {pid} to exit after SIGKILL", lambda: not is_ours(_cmdline(pid)), timeout=STOP_TIMEOUT)
    return True


def _front_door_pid(site: Site) -> int | None:
    pid = site.front.pid()
    return pid if pid is not None and site.front.is_own(_cmdline(pid)) else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _locked(site: Site) -> Iterator[None]:
    """Hold the environment's deploy lock; GatesError naming the holder if it is not free in time."""
    site.dir.mkdir(parents=True, exist_ok=True)
    path = site.dir / "deploy.lock"
    with path.open("a+") as fh:
        fh.seek(0)
        holder = fh.read().strip() or "another process"

        def take() -> bool:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        wait_until(f"the deploy lock of {site.env.name} ({path}, held by {holder})", take, timeout=LOCK_TIMEOUT)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} since {_now().isoformat(timespec='seconds')}\n")
            fh.flush()
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def down(config: Config) -> list[str]:
    """Stop every instance and HAProxy gates started for the config's local environments; say what stopped."""
    stopped: list[str] = []
    for env in config.environments.values():
        if env.platform != "local":
            continue
        site = Site(config, env)
        for proc in site.load_instances():
            if stop(proc.pid, started_as(proc)):
                stopped.append(f"{env.name}: instance {proc.id} (pid {proc.pid}, port {proc.port})")
        if site.dir.is_dir():
            site.save_instances([])
        pid = site.front.pid()
        if pid is not None and stop(pid, site.front.is_own):
            stopped.append(f"{env.name}: HAProxy (pid {pid}, port {site.front.port})")
        if _front_door_pid(site) is None:
            site.front.forget()
    return stopped


# ---------------------------------------------------------------------------
# Files


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default
    except ValueError as exc:
        raise GatesError(f"{path}: not valid JSON ({exc}); the local platform's state is damaged") from None


def _write_json(path: Path, data: Any) -> None:
    """Write whole or not at all: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def _release_to_json(release: Release) -> dict[str, Any]:
    return {**dataclasses.asdict(release), "created_at": release.created_at.isoformat()}


def _release_from_json(data: dict[str, Any]) -> Release:
    return Release(**{**data, "created_at": dt.datetime.fromisoformat(data["created_at"])})


_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _log_config(site: Site) -> Path:
    """A uvicorn logging config whose lines start with an ISO timestamp, so ``logs`` can order them."""
    path = site.dir / "uvicorn-log.json"
    fmt = {"format": _LOG_FORMAT, "datefmt": "%Y-%m-%dT%H:%M:%S%z"}
    handler = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": fmt},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }
    _write_json(path, config)
    return path


def _read_log(path: Path, source: str) -> list[LogLine]:
    """A log's lines; one without a leading timestamp (a traceback line) takes the previous line's time."""
    lines: list[LogLine] = []
    at = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    for text in path.read_text(errors="replace").splitlines():
        stamp, _, rest = text.partition(" ")
        parsed = _timestamp(stamp)
        at, message = (parsed, rest) if parsed else (at, text)
        lines.append(LogLine(at, source, redact(message)))
    return lines


def _timestamp(word: str) -> dt.datetime | None:
    """``word`` as a timestamp with a time zone, else None (a naive one could not be ordered with the others)."""
    try:
        parsed = dt.datetime.fromisoformat(word)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
