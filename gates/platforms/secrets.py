"""Secrets of a local environment: ``secrets.json`` in its state folder, readable by its owner only (0600).

Values leave this module only for the instances' environment and for the flags check (which
turns them into verdicts); anything shown is a name and a digest. Every value read is
registered with the redactor, so a value that strays into a log is masked there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from gates.core.errors import GatesError, UsageError
from gates.core.redact import register_secret
from gates.platforms.base import Secret

FILE = "secrets.json"
# Switch words are not worth masking, and masking them would blank every "false" gates prints.
_SWITCH_WORDS = {"true", "false", "yes", "no", "on", "off", "enabled", "disabled"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def digest(value: str) -> str:
    """What listings show instead of a value: 16 hex digits of its sha256."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


class SecretStore:
    """The secrets of one environment, in ``folder/secrets.json``."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE

    def values(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError:
            raise GatesError(f"{self.path}: not valid JSON; set the secrets again") from None
        if not isinstance(data, dict):
            raise GatesError(f"{self.path}: expected an object of names to values")
        values = {str(k): str(v) for k, v in data.items()}
        for value in values.values():
            _register(value)
        return values

    def list(self) -> list[Secret]:
        return [Secret(name, digest(value)) for name, value in sorted(self.values().items())]

    def set(self, name: str, value: str) -> Secret:
        _check_name(name)
        if not value.strip():
            # An empty stdin (a pipe that delivered nothing) must not silently store "" as the secret.
            raise UsageError(
                f"secret {name}: the value is empty; nothing was stored (use `gates secrets unset` to remove one)"
            )
        _register(value)
        self._write({**self.values(), name: value})
        return Secret(name, digest(value))

    def unset(self, name: str) -> bool:
        """Remove secret ``name``; whether there was one."""
        _check_name(name)
        values = self.values()
        if name not in values:
            return False
        del values[name]
        self._write(values)
        return True

    def _write(self, values: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{FILE}.{os.getpid()}")
        # Created 0600 from the start: the value is never readable by others, not even for an instant.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(values, fh)
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise UsageError(f"secret name {name!r}: expected letters, digits and _ (not starting with a digit)")


def _register(value: str) -> None:
    if value.strip().lower() not in _SWITCH_WORDS:
        register_secret(value)
