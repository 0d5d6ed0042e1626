"""The instance launcher: one process of a release, started by ``[app] start``, and its readiness.

An instance runs ``sh -c "<[app] start>"`` in its release's snapshot with ``PORT`` (a free port of
127.0.0.1) and ``HOST`` set, ``[app] env``, the environment's secrets, ``DATABASE_URL``,
``APP_RELEASE`` and ``APP_INSTANCE``. It is ready when GET ``[app] health_path`` answers 2xx within
``[app] health_timeout``. The app need not say which release it is: the platform knows which
process runs which snapshot. An app that does send ``X-Release`` must send its own release.
Without ``[app] start`` the instance is the Python default: uvicorn serving ``app:app``; instances started
together are forked from one import of the server, one fork server per rollout (forkserver.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from gates.config import Config
from gates.core.errors import GatesError
from gates.core.health import RELEASE_HEADER, healthy_body
from gates.core.measurement import utcnow
from gates.core.ports import free_port
from gates.core.procs import wait_until
from gates.core.redact import redact
from gates.platforms.base import Release
from gates.platforms.errorlines import first_error
from gates.platforms.local.builds import command_env
from gates.platforms.local.forkserver import ForkServer
from gates.platforms.local.processes import process_state, running, spawn
from gates.platforms.local.state import Proc, Site, write_json
from gates.platforms.secrets import SecretStore

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclasses.dataclass(frozen=True)
class Launcher:
    """Starts the instances of one release: the app, its environment's files, its snapshot and database."""

    config: Config
    site: Site
    release: Release
    folder: Path
    db_url: str

    def start(self, index: int) -> Proc:
        """Start instance ``index`` on a free port; record it before anything can go wrong."""
        instance_id = f"v{self.release.version}-{index}"
        port = free_port()
        log = self.site.logs / f"{instance_id}.log"
        argv = self.argv(port)
        pid, ticks = spawn(argv, self.folder, self.env(instance_id, port), log)
        proc = Proc(instance_id, pid, port, self.release.version, tuple(argv), str(log), utcnow().isoformat(), ticks)
        self.site.add_instance(proc)
        self.site.event(f"instance {instance_id} started (pid {pid}, port {port})")
        return proc

    def start_together(self, indices: Sequence[int], server: ForkServer | None = None) -> list[Proc | GatesError]:
        """Start instances ``indices`` at once; each one's Proc (recorded before anything can go wrong), or why it
        did not start. With ``server`` (the Python default's rollout: ``forking``), each is forked from its one
        import of the server; otherwise started on its own."""
        if server is None:
            return [self._attempt(index) for index in indices]
        planned = [(f"v{self.release.version}-{i}", free_port()) for i in indices]
        logs = {iid: self.site.logs / f"{iid}.log" for iid, _ in planned}
        # The arguments after `python -m uvicorn`: the same command, run from the fork.
        forks = [(logs[iid], self.env(iid, port), self.argv(port)[3:]) for iid, port in planned]
        procs: list[Proc | GatesError] = []
        for (iid, port), started in zip(planned, server.fork(forks), strict=True):
            if isinstance(started, GatesError):
                procs.append(started)
                continue
            pid, ticks = started
            argv = tuple(self.argv(port))
            proc = Proc(iid, pid, port, self.release.version, argv, str(logs[iid]), utcnow().isoformat(), ticks)
            self.site.add_instance(proc)
            self.site.event(f"instance {iid} started (pid {pid}, port {port}; forked with the others of its batch)")
            procs.append(proc)
        return procs

    @contextlib.contextmanager
    def forking(self, together: int) -> Iterator[ForkServer | None]:
        """A fork server for a rollout that starts ``together`` instances at once, when they are the Python
        default's (forkserver.py); None otherwise (an ``[app] start`` command, or one instance at a time)."""
        if self.config.app.start.strip() or together < 2:
            yield None
            return
        env = self.env(f"v{self.release.version}-forks", 0)
        with ForkServer.running(sys.executable, self.folder, env, self.site.logs / "forkserver.log") as server:
            yield server

    def _attempt(self, index: int) -> Proc | GatesError:
        try:
            return self.start(index)
        except GatesError as exc:
            return exc

    def argv(self, port: int) -> list[str]:
        start = self.config.app.start.strip()
        if start:
            return ["/bin/sh", "-c", start]
        argv = [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)]
        return [*argv, "--log-config", str(_log_config(self.site)), "--timeout-graceful-shutdown", "5"]

    def env(self, instance_id: str, port: int) -> dict[str, str]:
        return {
            **command_env(self.config),
            **SecretStore(self.site.dir).values(),  # `gates secrets set`: the app's configuration
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "APP_RELEASE": str(self.release.version),
            "APP_INSTANCE": instance_id,
            "DATABASE_URL": self.db_url,
            "FRAME_ANCESTORS": self.site.frame_ancestors,
            # Snapshots are shared by releases: no __pycache__ written into them.
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }


