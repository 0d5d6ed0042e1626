"""An ephemeral local Postgres cluster that gates starts and stops itself.

The embedded default target and the self-tests run their databases here.
Postgres refuses to run as root, so as root every server command runs as the
``postgres`` user, and the data folder lives where that user can reach it: a
folder in /tmp named from a hash of the state dir (the state dir itself may
sit under a 0700 folder). ``<state_dir>/postgres.json`` records where it is,
so ``stop()`` and ``gates down`` find it again.

Each database is created from ``template1``, which gets Supabase's baseline (``gates.database.baseline``:
roles, ``auth``, ``extensions``, default privileges); ``ensure_database`` installs it into the database
too, idempotently, so a database made otherwise gets it as well.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import json
import os
import pwd
import re
import shutil
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from gates.config import Config, DatabaseConfig
from gates.core.errors import GatesError, UsageError
from gates.core.procs import run, wait_until
from gates.core.redact import redact
from gates.database import baseline
from gates.database.waits import connect_timeout

SUPABASE_ROLES = baseline.API_ROLES
STATE_FILE = "postgres.json"
# /tmp, not $TMPDIR: as root $TMPDIR may be a 0700 folder the postgres user cannot enter,
# and a unix socket path must stay under ~100 bytes.
RUN_ROOT = Path("/tmp")
_BASE_NAME = re.compile(r"^gates-pg-[0-9a-f]{12}$")
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_INITDB_TIMEOUT = 60.0
_SERVER_TIMEOUT = 30
_LOCK_TIMEOUT = 90.0
_LOG_TAIL = 12


class LocalCluster:
    """One Postgres cluster on 127.0.0.1:``port`` whose state is kept in ``state_dir``."""

    def __init__(self, state_dir: Path, port: int, waits: DatabaseConfig | None = None) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.waits = waits or DatabaseConfig()  # [database]: how long its sessions may take to connect
        digest = hashlib.sha1(str(self.state_dir).encode(), usedforsecurity=False).hexdigest()[:12]
        self.base_dir = RUN_ROOT / f"gates-pg-{digest}"

    @classmethod
    def for_config(cls, config: Config) -> LocalCluster:
        return cls(config.state_dir, config.local.postgres_port, config.database)

    # -- where things are

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    # -- lifecycle

    def running(self) -> bool:
        """True when the postmaster of this cluster's data dir is alive."""
        pid = self._postmaster_pid(self._recorded_base() / "data")
        return pid is not None and _alive(pid)

    def start(self) -> None:
        """Start the cluster (initdb first if needed); nothing to do when it already runs."""
        with self._lock():
            if self.running():
                self._check_port()
            else:
                self._prepare_base_dir()
                if not (self.data_dir / "PG_VERSION").is_file():
                    self._initdb()
                self._pg_ctl_start()
            self._write_state()
            # Idempotent and cheap: a start that died half way is repaired by the next one.
            self._bootstrap()

    def stop(self) -> None:
        """Stop the cluster fast and delete its data (the cluster is ephemeral); idempotent."""
        with self._lock():
            base = self._recorded_base()
            data = base / "data"
            pid = self._postmaster_pid(data)
            if pid is not None and _alive(pid):
                args = [_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", str(_SERVER_TIMEOUT), "stop"]
                result = run(_as_postgres(args), timeout=_SERVER_TIMEOUT + 10, check=False, cwd=_SERVER_CWD)
                if result.returncode != 0 and _alive(pid):
                    raise GatesError(f"postgres (pid {pid}) did not stop: {result.output.strip()}{_log_tail(base)}")
                wait_until(f"postgres pid {pid} to exit", lambda: not _alive(pid), timeout=_SERVER_TIMEOUT)
            _remove_base(base)
            self.state_file.unlink(missing_ok=True)

    def ensure_database(self, name: str) -> str:
        """Create database ``name`` if it is missing; return its URL."""
        if not _DB_NAME.match(name):
            raise UsageError(f"{name!r}: not a usable database name (letters, digits and _, at most 63)")
        with self._connect("postgres") as conn:
            found = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
            if found is None:
                # Another process may create it between the check and here: that is success too.
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        with self._connect(name) as conn:
            baseline.install(conn)
        return self.url(name)

    # -- steps of start

    def _prepare_base_dir(self) -> None:
        base = self.base_dir
        with contextlib.suppress(FileExistsError):
            base.mkdir(mode=0o755)
        info = base.lstat()
        owners = {0, _postgres_uid()} if _is_root() else {os.geteuid()}
        # /tmp is shared: refuse a symlink or a folder someone else planted under our name.
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in owners:
            raise GatesError(f"{base}: exists but is not a folder of gates or postgres; remove it and retry")
        os.chmod(base, 0o755)
        if _is_root():
            uid = _postgres_uid()
            os.chown(base, uid, pwd.getpwuid(uid).pw_gid)

    def _initdb(self) -> None:
        args = [_pg_bin("initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        result = run(_as_postgres([*args, "--locale=C.UTF-8"]), timeout=_INITDB_TIMEOUT, check=False, cwd=_SERVER_CWD)
        if result.returncode != 0:
            raise GatesError(f"initdb of {self.data_dir} failed: {_tail(result.output)}")

    def _pg_ctl_start(self) -> None:
        options = f"-k {self.base_dir} -c listen_addresses=127.0.0.1 -p {self.port} -c fsync=off"
        args = [_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), "-w"]
        result = run(
            _as_postgres([*args, "-t", str(_SERVER_TIMEOUT), "-o", options, "start"]),
            timeout=_SERVER_TIMEOUT + 10,
            check=False,
            cwd=_SERVER_CWD,
        )
        if result.returncode != 0:
            raise GatesError(
                f"postgres did not start on 127.0.0.1:{self.port}: {_tail(result.output)}{_log_tail(self.base_dir)}"
            )

    def _bootstrap(self) -> None:
        """Roles are cluster-wide; the Supabase baseline goes into template1 so every new database has it."""
        with self._connect("template1") as conn:
            baseline.install(conn)

    def _write_state(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "port": self.port,
            "data_dir": str(self.data_dir),
            "socket_dir": str(self.base_dir),
            "log": str(self.log_file),
            "pid": self._postmaster_pid(self.data_dir),
        }
        tmp = self.state_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.state_file)

    def _check_port(self) -> None:
        running_port = self._postmaster_port()
        if running_port is not None and running_port != self.port:
            raise GatesError(
                f"the local cluster of {self.state_dir} runs on port {running_port}, not {self.port}: "
                "run `gates down` first"
            )

    # -- helpers

    def _recorded_base(self) -> Path:
        """The base folder postgres.json names (a cluster started before a move), else ours."""
        try:
            recorded = Path(json.loads(self.state_file.read_text())["data_dir"]).parent
        except (OSError, ValueError, KeyError, TypeError):
            return self.base_dir
        # Only ever trust a folder of ours: stop() deletes it.
        return recorded if recorded.parent == RUN_ROOT and _BASE_NAME.match(recorded.name) else self.base_dir

    def _postmaster_lines(self, data: Path) -> list[str]:
        try:
            return (data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return []

    def _postmaster_pid(self, data: Path) -> int | None:
        lines = self._postmaster_lines(data)
        return int(lines[0]) if lines and lines[0].strip().isdigit() else None

    def _postmaster_port(self) -> int | None:
        # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, ...
        lines = self._postmaster_lines(self.data_dir)
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None

    def _connect(self, dbname: str) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=connect_timeout(self.waits))
        except psycopg.Error as exc:
            raise GatesError(
                redact(f"local cluster on 127.0.0.1:{self.port} not reachable ({exc}); is it started?")
            ) from None

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One start or stop at a time per state dir (two gates processes may share it)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / "postgres.lock").open("w") as fh:
            wait_until(f"the lock of {fh.name}", lambda: _try_lock(fh.fileno()), timeout=_LOCK_TIMEOUT)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _is_root() -> bool:
    return os.geteuid() == 0


