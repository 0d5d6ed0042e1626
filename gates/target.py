"""The target: one environment of a loaded config, resolved once where a command or a gate starts.

``open_config`` is where the process meets its environment: it loads the config, registers the
values of every secret variable it names and of local environments' stored secrets (so that
``redact`` masks them from then on) and hands
``[tools]`` paths to the tool finder.
``resolve`` picks the environment, checks its secrets are set, and hands out its platform driver
and database URL, each made once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from functools import cached_property

from gates import config as config_mod
from gates.config import Config, Environment
from gates.core.errors import GatesError
from gates.core.redact import register_env
from gates.core.tools import configure
from gates.platforms import Platform, platform_for
from gates.platforms.registry import validate as validate_platforms


def open_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    """Load the config (explicit path, $GATES_CONFIG, ./gates.toml, [tool.gates]) and register its secrets."""
    cfg = config_mod.load(explicit)
    validate_platforms(cfg)  # each environment's driver checks its own keys
    register_env(*cfg.secret_variables())
    _register_stored_secrets(cfg)
    configure({name: cfg.resolve(path) for name, path in dataclasses.asdict(cfg.tools).items() if path})
    return cfg


def _register_stored_secrets(cfg: Config) -> None:
    """The values of local environments' secrets (``gates secrets set``) are secrets in every process of gates,
    a gate's child included: an app may log the secret it was given, and its log may reach a report."""
    from gates.platforms.secrets import SecretStore

    for env in cfg.environments.values():
        if env.platform == "local":
            with contextlib.suppress(GatesError, OSError):
                SecretStore(cfg.state_dir / env.name).values()  # registers each value it reads


@dataclasses.dataclass(frozen=True)
class Target:
    """An environment to gate or operate: its config, its platform driver, its database."""

    config: Config
    env: Environment

    @cached_property
    def platform(self) -> Platform:
        return platform_for(self.config, self.env)

    @property
    def has_database(self) -> bool:
        """Whether the environment has a database to gate (an external one may have none)."""
        from gates.database import has_database

        return has_database(self.env)

    @cached_property
    def database_url(self) -> str:
        """The environment's database URL (its variable, or gates' local cluster); ConfigError when it has none."""
        from gates.database import database_url

        return database_url(self.config, self.env)


def resolve(cfg: Config, name: str) -> Target:
    """The environment ``name`` of ``cfg``, its secrets checked present (a usage error naming the key if not)."""
    env = cfg.environment(name)
    cfg.check_secrets_present(env)
    return Target(cfg, env)
