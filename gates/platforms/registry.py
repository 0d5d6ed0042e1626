"""Which driver runs an environment: platform name -> driver, each driver checking its own keys.

Drivers are loaded by name, lazily (``importlib``): nothing imports every driver, and
``platforms.base`` imports none. A driver is a class with

- ``name``: the value of ``environments.NAME.platform`` it serves;
- ``validate(config, env, key)``: raises ConfigError naming ``key.<field>`` for a bad or missing key;
- ``runs_locally``: whether it starts processes on this machine (what ``gates down`` stops, the
  place ``gates secrets`` stores values);
- ``down(config)`` when it runs locally: stop what it started, say what stopped;
- optionally ``build(env)`` on its Platform: build the release before it is deployed;
- ``Driver(config)``: the Platform.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import ClassVar, Protocol

from gates.config import Config, Environment
from gates.core.errors import ConfigError
from gates.platforms.base import BuildResult, Platform

# name -> "module:class"; a new platform is one line here and one module.
DRIVERS: dict[str, str] = {
    "external": "gates.platforms.external:ExternalPlatform",
    "fly": "gates.platforms.fly:FlyPlatform",
    "local": "gates.platforms.local:LocalPlatform",
}


class Driver(Protocol):
    """What the registry needs of a driver class (its instances are Platforms)."""

    name: ClassVar[str]
    runs_locally: ClassVar[bool]

    def __call__(self, config: Config) -> Platform: ...

    def validate(self, config: Config, env: Environment, key: str) -> None: ...

    def down(self, config: Config) -> list[str]: ...


def names() -> tuple[str, ...]:
    return tuple(sorted(DRIVERS))


def env_key(config: Config, env: Environment) -> str:
    """The key of an environment's table as the user wrote it (under ``tool.gates.`` in pyproject.toml)."""
    prefix = "tool.gates." if config.path.name == "pyproject.toml" else ""
    return f"{prefix}environments.{env.name}"


def driver(config: Config, env: Environment) -> Driver:
    """The driver class of ``env``'s platform; ConfigError naming ``environments.NAME.platform`` if unknown."""
    spec = DRIVERS.get(env.platform)
    if spec is None:
        raise ConfigError(
            config.path,
            f"{env_key(config, env)}.platform",
            f"unknown platform {env.platform!r} (expected one of: {', '.join(names())})",
        )
    module, _, cls = spec.partition(":")
    found: Driver = getattr(importlib.import_module(module), cls)
    return found


def validate(config: Config) -> None:
    """Every environment's platform is known, and its driver accepts the environment's keys."""
    for env in config.environments.values():
        driver(config, env).validate(config, env, env_key(config, env))


def platform_for(config: Config, env: Environment) -> Platform:
    """The platform driver an environment names, loaded lazily (start-up stays quick)."""
    return driver(config, env)(config)


def build(config: Config, env: Environment) -> BuildResult | None:
    """Build the app for ``env`` before anything of the release changes (migrations first of all): a
    build that fails stops the release there. None for a platform that builds during its deploy (Fly)."""
    platform = platform_for(config, env)
    builder = getattr(platform, "build", None)
    if builder is None:
        return None
    built: BuildResult = builder(env)
    return built


def local_drivers(config: Config) -> Sequence[Driver]:
    """The drivers of the config's environments that start processes on this machine, each once."""
    found = {env.platform: driver(config, env) for env in config.environments.values()}
    return [d for _, d in sorted(found.items()) if d.runs_locally]


def down(config: Config) -> list[str]:
    """Stop everything gates started on this machine for the config's environments; say what stopped."""
    return [line for d in local_drivers(config) for line in d.down(config)]
