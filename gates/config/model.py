"""The whole config: every section, and the paths, secrets and environments it resolves."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gates.config.app import AppConfig
from gates.config.browser import BrowserConfig
from gates.config.ci import CIConfig
from gates.config.comparison import ComparisonConfig
from gates.config.database import DatabaseConfig
from gates.config.drill import DrillConfig
from gates.config.environments import Environment
from gates.config.flags import FlagsConfig
from gates.config.gate import GateConfig
from gates.config.local import LocalConfig
from gates.config.monitor import MonitorConfig
from gates.config.notify import NotifyConfig
from gates.config.probe import ProbeConfig
from gates.config.record import RecordConfig
from gates.config.tools import ToolsConfig
from gates.core.errors import ConfigError, UsageError


@dataclasses.dataclass(frozen=True)
class Config:
    path: Path
    app: AppConfig
    environments: Mapping[str, Environment]
    local: LocalConfig = LocalConfig()
    record: RecordConfig = RecordConfig()
    flags: FlagsConfig = FlagsConfig()
    database: DatabaseConfig = DatabaseConfig()
    browser: BrowserConfig = BrowserConfig()
    probe: ProbeConfig = ProbeConfig()
    drill: DrillConfig = DrillConfig()
    monitor: MonitorConfig = MonitorConfig()
    ci: CIConfig = CIConfig()
    notify: NotifyConfig = NotifyConfig()
    gate: GateConfig = GateConfig()
    tools: ToolsConfig = ToolsConfig()
    comparison: ComparisonConfig = dataclasses.field(default_factory=ComparisonConfig)
    # $GATES_STATE_DIR, read by load(): the state folder instead of [local] state_dir (parse stays pure).
    state_override: Path | None = None

    @property
    def root(self) -> Path:
        """Relative paths in the config are relative to its folder."""
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else (self.root / p).resolve()

    @property
    def app_source(self) -> Path:
        return self.resolve(self.app.source)

    @property
    def migrations_dir(self) -> Path:
        return self.app_source / self.app.migrations

    @property
    def state_dir(self) -> Path:
        return self.state_override or self.resolve(self.local.state_dir)

    def secret_variables(self) -> tuple[str, ...]:
        """The environment variables whose values are secrets: database URLs, webhook URLs, tokens."""
        named = [e.database_url_env for e in self.environments.values()]
        named += [self.notify.webhook_env, self.monitor.webhook_env, self.monitor.prometheus_token_env]
        named += [self.browser.storage_state_env, *self.ci.token_envs]
        return tuple(dict.fromkeys(n for n in named if n))

    @property
    def record_dir(self) -> Path:
        return self.resolve(self.record.dir)

    def environment(self, name: str) -> Environment:
        try:
            return self.environments[name]
        except KeyError:
            raise UsageError(f"unknown environment {name!r} (known: {', '.join(self.environments)})") from None

    def check_files(self) -> None:
        """Fail naming the key when a file or folder the config refers to does not exist."""
        wanted: list[tuple[str, Path, bool]] = [("app.source", self.app_source, True)]
        if any(e.has_database for e in self.environments.values()):
            wanted.append(("app.migrations", self.migrations_dir, True))
        for env in self.environments.values():
            if env.fly_config:
                wanted.append((f"environments.{env.name}.fly_config", self.resolve(env.fly_config), False))
        for name, path in vars(self.tools).items():
            if path:
                wanted.append((f"tools.{name}", self.resolve(path), False))
        for key, path, folder in wanted:
            if not (path.is_dir() if folder else path.is_file()):
                kind = "folder" if folder else "file"
                raise ConfigError(self.path, key, f"no such {kind}: {path} (paths are relative to this file's folder)")

    def check_secrets_present(self, env: Environment) -> None:
        """Fail with a usage error when a secret the environment names is not set."""
        if env.database_url_env and not os.environ.get(env.database_url_env):
            raise ConfigError(
                self.path,
                f"environments.{env.name}.database_url_env",
                f"environment variable {env.database_url_env} is not set",
            )


SECTIONS: dict[str, type[Any]] = {
    "database": DatabaseConfig,
    "browser": BrowserConfig,
    "probe": ProbeConfig,
    "drill": DrillConfig,
    "monitor": MonitorConfig,
    "ci": CIConfig,
    "notify": NotifyConfig,
    "gate": GateConfig,
    "tools": ToolsConfig,
    "comparison": ComparisonConfig,
}