def _postgres_uid() -> int:
    try:
        return pwd.getpwnam("postgres").pw_uid
    except KeyError:
        if _is_root():
            raise GatesError("no `postgres` user: install postgresql (apt-get install postgresql)") from None
        return os.geteuid()


# Where server commands run: the postgres user cannot enter the caller's folder when it is a root-only one
# (a gate runs in its config's folder, a test's in pytest's 0700 temporary folder), and pg_ctl gives up there.
_SERVER_CWD = "/"


def _as_postgres(args: Sequence[str]) -> list[str]:
    """Postgres refuses to run as root: as root, run server commands as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *args] if _is_root() else list(args)


@functools.cache
def _bindir() -> Path:
    """Postgres server binaries: pg_config's bindir, else the newest /usr/lib/postgresql/*/bin, else PATH."""
    with contextlib.suppress(GatesError):
        out = run(["pg_config", "--bindir"], timeout=10, check=False)
        candidate = Path(out.stdout.strip())
        if out.returncode == 0 and (candidate / "initdb").is_file():
            return candidate
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file()),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)],
    )
    if versions:
        return versions[-1]
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise GatesError("postgres server binaries (initdb, pg_ctl) not found: install postgresql")


def _pg_bin(name: str) -> str:
    return str(_bindir() / name)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody reaped counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] != "Z"
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def _remove_base(base: Path) -> None:
    if base.parent == RUN_ROOT and _BASE_NAME.match(base.name) and base.is_dir() and not base.is_symlink():
        shutil.rmtree(base)


def _tail(text: str) -> str:
    return " | ".join(text.strip().splitlines()[-_LOG_TAIL:])


def _log_tail(base: Path) -> str:
    try:
        text = (base / "postgres.log").read_text(errors="replace")
    except OSError:
        return ""
    lines = text.strip().splitlines()[-_LOG_TAIL:]
    return redact("\nserver log (" + str(base / "postgres.log") + "):\n" + "\n".join(lines)) if lines else ""
