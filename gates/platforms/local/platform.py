"""The local platform: numbered releases of an app, built once, run as processes behind HAProxy.

An environment is ``env.instances`` processes of the app (``[app] start``, see launcher.py), each
on a free port of 127.0.0.1, behind one HAProxy on the port of ``env.url``. A deploy builds a
snapshot of the app (builds.py) and rolls it out (rollout.py); a rollback rolls out an earlier
snapshot as a new release, as Fly does, unless the previous release is still warm (kept running out
of rotation, ``keep_previous``): then it is a traffic switch back to it. Once the release is confirmed
the warm set stays for ``keep_previous_for`` (warm.py says what stops it then). Processes outlive the
gates call that started them; ``down`` stops them.

Loading the config loads this module (its driver checks the keys of local environments): what
only deploys and status need (psycopg, httpx) is imported where it is used, so that stays quick.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from gates.config import Config, Environment
from gates.core.errors import ConfigError, GatesError, UsageError
from gates.core.measurement import utcnow
from gates.core.redact import register_secret
from gates.platforms.base import BuildResult, HealthCheck, LogLine, Release, Secret, Status, WarmSet
from gates.platforms.local import launcher, warm
from gates.platforms.local.builds import build, prune, release_folder
from gates.platforms.local.memory import instances_rss
from gates.platforms.local.processes import front_door_pid, running, stop, stop_instance
from gates.platforms.local.rollout import Rollout, check_strategy, switch_traffic
from gates.platforms.local.sitelock import locked
from gates.platforms.local.state import NAME, Proc, Site, current_release, read_log
from gates.platforms.local.view import check_state, instance_view
from gates.platforms.releases import pick
from gates.platforms.secrets import SecretStore

HEALTH_TIMEOUT = 30.0  # seconds a new instance has to answer its health path with 2xx


class LocalPlatform:
    """Deploy, roll back and inspect releases of ``config``'s app on local environments."""

    name = NAME
    runs_locally = True  # its processes are on this machine: `gates down` stops them, `gates secrets` stores here

    @classmethod
    def validate(cls, config: Config, env: Environment, key: str) -> None:
        """A local environment's URL has its port, and its Admin stand-in another one."""
        port = urlsplit(env.url).port
        if port is None:
            raise ConfigError(
                config.path, f"{key}.url", "the local platform needs an explicit port, e.g. http://127.0.0.1:8081"
            )
        if env.admin_url and urlsplit(env.admin_url).port in (None, port):
            raise ConfigError(
                config.path, f"{key}.admin_url", "the local platform serves the Admin on its own port, not the app's"
            )
        if env.max_surge is not None and env.max_surge < 1:
            raise ConfigError(config.path, f"{key}.max_surge", f"expected at least 1 instance, got {env.max_surge}")
        if env.max_unavailable is not None and not 0 <= env.max_unavailable < env.instances:
            raise ConfigError(
                config.path, f"{key}.max_unavailable",
                f"expected 0 to {env.instances - 1} (one of the {env.instances} instances always serves), "
                f"got {env.max_unavailable}",
            )  # fmt: skip

    @classmethod
    def down(cls, config: Config) -> list[str]:
        return down(config)

    def __init__(self, config: Config, *, health_timeout: float = HEALTH_TIMEOUT) -> None:
        self.config = config
        self.health_timeout = health_timeout

    def build(self, env: Environment, source: str | None = None) -> BuildResult:
        """The built snapshot of ``source`` (default: ``[app] source``), built now or reused."""
        return build(self.config, env, self.config.resolve(source) if source else None)

    def deploy(self, env: Environment, source: str, strategy: str | None = None) -> Release:
        """Build ``source`` as the next release and roll it out; GatesError if it does not build or come up."""
        chosen = check_strategy(strategy or env.rollout_strategy)
        folder = self.config.resolve(source)
        _check_source(self.config, folder)
        db_url = self._database_url(env)
        site = Site(self.config, env)
        with _locked(site):
            self._stop_expired(site)
            built = build(self.config, env, folder)
            release = self._record(site, built.ref, built.commit, built.describe())
            return self._roll_out(site, release, chosen, db_url, keep=env.keeps_previous)

    def releases(self, env: Environment) -> Sequence[Release]:
        """Every release of the environment, newest first."""
        return sorted(Site(self.config, env).load_releases(), key=lambda r: -r.version)

    def rollback(self, env: Environment, to: int | None = None) -> Release:
        """Back to release ``to`` (default: the newest complete release before the current one): by a traffic
        switch when its instances are warm (inside their window) and healthy (the release itself is returned,
        its description saying how soon it served), else rolled out anew as a new release."""
        return self._rollback(env, to, keep=False)

    def rollback_keeping_warm(self, env: Environment, to: int) -> Release:
        """The rollback drill's way back: release ``to`` rolled out anew, always (a redeploy is what the drill
        rehearses), and the instances it replaces kept warm, out of rotation and with no window, so that
        ``rollback(env, to=<the release left>)`` is then a switch back to them. Never a switch to a warm ``to``
        (``keep_previous`` keeps the release before warm after a deploy): that would mark the release being promoted
        rolled back and stop it. A warm set already there stops first (one at most)."""
        return self._rollback(env, to, keep=True)

    def _rollback(self, env: Environment, to: int | None, *, keep: bool) -> Release:
        called = time.monotonic()
        site = Site(self.config, env)
        if site.dir.is_dir():  # when it was asked, before any wait: what a switch's speed is judged from (the bench)
            site.event(f"rollback of {env.name} asked" + (f" (to release {to})" if to is not None else ""))
        chosen = check_strategy(env.rollout_strategy)
        db_url = self._database_url(env)
        with _locked(site):
            # instances.json read once: the switch, when it is one, comes straight after the checks before it.
            now, procs = utcnow(), site.load_instances()
            ended = warm.expired([p for p in procs if p.warm], now)
            if ended:  # a warm set past its window is no way back: it stops, the rollback redeploys
                self._stop_expired(site, now)
                procs = site.load_instances()
            target = rollback_target(site.load_releases(), to, env.name)
            if not keep and self._warm_and_healthy(site, [p for p in procs if p.warm], target):
                return self._switch_to_warm(site, target, procs, db_url, called)
            drill = "the rollback drill's way back, the release it leaves kept warm for the way forward"
            why = drill if keep else warm.why_redeploy(site.warm_instances(), ended, target.version)
            folder = release_folder(self.config, site.snapshots, target.ref)
            if not folder.is_dir():
                # Checked before anything is recorded or started: a rollback that cannot run changes nothing.
                raise GatesError(
                    f"{env.name}: cannot roll back to release {target.version}: its snapshot {folder} is gone "
                    "(the state folder was cleaned); nothing was changed"
                )
            release = self._record(site, target.ref, target.commit, f"rollback to v{target.version}: redeploy, {why}")
            return self._roll_out(site, release, chosen, db_url, keep=keep)

    def release_confirmed(self, env: Environment) -> list[str]:
        """The release passed its gate and monitor: the previous release's warm set stays for ``keep_previous_for``
        (its deadline stamped, a reaper started: warm.py), or stops now when the window is off; say which."""
        site = Site(self.config, env)
        if not site.dir.is_dir() or not site.warm_instances():
            return []
        with _locked(site):
            if env.keep_previous_seconds > 0 and site.warm_instances():
                said = [self._open_window(site, env.keep_previous_seconds)]
            else:
                said = self._rollout(site, current_release(site.load_releases()), "").settle()
            site.event("release confirmed: " + ("; ".join(said) or "no warm instance left"))
            return said

    def let_warm_go(self, env: Environment) -> list[str]:
        """Stop the previous release's warm set now, whatever its window (it is not good: no rollback may switch
        back to it), and its reaper; say what stopped."""
        site = Site(self.config, env)
        if not site.dir.is_dir() or not site.warm_instances():
            return []
        with _locked(site):
            said = self._rollout(site, current_release(site.load_releases()), "").settle()
            warm.stop_reaper(site)
            site.event("warm set let go (not good): " + ("; ".join(said) or "no warm instance left"))
            return said

    def warm(self, env: Environment) -> WarmSet | None:
        """The previous release kept warm for an instant rollback, the memory its processes hold, and when it stops
        (an expired one is stopped first)."""
        self.stop_expired(env)
        site = Site(self.config, env)
        procs = [p for p in site.warm_instances() if running(p)] if site.dir.is_dir() else []
        if not procs:
            return None
        until = min((d for p in procs if (d := warm.deadline(p)) is not None), default=None)
        return WarmSet(procs[0].release, len(procs), sum(instances_rss(procs).values()), until)

    def stop_expired(self, env: Environment, *, wait: float = 0.0, at: dt.datetime | None = None) -> list[str]:
        """Stop the warm instances whose window ended (at ``at``, default now); say what stopped. Waits ``wait``
        seconds for the deploy lock; when a deploy or rollback holds it longer, nothing is done (it stops them)."""
        site = Site(self.config, env)
        if not site.dir.is_dir() or not warm.expired(site.warm_instances(), at or utcnow()):
            return []
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(locked(site.dir / "deploy.lock", f"the deploy lock of {env.name}", wait))
            except GatesError:
                return []
            return self._stop_expired(site, at)
        return []  # pragma: no cover - mypy: the ExitStack may swallow exceptions

    def prune_builds(self, good: Collection[str]) -> list[str]:
        """Remove the builds and snapshots no release can return to; keep ``good`` (the refs of the last good
        releases, judged by gates/release/goodness.py), and in every local environment the current release's and every
        running instance's (serving or warm). The refs removed."""
        keep = set(good)
        for env in self.config.environments.values():
            if env.platform != NAME:
                continue
            site = Site(self.config, env)
            releases = site.load_releases()
            current = current_release(releases)
            running_releases = {p.release for p in site.load_instances()}
            keep |= {r.ref for r in releases if r.version in running_releases or r is current}
        return prune(self.config, keep)

    def repair(self, env: Environment) -> list[str]:
        """After a gates process died mid-rollout: one release serving again, the unfinished one failed."""
        from gates.platforms.local.repair import repair

        site = Site(self.config, env)
        if not site.dir.is_dir():
            return []
        with _locked(site):
            said = repair(self.config, env, self._database_url(env), self.health_timeout)
            # The release that would have confirmed a warm set died: its window starts now (or it stops now).
            if [p for p in site.warm_instances() if not p.warm_until]:
                if env.keep_previous_seconds > 0:
                    said.append(self._open_window(site, env.keep_previous_seconds))
                else:
                    said += self._rollout(site, current_release(site.load_releases()), "").settle()
            return said

    def status(self, env: Environment) -> Status:
        """The current release and every instance with its health, seen directly and by HAProxy; the warm
        previous release's instances apart (out of rotation, they are not what the environment serves)."""
        self.stop_expired(env)
        site = Site(self.config, env)
        current = current_release(site.load_releases())
        stats = site.front.servers_or_none() if front_door_pid(site.front) else None
        instances = tuple(instance_view(self.config, p, stats) for p in site.serving_instances())
        kept = tuple(instance_view(self.config, p, stats) for p in site.warm_instances())
        from gates.database import database_url, uses_local_cluster

        db = database_url(self.config, env) if uses_local_cluster(env) else ""
        return Status(env.name, env.url, current.version if current else None, instances, db, kept)

    def secrets(self, env: Environment) -> Sequence[Secret]:
        """Names and digests of the environment's secrets (``gates secrets set``); never values."""
        return SecretStore(Site(self.config, env).dir).list()

    def health_checks(self, env: Environment) -> Sequence[HealthCheck]:
        """HAProxy's check of every instance in rotation: its interval and state, read through the runtime API.
        A warm previous release is out of rotation on purpose (draining): it is not what the environment serves."""
        self.stop_expired(env)
        site = Site(self.config, env)
        if not front_door_pid(site.front):
            return []
        kept = {p.id for p in site.warm_instances()}
        return [
            HealthCheck(name, f"haproxy httpchk GET {site.front.health_path}", interval, check_state(status), check)
            for name, interval, status, check in site.front.health_checks()
            if name not in kept
        ]

    def logs(self, env: Environment, since: dt.datetime | None = None, limit: int = 200) -> Sequence[LogLine]:
        """The last ``limit`` lines of every instance's log and of the rollout log, oldest first."""
        lines: list[LogLine] = []
        for path in sorted(Site(self.config, env).logs.glob("*.log")):
            lines += read_log(path, path.stem)
        lines.sort(key=lambda line: line.at)  # stable: lines of one file keep their order within a second
        if since is not None:
            since = since if since.tzinfo else since.replace(tzinfo=dt.UTC)  # naive means UTC
            lines = [line for line in lines if line.at >= since]
        return lines[-limit:] if limit > 0 else []

    # -- internals -------------------------------------------------------------

    def _database_url(self, env: Environment) -> str:
        from gates.database import database_url

        # A missing variable is a usage error: let it through before anything changes.
        url = database_url(self.config, env)
        register_secret(url)
        return url

    def _record(self, site: Site, ref: str, commit: str, description: str) -> Release:
        releases = site.load_releases()
        version = max((r.version for r in releases), default=0) + 1
        release = Release(version, ref, utcnow(), "running", commit, description)
        site.save_releases([*releases, release])
        site.event(f"release {version} ({ref}) created{': ' + description if description else ''}")
        return release

    def _rollout(self, site: Site, release: Release | None, db_url: str, *, keep: bool = False) -> Rollout:
        if release is None:  # pragma: no cover - a warm set exists only beside a complete release
            raise GatesError(f"{site.env.name}: no complete release")
        folder = release_folder(self.config, site.snapshots, release.ref)
        return Rollout(launcher.Launcher(self.config, site, release, folder, db_url), self.health_timeout, keep=keep)

    def _warm_and_healthy(self, site: Site, kept: Sequence[Proc], target: Release) -> bool:
        """Whether every warm instance (``kept``) is of ``target``, runs, and passes HAProxy's health check
        (``DRAIN``: up, out of rotation); else the rollback redeploys. HAProxy's view is read once: it costs no
        request."""
        stats = site.front.servers_or_none() if kept and front_door_pid(site.front) else None
        return (
            bool(kept)
            and stats is not None
            and all(
                p.release == target.version and running(p) and p.id in stats and stats[p.id].status == "DRAIN"
                for p in kept
            )
        )

    def _switch_to_warm(
        self, site: Site, target: Release, procs: Sequence[Proc], db_url: str, called: float
    ) -> Release:
        """Put the warm instances of ``target`` back in rotation and drain and stop the others (the release left
        is not kept warm: no warm set remains); the releases after ``target`` are marked rolled back, so
        ``target`` is current again. Returned with a description saying how soon after the call it served."""
        kept = [p for p in procs if p.warm]
        others = [p for p in procs if not p.warm]
        # The switch first; what records it (the log, instances.json, releases.json) follows: none of it is
        # needed for the previous release to serve, and all of it is time the bad release would go on serving.
        switched = switch_traffic(site, kept, others)
        site.event(f"rollback to release {target.version}: warm switch")
        left = sorted({p.release for p in others})
        self._rollout(site, target, db_url).finish_switch(kept, others)
        warm.stop_reaper(site)  # nothing warm is left for it
        for release in site.load_releases():
            if release.version > target.version and release.status == "complete":
                site.update_release(release.version, "rolled_back")
        said = (
            f"warm switch: release {target.version} in rotation {(switched - called) * 1000:.0f} ms after the call; "
            f"release {', '.join(map(str, left)) or 'none'} drained and stopped, not kept warm"
        )
        site.event(f"release {target.version} serves again ({said})")
        return dataclasses.replace(target, description=said)

    def _open_window(self, site: Site, seconds: float) -> str:
        """Stamp the warm set's deadline, ``seconds`` from now, and start the reaper that stops it then."""
        until = warm.stamp(site, seconds, utcnow())
        warm.start_reaper(self.config, site, until)
        release = site.warm_instances()[0].release
        return f"release {release} stays warm until {until.isoformat(timespec='seconds')} (keep_previous_for)"

    def _stop_expired(self, site: Site, at: dt.datetime | None = None) -> list[str]:
        """Under the deploy lock: stop the warm instances whose window ended; say what stopped."""
        gone = warm.expired(site.warm_instances(), at or utcnow())
        if not gone:
            return []
        said = self._rollout(site, current_release(site.load_releases()), "").settle(gone)
        site.event("warm window ended: " + "; ".join(said))
        return said

    def _roll_out(self, site: Site, release: Release, strategy: str, db_url: str, *, keep: bool = False) -> Release:
        """Run the strategy; mark the release complete, or failed with what serves now."""
        site.event(f"release {release.version}: {strategy} rollout to {site.env.instances} instance(s)")
        warm.stop_reaper(site)  # the rollout stops the warm set first (one at most): its reaper is told now
        try:
            self._rollout(site, release, db_url, keep=keep).run(strategy)
        except BaseException as exc:
            site.update_release(release.version, "failed")
            site.event(f"release {release.version} failed: {exc}")
            if isinstance(exc, GatesError):
                back = self._put_back(site, db_url)
                raise GatesError(
                    f"{site.env.name}: release {release.version} ({release.ref}) failed: {exc}; {back}now serving: "
                    f"{_serving(site)}"
                ) from None
            raise
        site.event(f"release {release.version} complete")
        return site.update_release(release.version, "complete")

    def _put_back(self, site: Site, db_url: str) -> str:
        """After a failed rollout: the environment serves exactly one release again, the one that served before
        (whole, on its instance count), never half the new one beside half the old. Says how it went."""
        from gates.platforms.local.repair import repair

        try:
            said = repair(self.config, site.env, db_url, self.health_timeout, restart=True)
        except GatesError as exc:
            return f"putting the previous release back failed too: {exc}; "
        return f"put back: {'; '.join(said)}; " if said else ""