@dataclasses.dataclass(frozen=True)
class Answer:
    """An instance's own answer to one health request: whether it is healthy, and what it was -- the status and
    what is wrong with it (``503``, ``200 (status not ok)``) or why none came (``no answer within 5s``)."""

    ok: bool
    verdict: str
    body: str = ""  # the start of the body: a failed wait's last word shows it

    def __str__(self) -> str:
        return f"{self.verdict} {self.body}".rstrip()


def health(proc: Proc, path: str, timeout: float, *, judge_body: bool = False) -> Answer:
    """The instance's own answer to GET ``path``, healthy when 2xx (and of its release, if it says); with
    ``judge_body``, also when a JSON body's status is ok, as the health molecules judge it."""
    import httpx

    from gates.core.httpclient import tls_context

    try:
        response = httpx.get(f"http://127.0.0.1:{proc.port}{path}", timeout=timeout, verify=tls_context())
    except httpx.TimeoutException as exc:
        # Told apart from an answer: a busy or hung instance, not one that said it is unwell.
        return Answer(False, f"no answer within {timeout:g}s ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return Answer(False, f"{type(exc).__name__}: {exc}")
    said = response.headers.get(RELEASE_HEADER)
    code, body = str(response.status_code), response.text[:200]
    if said is not None and said != str(proc.release):
        return Answer(False, f"{code} (X-Release {said!r}, expected {proc.release})", body)
    if judge_body and response.is_success:
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        if not healthy_body(parsed):
            return Answer(False, f"{code} (status not ok)", body)
    return Answer(response.is_success, code, body)


READY_POLL = 0.02  # seconds between two readiness checks of a starting instance, or of HAProxy's view of it


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``. Why before the health request: a refused
    connection costs microseconds of CPU, a request through httpx about 0.6 ms -- polled every READY_POLL by
    every instance of a batch while its app imports, that was a third of gates' CPU in a deploy of 8, taken
    from the instances' own starts on a busy machine."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=READY_POLL * 10):
            return True
    except OSError:
        return False


def await_healthy(proc: Proc, path: str, timeout: float, request_timeout: float) -> None:
    """Poll the instance's GET ``path`` until it answers 2xx (asked once its port accepts connections); fail fast,
    with its log, if it exits."""
    last = ["no answer yet"]

    def probe() -> str | None:
        if not running(proc):
            return "exited"
        if not listening(proc.port):
            last[0] = f"nothing accepts connections on port {proc.port} yet"
            return None
        answer = health(proc, path, request_timeout)
        last[0] = str(answer)
        return "healthy" if answer.ok else None

    what = f"instance {proc.id} (port {proc.port}) to answer GET {path} with 2xx"
    try:
        # A refused connection costs nothing: polled often, so a batch of a rollout waits no longer than its start.
        outcome = wait_until(what, probe, timeout=timeout, interval=READY_POLL)
    except GatesError as exc:
        raise GatesError(f"{exc}; last answer: {redact(last[0])}") from None
    if outcome == "exited":
        raise GatesError(
            f"instance {proc.id} exited before it was healthy ({process_state(proc.pid)}); {crash_cause(proc)}"
        )


def crash_cause(proc: Proc) -> str:
    """What an instance that died printed as its cause (its first error line, not the runtime's footer), and
    where its whole output is; the end of its output when no line states a cause."""
    try:
        output = Path(proc.log).read_text(errors="replace")
    except OSError as exc:
        return f"its output could not be read: {exc}"
    cause = first_error(output)
    said = f"its first error: {cause}" if cause else "its output ends: " + " | ".join(output.strip().splitlines()[-3:])
    return f"{redact(said)} (its output: {proc.log})"


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
    write_json(path, config)
    return path
