"""The files of one local environment under the state dir: releases, instances, the rollout log."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gates.config import Config, Environment
from gates.core.errors import GatesError, UsageError
from gates.core.measurement import utcnow
from gates.core.redact import redact
from gates.platforms.admin import admin_origins, stand_in_page
from gates.platforms.base import LogLine, Release
from gates.platforms.haproxy import FrontDoor

NAME = "local"  # environments.NAME.platform of the environments this package runs


@dataclasses.dataclass(frozen=True)
class Proc:
    """One process gates started for an environment, as recorded in instances.json.

    ``ticks`` is the process's start time (clock ticks after boot, /proc/<pid>/stat): with the pid it
    names the process for good, whatever command it runs by now (``sh -c`` may exec the app). Records
    written before it existed have 0 there, and are recognised by their command line.

    ``warm``: an instance of the previous release kept running out of rotation (HAProxy ``drain``: still
    health-checked, no traffic) until the release that replaced it is confirmed: a rollback's way back.
    ``warm_until``: when a warm instance stops (ISO time, UTC), set when that release is confirmed with a
    ``keep_previous_for`` window (warm.py); empty while the release that replaced it is still running.
    """

    id: str
    pid: int
    port: int
    release: int
    argv: tuple[str, ...]
    log: str
    started_at: str
    ticks: int = 0
    warm: bool = False
    warm_until: str = ""


class Site:
    """The files of one local environment under the state dir, and its front door."""

    def __init__(self, config: Config, env: Environment) -> None:
        if env.platform != NAME:
            raise UsageError(f"{config.path}: environments.{env.name}: platform is {env.platform!r}, not {NAME!r}")
        port = urlsplit(env.url).port
        if port is None:  # the driver's validation requires a port for local environments
            raise UsageError(f"{config.path}: environments.{env.name}.url: no port in {env.url!r}")
        self.env = env
        self.dir = config.state_dir / env.name
        self.logs = self.dir / "logs"
        self.snapshots = self.dir / "snapshots"  # releases made before builds were shared between environments
        admin_port = urlsplit(env.admin_url).port if env.admin_url else None
        admin_page = stand_in_page(config, env) if admin_port else ""
        self.front = FrontDoor(
            self.dir, port, env.name, admin_port, admin_page, config.app.readiness_path, config.app.health_timeout
        )
        self.frame_ancestors = " ".join(admin_origins(config, env))
        # A rollout starts and stops instances from several threads: instances.json is updated one at a time.
        self._instances_lock = threading.Lock()

    def load_releases(self) -> list[Release]:
        """Every release, oldest first."""
        return [_release_from_json(r) for r in read_json(self.dir / "releases.json", [])]

    def save_releases(self, releases: Sequence[Release]) -> None:
        write_json(self.dir / "releases.json", [_release_to_json(r) for r in releases])

    def update_release(self, version: int, status: str) -> Release:
        releases = self.load_releases()
        updated = [dataclasses.replace(r, status=status) if r.version == version else r for r in releases]
        self.save_releases(updated)
        return next(r for r in updated if r.version == version)

    def load_instances(self) -> list[Proc]:
        return [Proc(**{**p, "argv": tuple(p["argv"])}) for p in read_json(self.dir / "instances.json", [])]

    def save_instances(self, procs: Sequence[Proc]) -> None:
        write_json(self.dir / "instances.json", [dataclasses.asdict(p) for p in procs])

    def add_instance(self, proc: Proc) -> None:
        with self._instances_lock:
            self.save_instances([*self.load_instances(), proc])

    def drop_instance(self, proc: Proc) -> None:
        with self._instances_lock:
            self.save_instances([p for p in self.load_instances() if p.id != proc.id])

    def mark_warm(self, procs: Sequence[Proc], warm: bool) -> None:
        """Record ``procs`` as kept warm (out of rotation), or back in service."""
        ids = {p.id for p in procs}
        with self._instances_lock:
            self.save_instances(
                [dataclasses.replace(p, warm=warm, warm_until="") if p.id in ids else p for p in self.load_instances()]
            )

    def warm_instances(self) -> list[Proc]:
        return [p for p in self.load_instances() if p.warm]

    def serving_instances(self) -> list[Proc]:
        """The instances in (or meant for) rotation: every recorded one but the warm set."""
        return [p for p in self.load_instances() if not p.warm]

    def event(self, message: str) -> None:
        """One line in logs/deploy.log: the rollout's own evidence."""
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / "deploy.log").open("a") as fh:
            fh.write(f"{utcnow().isoformat(timespec='milliseconds')} {redact(message)}\n")


def current_release(releases: Sequence[Release]) -> Release | None:
    """The release an environment is meant to run: the newest complete one."""
    return next((r for r in sorted(releases, key=lambda r: -r.version) if r.status == "complete"), None)


def read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default
    except ValueError as exc:
        raise GatesError(f"{path}: not valid JSON ({exc}); the local platform's state is damaged") from None


def write_json(path: Path, data: Any) -> None:
    """Write whole or not at all: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Unique per process and thread: a rollout writes from several threads at once.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def _release_to_json(release: Release) -> dict[str, Any]:
    return {**dataclasses.asdict(release), "created_at": release.created_at.isoformat()}


def _release_from_json(data: dict[str, Any]) -> Release:
    return Release(**{**data, "created_at": dt.datetime.fromisoformat(data["created_at"])})


def read_log(path: Path, source: str) -> list[LogLine]:
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
