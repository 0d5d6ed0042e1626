"""``[app]``: the application being released."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from gates.config.reader import ENV_VAR_NAME
from gates.core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class AppConfig:
    """The application being released."""

    name: str
    source: str = "."
    migrations: str = "supabase/migrations"
    health_paths: tuple[str, ...] = ("/health",)
    health_timeout: float = 5.0
    tables: tuple[str, ...] = ()
    # Empty: supabase/config.toml [api] schemas of the app, else public (see gates.database.exposed).
    exposed_schemas: tuple[str, ...] = ()
    # How the local platform runs the app (gates/platforms/local/): ``build`` once per release in
    # its snapshot, ``start`` for each instance with $PORT and HOST set, ``env`` plain variables
    # of both. ``start`` empty: the Python default (uvicorn serving ``app:app``).
    build: str = ""
    start: str = ""
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # The path an instance must answer 2xx on before it gets traffic; empty: the first health path.
    health_path: str = ""

    @property
    def readiness_path(self) -> str:
        return self.health_path or (self.health_paths[0] if self.health_paths else "/health")


def validate_app(app: AppConfig, path: Path, key: str) -> None:
    if app.build.strip() and not app.start.strip():
        raise ConfigError(path, f"{key}.start", "a build needs a start command to run what it built")
    if not isinstance(app.env, Mapping):
        raise ConfigError(path, f"{key}.env", f'expected a table of NAME = "value", got {app.env!r}')
    for name, value in app.env.items():
        if not ENV_VAR_NAME.match(name):
            raise ConfigError(path, f"{key}.env.{name}", "expected an environment variable name")
        if not isinstance(value, str):
            raise ConfigError(path, f"{key}.env.{name}", f"expected a string, got {value!r}")
    if app.health_path and (not app.health_path.startswith("/") or any(c.isspace() for c in app.health_path)):
        raise ConfigError(path, f"{key}.health_path", f"expected a path starting with /, got {app.health_path!r}")
