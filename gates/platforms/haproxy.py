"""HAProxy as the front door of a local environment: its config, its start, its runtime API.

One HAProxy per environment listens on the environment's port and balances one backend,
``app``. The config declares no server: instances are added, drained and removed at run time
through the admin socket, so a rollout never reloads HAProxy and never drops a connection.

What this relies on, checked on HAProxy 2.6.12:

- ``add server app/NAME 127.0.0.1:PORT check ...`` answers ``New server registered.``; a dynamic
  server does not inherit ``default-server``, so its check options are given inline; it starts
  in maintenance with checks off until ``enable health`` and ``set server ... state ready``.
- ``option httpchk`` of the backend applies to dynamic servers (``check_status`` L7OK).
- Without ``timeout check`` a whole check (connect and answer) must end within ``inter`` (200 ms here): a
  busy machine's healthy app then fails its checks (``L7TOUT``) and goes DOWN. With it, connecting is bounded
  by ``inter`` and the answer by ``timeout check``: the backend's is ``[app] health_timeout``, the clock by
  which the deploy declared the instance ready and by which the gate asks it.
- ``set server ... state drain|maint|ready`` answers nothing on success.
- Several commands on one line, separated by ``;``, run in order on one connection; each reply ends with an
  empty line (a command that says nothing answers a lone newline), so each command's reply is told apart.
- ``del server`` answers ``Server deleted.``, and refuses a server that is not in maintenance or
  still has connections.
- Every error is a text reply with a successful exchange (``No such server.``): replies are checked.
- ``stats socket`` refuses a path longer than 97 bytes (it binds a temporary name first): a deep
  state folder gets its socket in a short folder of /tmp instead.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import os
import shutil
import socket
import stat
from collections.abc import Sequence
from pathlib import Path

from gates.core.errors import GatesError
from gates.core.procs import run, wait_until

BACKEND = "app"
# A new instance is UP within about 20 ms of being placed, a dead one out of rotation within ~0.4 s.
# ``downinter``: a server not UP (a new instance, just added; a dead one) is checked every 20 ms, so a new one
# takes traffic as soon as it answers, not up to ``inter`` later: that was 0.2 s of every batch of a rolling
# deploy.
SERVER_CHECK = "check inter 200ms downinter 20ms fall 2 rise 1"
STATUS_POLL = 0.01  # seconds between two reads of a server's status (one admin-socket command)
_SOCKET_PATH_MAX = 97  # bytes HAProxy 2.6 accepts for a stats socket path
# /tmp, not $TMPDIR: the fallback path must be short whatever the environment says.
_SHORT_ROOT = Path("/tmp")
_API_TIMEOUT = 5.0
# HAProxy's check_status codes that a failed check leaves, in words.
_CHECK_RESULTS = {
    "L4CON": "connection refused or reset",
    "L4TOUT": "no connection in time",
    "L7TOUT": "no answer in time",
    "L7RSP": "not an HTTP answer",
    "L7STS": "answered an error status",
    "L7OK": "answered 2xx",
    "INI": "none yet",
}
_START_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class ServerStat:
    """HAProxy's view of one server: its status (UP, DOWN, DRAIN, MAINT, "UP 1/2", ...) and sessions."""

    name: str
    status: str
    sessions: int
    check: str

    def describe(self) -> str:
        """Its status and what its last check found: ``DOWN (last check: no answer in time, L7TOUT)``."""
        code = self.check.lstrip("* ")  # "* " marks a check in progress
        said = _CHECK_RESULTS.get(code)
        return f"{self.status} (last check: {f'{said}, {code}' if said else code or 'none yet'})"


class AdminSocketDown(GatesError):
    """HAProxy's admin socket does not answer: HAProxy is not running (or not yet)."""


