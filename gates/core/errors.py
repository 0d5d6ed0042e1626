"""The errors gates raises on purpose, and how the CLI treats them."""

from __future__ import annotations


class GatesError(Exception):
    """A failure of a release step: reported, recorded, exit 1."""


class UsageError(GatesError):
    """Bad input (config, arguments, files): a one-line message, exit 2, nothing done."""


class ConfigError(UsageError):
    """A config problem; the message names the file, the key and what was expected."""

    def __init__(self, path: object, key: str, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.path}: {key}: {problem}")
