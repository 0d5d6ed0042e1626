"""The external platform: an environment deployed by something else, gated as it is.

gates knows only its URL (and, when configured, its database): it neither deploys nor rolls it
back, and it has no list of instances. Whatever needs those says so (``Unsupported``): molecules
that need the instance list skip with that reason, release steps that would deploy pass it by.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from gates.config import Config, Environment
from gates.core.errors import ConfigError, GatesError
from gates.platforms.base import HealthCheck, LogLine, Release, Secret, Status

# The flag sources that read the platform's secrets, and what they read.
SECRET_SOURCES = {"platform": "the local platform's secrets", "digest": "the platform's secret digests"}


class Unsupported(GatesError):
    """The platform cannot do this by design (not a failure of the environment)."""


class ExternalPlatform:
    """Gates an environment deployed by something else."""

    name = "external"
    runs_locally = False  # nothing of it runs on this machine
    deploys = False  # gates does not release to it

    @classmethod
    def validate(cls, config: Config, env: Environment, key: str) -> None:
        """A URL is all it needs (checked for every platform); a database is optional. Flags are read from
        the app (``[flags] source = "endpoint"``): the other sources read the platform's secrets, which an
        environment deployed by something else does not give."""
        flags = config.flags
        if (flags.names or flags.prefix) and flags.source in SECRET_SOURCES:
            prefix = key[: key.index("environments.")]  # "tool.gates." in pyproject.toml
            raise ConfigError(
                config.path,
                f"{prefix}flags.source",
                f"{flags.source!r} reads {SECRET_SOURCES[flags.source]}; {key} is deployed by something else "
                '(platform external) and gives gates none: use source = "endpoint" (the flags the app serves)',
            )

    def __init__(self, config: Config) -> None:
        self.config = config

    def _cannot(self, env: Environment, what: str) -> Unsupported:
        return Unsupported(f"{env.name} is deployed by something else (platform external): gates {what}")

    def deploy(self, env: Environment, source: str, strategy: str | None = None) -> Release:
        raise self._cannot(env, "does not deploy it")

    def releases(self, env: Environment) -> Sequence[Release]:
        return []

    def rollback(self, env: Environment, to: int | None = None) -> Release:
        raise self._cannot(env, "cannot roll it back; roll back where it is deployed")

    def status(self, env: Environment) -> Status:
        raise self._cannot(env, "has no list of its instances")

    def secrets(self, env: Environment) -> Sequence[Secret]:
        raise self._cannot(env, "cannot read its secrets")

    def health_checks(self, env: Environment) -> Sequence[HealthCheck]:
        raise self._cannot(env, "cannot read its health checks")

    def logs(self, env: Environment, since: dt.datetime | None = None, limit: int = 200) -> Sequence[LogLine]:
        raise self._cannot(env, "cannot read its logs")