class FrontDoor:
    """The HAProxy of one environment, its files in ``folder``."""

    def __init__(
        self,
        folder: Path,
        port: int,
        env_name: str,
        admin_port: int | None = None,
        admin_html: str = "",
        health_path: str = "/health",
        check_timeout: float = 5.0,
    ) -> None:
        self.folder = folder
        self.health_path = health_path
        self.check_timeout = check_timeout  # seconds a check's answer may take ([app] health_timeout)
        self.port = port
        self.env_name = env_name
        # The Admin stand-in: a second frontend answering every request with one static page.
        self.admin_port = admin_port
        self.admin_html = admin_html
        self.admin_path = folder / "admin.html"
        self.config_path = folder / "haproxy.cfg"
        self.pid_path = folder / "haproxy.pid"
        self.socket_path = _socket_path(folder)

    # -- process ---------------------------------------------------------------

    def render(self) -> str:
        """The config: one frontend on the environment's port, one backend with no server yet, the Admin page."""
        config = _CONFIG.format(
            env=self.env_name,
            socket=self.socket_path,
            port=self.port,
            backend=BACKEND,
            health=self.health_path,
            check_timeout=f"{max(1, round(self.check_timeout * 1000))}ms",
        )
        if self.admin_port is not None:
            config += _ADMIN.format(port=self.admin_port, page=self.admin_path)
        return config

    def argv(self) -> list[str]:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        return [binary, "-f", str(self.config_path), "-D", "-p", str(self.pid_path)]

    def is_own(self, cmdline: list[str]) -> bool:
        """Whether a process command line is this front door's HAProxy (its config path names it)."""
        return bool(cmdline) and Path(cmdline[0]).name == "haproxy" and str(self.config_path) in cmdline

    def pid(self) -> int | None:
        """The pid HAProxy wrote at start, if any (the caller checks the process is still this one)."""
        try:
            return int(self.pid_path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def start(self, log: Path) -> None:
        """Write the config and start HAProxy as a daemon; return once its admin socket answers."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.socket_path.parent != self.folder:
            _private_folder(self.socket_path.parent)
        self.config_path.write_text(self.render())
        if self.admin_port is not None:
            self.admin_path.write_text(self.admin_html)
        if not Path(self.argv()[0]).exists():
            raise GatesError("haproxy not found: the local platform needs it (apt-get install haproxy)")
        result = run(self.argv(), timeout=_START_TIMEOUT, log=log, check=False)
        if result.returncode != 0:
            # HAProxy's reasons are its ALERT lines; the last lines only say that there were errors.
            alerts = [line.split(" : ", 1)[-1] for line in result.output.splitlines() if "[ALERT]" in line]
            reason = " | ".join(alerts) or result.output.strip()[-500:]
            raise GatesError(f"{self.env_name}: HAProxy did not start on 127.0.0.1:{self.port}: {reason}")
        wait_until(f"the admin socket of HAProxy ({self.socket_path})", self.answers, timeout=_START_TIMEOUT)

    def forget(self) -> None:
        """Remove the files of a stopped HAProxy: pidfile, socket, and the short socket folder if it has one."""
        self.pid_path.unlink(missing_ok=True)
        self.socket_path.unlink(missing_ok=True)
        if self.socket_path.parent != self.folder:
            with contextlib.suppress(OSError):
                self.socket_path.parent.rmdir()

    # -- runtime API -------------------------------------------------------------

    def command(self, line: str) -> str:
        """Send one runtime API command; return HAProxy's reply (it closes the connection after it).
        A socket that does not answer (HAProxy gone) is AdminSocketDown, naming the environment and the socket."""
        return self._exchange(line).strip()

    def _exchange(self, line: str) -> str:
        """One connection: ``line`` sent, HAProxy's whole reply back, unstripped."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(_API_TIMEOUT)
                sock.connect(str(self.socket_path))
                sock.sendall(line.encode() + b"\n")
                chunks: list[bytes] = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise AdminSocketDown(f"HAProxy of {self.env_name}: admin socket {self.socket_path}: {exc}") from None
        return b"".join(chunks).decode(errors="replace")

    def servers(self) -> dict[str, ServerStat]:
        """Every server of the backend, from ``show stat``."""
        reply = self.command("show stat")
        if not reply.startswith("# pxname,"):
            raise GatesError(f"HAProxy of {self.env_name}: unexpected reply to 'show stat': {reply[:200]!r}")
        rows = csv.DictReader(reply[2:].splitlines())
        return {
            row["svname"]: ServerStat(
                row["svname"], row["status"], int(row["scur"] or 0), row.get("check_status") or ""
            )
            for row in rows
            if row["pxname"] == BACKEND and row["svname"] not in ("BACKEND", "FRONTEND")
        }

    def health_checks(self) -> list[tuple[str, float, str, str]]:
        """(server, check interval in seconds, status, last check result) of every server of the backend.

        The status and result come from ``show stat``; HAProxy 2.6's runtime API does not report a
        server's ``inter``, so the interval is the one gates gave every server it added (SERVER_CHECK).
        """
        interval = check_interval(SERVER_CHECK)
        return [(s.name, interval, s.status, s.check) for s in self.servers().values()]

    def servers_or_none(self) -> dict[str, ServerStat] | None:
        """``servers()``, or None while HAProxy does not answer (a probe for ``wait_until``)."""
        try:
            return self.servers()
        except AdminSocketDown:
            return None

    def answers(self) -> bool:
        """Whether the admin socket answers (with no server yet, ``servers()`` is an empty dict)."""
        return self.servers_or_none() is not None

    def add(self, name: str, port: int, state: str = "ready") -> None:
        """Add an instance as a server, checks on: ``ready`` takes traffic once its check passes,
        ``drain`` is checked but takes none until it is set ready (a blue-green switch)."""
        self._expect(f"add server {BACKEND}/{name} 127.0.0.1:{port} {SERVER_CHECK}", "New server registered.")
        self._expect(f"enable health {BACKEND}/{name}", "")
        self._expect(f"set server {BACKEND}/{name} state {state}", "")

    def set_state(self, name: str, state: str) -> bool:
        """Set a server ready, drain or maint; False when HAProxy has no such server."""
        return self.set_states([(name, state)])[0]

    def set_states(self, changes: Sequence[tuple[str, str]]) -> list[bool]:
        """Set servers ready, drain or maint, in the order given, through one connection (one line of commands
        separated by ';', which HAProxy runs one after the other): a switch of traffic is one exchange with
        HAProxy, not one per server. Per change, False when HAProxy has no such server; GatesError on any
        other reply."""
        if not changes:
            return []
        lines = [f"set server {BACKEND}/{name} state {state}" for name, state in changes]
        raw = self._exchange(";".join(lines))
        replies = [""] if raw == "" and len(lines) == 1 else split_replies(raw, len(lines))
        if replies is None:
            raise GatesError(f"HAProxy of {self.env_name}: {';'.join(lines)!r}: unexpected reply {raw[:300]!r}")
        done = []
        for line, reply in zip(lines, replies, strict=True):
            if reply and reply != "No such server.":
                raise GatesError(f"HAProxy of {self.env_name}: {line!r}: {reply}")
            done.append(not reply)
        return done

    def remove(self, name: str) -> bool:
        """Delete a server in maintenance; True when it is gone, False while it still has connections."""
        reply = self.command(f"del server {BACKEND}/{name}")
        return reply in ("Server deleted.", "No such server.")

    def wait_status(self, name: str, status: str, timeout: float) -> None:
        def reached() -> bool:
            stat = self.servers().get(name)
            return stat is not None and stat.status == status

        what = f"HAProxy of {self.env_name} to report server {name} {status}"
        wait_until(what, reached, timeout=timeout, interval=STATUS_POLL)

    def wait_idle(self, name: str, timeout: float) -> None:
        def idle() -> bool:
            stat = self.servers().get(name)
            return stat is None or stat.sessions == 0

        wait_until(
            f"server {name} to finish its requests (HAProxy scur = 0)", idle, timeout=timeout, interval=STATUS_POLL
        )

    def _expect(self, line: str, expected: str) -> None:
        reply = self.command(line)
        if reply != expected:
            raise GatesError(f"HAProxy of {self.env_name}: {line!r} answered {reply!r}, expected {expected!r}")


def split_replies(raw: str, count: int) -> list[str] | None:
    """The replies to ``count`` commands sent on one line, in order: HAProxy ends each with an empty line, so a
    command that says nothing (a ``set server`` that worked) answers a lone newline. None when ``raw`` is not
    ``count`` such replies."""
    replies = []
    rest = raw
    for _ in range(count):
        if rest.startswith("\n"):
            replies.append("")
            rest = rest[1:]
            continue
        text, ended, rest = rest.partition("\n\n")
        if not ended:
            return None
        replies.append(text.strip())
    return replies if not rest.strip() else None


def check_interval(options: str) -> float:
    """Seconds of the ``inter`` option of a server line (HAProxy's default is 2 s)."""
    words = options.split()
    if "inter" not in words:
        return 2.0
    value = words[words.index("inter") + 1]
    for unit, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if value.endswith(unit) and value[: -len(unit)].isdigit():
            return int(value[: -len(unit)]) * scale
    return int(value) / 1000  # a bare number is milliseconds


def _socket_path(folder: Path) -> Path:
    """The admin socket: in the state folder when HAProxy accepts the path, else in a short folder named after it."""
    inside = folder / "haproxy.sock"
    if len(str(inside).encode()) <= _SOCKET_PATH_MAX:
        return inside
    digest = hashlib.sha1(str(folder).encode(), usedforsecurity=False).hexdigest()[:12]
    return _SHORT_ROOT / f"gates-haproxy-{digest}" / "haproxy.sock"


def _private_folder(folder: Path) -> None:
    """Make sure ``folder`` exists, is ours and a real folder: in /tmp another user could have made it first."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise GatesError(f"{folder}: not a folder of this user; remove it and deploy again")


# Why each setting:
# - retries/redispatch/retry-on: a request that meets a closed connection (an instance just stopped)
#   is sent again to another server instead of failing; only GET and HEAD, which are safe to repeat.
# - X-Gates-Server: which instance answered, for probes and evidence.
# - timeout check: a check's answer is awaited as long as the deploy and the gate await one (see above), not
#   ``inter``: a slow moment of a busy machine is not a failed check.
# - X-Release: the release of that instance, from its server name (v<release>-<index>): the platform
#   knows which process runs which snapshot, so the app need not say it (and cannot say it wrong).
_CONFIG = """\
# Written by gates for environment {env}; rewritten at each start. Servers are added at run time.
global
    stats socket {socket} mode 600 level admin
    stats timeout 10s

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    option redispatch
    retries 3
    retry-on conn-failure empty-response

frontend web
    bind 127.0.0.1:{port}
    default_backend {backend}

backend {backend}
    balance roundrobin
    # HTTP/1.1 with a Host header, as any client sends: some servers (Express behind React Router's
    # adapter) fail a bare HTTP/1.0 check that has none.
    option httpchk
    timeout check {check_timeout}
    http-check send meth GET uri {health} ver HTTP/1.1 hdr Host 127.0.0.1
    http-request disable-l7-retry unless METH_GET || METH_HEAD
    http-response set-header X-Gates-Server %[srv_name]
    http-response set-header X-Release %[srv_name,field(1,-),regsub(^v,)]
"""

# HAProxy reads the file once at start; `return ... file` answers it whole, with no backend involved.
_ADMIN = """
frontend admin
    bind 127.0.0.1:{port}
    http-request return status 200 content-type "text/html; charset=utf-8" file {page}
"""
