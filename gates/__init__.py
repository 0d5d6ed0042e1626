"""gates: a deployment gate written as a pytest suite."""

from gates.config import AppConfig, Config, Environment, load
from gates.core.errors import ConfigError, GatesError, UsageError
from gates.core.measurement import Measurement
from gates.platforms.base import Instance, Platform, Release, Status

__all__ = [
    "AppConfig",
    "Config",
    "ConfigError",
    "Environment",
    "GatesError",
    "Instance",
    "Measurement",
    "Platform",
    "Release",
    "Status",
    "UsageError",
    "load",
]
