"""Where apps run: the Platform protocol, and the registry of its drivers (local, fly)."""

from gates.platforms.base import (
    HealthCheck,
    Instance,
    KeepsPrevious,
    LogLine,
    Platform,
    PrunesBuilds,
    Release,
    Secret,
    Status,
    WarmSet,
    rollback_path,
)
from gates.platforms.registry import platform_for

__all__ = [
    "HealthCheck",
    "Instance",
    "KeepsPrevious",
    "LogLine",
    "Platform",
    "PrunesBuilds",
    "Release",
    "Secret",
    "Status",
    "WarmSet",
    "platform_for",
    "rollback_path",
]