def _locked(site: Site) -> contextlib.AbstractContextManager[None]:
    return locked(site.dir / "deploy.lock", f"the deploy lock of {site.env.name}")


def _check_source(config: Config, folder: Path) -> None:
    if not folder.is_dir():
        raise UsageError(f"{folder}: app source folder not found")
    if not config.app.start.strip() and not (folder / "app.py").is_file():
        raise UsageError(
            f"{folder}: no app.py, and no [app] start command; without one the local platform runs "
            "`python -m uvicorn app:app` in the app folder"
        )


def rollback_target(releases: Sequence[Release], to: int | None, env_name: str) -> Release:
    """The release a rollback redeploys: ``to``, or the newest complete release older than the current one."""
    return pick(releases, env_name, to, other_code=False)[1]


def _serving(site: Site) -> str:
    procs = [p for p in site.load_instances() if running(p)]
    if not procs:
        return "no instance"
    return ", ".join(f"{p.id} (release {p.release})" for p in procs)


def down(config: Config) -> list[str]:
    """Stop every instance (its whole process group) and HAProxy gates started for the config's local
    environments; say what stopped."""
    stopped: list[str] = []
    for env in config.environments.values():
        if env.platform != NAME:
            continue
        site = Site(config, env)
        if site.dir.is_dir() and warm.stop_reaper(site):  # first: it must not act on what is being stopped
            stopped.append(f"{env.name}: the warm set's reaper")
        for proc in site.load_instances():
            if stop_instance(proc):
                stopped.append(f"{env.name}: instance {proc.id} (pid {proc.pid}, port {proc.port})")
        if site.dir.is_dir():
            site.save_instances([])
        pid = site.front.pid()
        if pid is not None and stop(pid, site.front.is_own):
            stopped.append(f"{env.name}: HAProxy (pid {pid}, port {site.front.port})")
        if front_door_pid(site.front) is None:
            site.front.forget()
    return stopped
