"""Finding, reading and checking the config: each section checks itself (its own module); here, the order,
and what spans sections (timeouts, ports, environment names and URLs)."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gates.config.app import AppConfig, validate_app
from gates.config.browser import VIDEO_MODES, validate_browser_visit
from gates.config.comparison import validate_comparison
from gates.config.database import validate_database, validate_database_waits
from gates.config.environments import Environment, fill_admin_url, validate_environment
from gates.config.flags import FlagsConfig, validate_flags
from gates.config.gate import validate_gate
from gates.config.local import LocalConfig
from gates.config.model import SECTIONS, Config
from gates.config.monitor import validate_monitor
from gates.config.notify import validate_notify
from gates.config.probe import validate_probe
from gates.config.reader import read_section
from gates.config.record import RecordConfig, validate_record
from gates.core.errors import ConfigError, UsageError
from gates.core.ports import port_problem, url_identity

CONFIG_ENV = "GATES_CONFIG"
ENV_SELECT = "GATES_ENV"
STATE_ENV = "GATES_STATE_DIR"


def find_config(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Path:
    """The config file: explicit path, $GATES_CONFIG, ./gates.toml, then ./pyproject.toml."""
    chosen = explicit or os.environ.get(CONFIG_ENV)
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise UsageError(f"{path}: config file not found")
        return path.resolve()
    base = cwd or Path.cwd()
    for candidate in (base / "gates.toml", base / "pyproject.toml"):
        if candidate.is_file() and (candidate.name == "gates.toml" or _has_tool_gates(candidate)):
            return candidate.resolve()
    raise UsageError(f"{base}: no gates.toml (or [tool.gates] in pyproject.toml); pass --config PATH")


def _has_tool_gates(path: Path) -> bool:
    try:
        return "gates" in tomllib.loads(path.read_text()).get("tool", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; a syntax error is a ConfigError naming the file, an unreadable file a UsageError."""
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "(syntax)", str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None


