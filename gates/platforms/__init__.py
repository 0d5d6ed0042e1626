"""Where apps run: the Platform protocol and its drivers (local, fly, command)."""

from gates.platforms.base import Instance, LogLine, Platform, Release, Secret, Status, platform_for

__all__ = ["Instance", "LogLine", "Platform", "Release", "Secret", "Status", "platform_for"]
