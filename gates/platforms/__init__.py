"""Where apps run: the Platform protocol and its drivers (local, fly, command)."""

from gates.platforms.base import HealthCheck, Instance, LogLine, Platform, Release, Secret, Status, platform_for

__all__ = ["HealthCheck", "Instance", "LogLine", "Platform", "Release", "Secret", "Status", "platform_for"]