def load(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Config:
    """Read and validate the config; raise ConfigError naming file and key on any problem."""
    path = find_config(explicit, cwd)
    data = read_toml(path)
    prefix = ""
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("gates", {})
        prefix = "tool.gates."
    config = parse(data, path, prefix)
    override = os.environ.get(STATE_ENV)
    return dataclasses.replace(config, state_override=Path(override).resolve()) if override else config


def parse(data: Mapping[str, Any], path: Path, prefix: str = "") -> Config:
    """The config in ``data`` (read from ``path``): a pure function of its arguments, or a ConfigError."""
    known = {"app", "environments", "local", "record", "flags", *SECTIONS}
    for key in data:
        if key not in known:
            raise ConfigError(path, prefix + key, f"unknown section (expected one of: {', '.join(sorted(known))})")
    if "app" not in data:
        raise ConfigError(path, prefix + "app", "missing section [app]")
    app = read_section(AppConfig, data["app"], path, prefix + "app")
    validate_app(app, path, prefix + "app")
    envs_raw = data.get("environments")
    if not isinstance(envs_raw, Mapping) or not envs_raw:
        raise ConfigError(path, prefix + "environments", "expected at least one [environments.NAME] table")
    environments: dict[str, Environment] = {}
    for name, table in envs_raw.items():
        key = f"{prefix}environments.{name}"
        if not isinstance(table, Mapping):
            raise ConfigError(path, key, "expected a table")
        env = read_section(Environment, {"name": name, **table}, path, key)
        env = fill_admin_url(env, app, data.get("browser", {}), path, prefix, key)
        validate_environment(env, path, key)
        environments[name] = env
    config = Config(
        path=path,
        app=app,
        environments=environments,
        local=read_section(LocalConfig, data.get("local", {}), path, prefix + "local"),
        record=read_section(RecordConfig, data.get("record", {}), path, prefix + "record"),
        flags=read_section(FlagsConfig, data.get("flags", {}), path, prefix + "flags"),
        **{name: read_section(cls, data.get(name, {}), path, prefix + name) for name, cls in SECTIONS.items()},
    )
    validate_database(config.database, path, prefix + "database")
    validate_database_waits(config.database, path, prefix + "database")
    validate_browser_visit(config.browser, path, prefix + "browser")
    for env in environments.values():
        if env.video and env.video not in VIDEO_MODES:
            key = f"{prefix}environments.{env.name}.video"
            raise ConfigError(path, key, f"expected one of: {', '.join(VIDEO_MODES)}, got {env.video!r}")
    validate_monitor(config.monitor, path, prefix + "monitor")
    validate_flags(config.flags, path, prefix + "flags")
    validate_probe(config.probe, path, prefix + "probe")
    validate_notify(config.notify, path, prefix + "notify")
    validate_gate(config.gate, path, prefix + "gate")
    validate_record(config.record, path, prefix + "record")
    validate_comparison(config.comparison, path, prefix + "comparison")
    _validate_meanings(config, prefix)
    return config


# A wait longer than this is a hang by another name: every timeout in the config is bounded by it.
MAX_TIMEOUT = 600.0
_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _validate_meanings(config: Config, prefix: str) -> None:
    """What run time would trip on, caught when the config is read: paths, timeouts, names, URLs, windows."""
    path = config.path
    for i, p in enumerate(config.app.health_paths):
        if not p.startswith("/") or any(c.isspace() for c in p):
            raise ConfigError(path, f"{prefix}app.health_paths[{i}]", f"expected a path starting with /, got {p!r}")
    if not config.app.health_paths:
        raise ConfigError(path, f"{prefix}app.health_paths", "expected at least one health path")
    if config.local.keep_builds < 1:
        raise ConfigError(path, f"{prefix}local.keep_builds", f"expected 1 or more, got {config.local.keep_builds}")
    sections = {"app": config.app, "flags": config.flags, **{n: getattr(config, n) for n in SECTIONS}}
    for section, value in sections.items():
        for f in dataclasses.fields(value):
            number = getattr(value, f.name)
            if f.name.endswith("timeout") and isinstance(number, float) and not 0 < number <= MAX_TIMEOUT:
                raise ConfigError(
                    path, f"{prefix}{section}.{f.name}", f"expected seconds in (0, {MAX_TIMEOUT:g}], got {number!r}"
                )
    _validate_ports(config, prefix)
    seen_names: dict[str, str] = {}
    seen_urls: dict[str, str] = {}
    for name, env in config.environments.items():
        key = f"{prefix}environments.{name}"
        if not _ENV_NAME.match(name):
            raise ConfigError(path, key, "an environment name is letters, digits, '.', '_' or '-' (no spaces)")
        folded = name.casefold()
        if folded in seen_names:
            raise ConfigError(path, key, f"the same name as environments.{seen_names[folded]} but for case")
        seen_names[folded] = name
        if any(c.isspace() for c in env.url):
            raise ConfigError(path, f"{key}.url", f"a URL has no spaces, got {env.url!r}")
        for field in ("url", "admin_url"):
            if (problem := port_problem(getattr(env, field))) is not None:
                raise ConfigError(path, f"{key}.{field}", problem)
        where = url_identity(env.url)
        if where in seen_urls:
            raise ConfigError(path, f"{key}.url", f"the same URL as environments.{seen_urls[where]}: {env.url}")
        seen_urls[where] = name


def _validate_ports(config: Config, prefix: str) -> None:
    """Every ``*_port`` key is a TCP port: 1-65535 (a port out of range fails only when something binds it)."""
    sections = {"local": config.local, "app": config.app, **{n: getattr(config, n) for n in SECTIONS}}
    for section, value in sections.items():
        for f in dataclasses.fields(value):
            number = getattr(value, f.name)
            if f.name.endswith("port") and isinstance(number, int) and not 1 <= number <= 65535:
                raise ConfigError(
                    config.path, f"{prefix}{section}.{f.name}", f"expected a port in 1-65535, got {number}"
                )
