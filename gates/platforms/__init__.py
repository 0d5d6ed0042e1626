"""Where apps run: the Platform protocol, and the registry of its drivers (local, fly)."""

from gates.platforms.base import HealthCheck, Instance, LogLine, Platform, Release, Secret, Status
from gates.platforms.registry import platform_for

__all__ = ["HealthCheck", "Instance", "LogLine", "Platform", "Release", "Secret", "Status", "platform_for"]
