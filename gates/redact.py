"""Keep secrets out of everything gates writes or prints.

Values of secret environment variables are registered once (the config names
them); ``redact`` replaces them, and the password of any URL, wherever text
leaves the process: reports, logs, records, exceptions, the terminal.
"""

from __future__ import annotations

import os
import re
import threading

MASK = "***"
_MIN_SECRET_LENGTH = 4
_lock = threading.Lock()
_secrets: set[str] = set()

# scheme://user:password@host -> scheme://user:***@host
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)(?P<pw>[^@\s/]+)(?P<at>@)")
# key=value pairs that carry secrets in libpq strings, headers and command lines.
_KEY_VALUE = re.compile(
    r"(?i)(?P<key>\b(?:password|passwd|pwd|token|api[_-]?key|secret|authorization)\b\s*[=:]\s*)"
    r"(?P<q>['\"]?)(?P<val>(?:bearer\s+|flyv1\s+)?[^\s'\"&,;]+)"
)


def register_secret(value: str | None) -> None:
    """Remember a secret value so that every later ``redact`` masks it."""
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.add(value)
        for part in _parts_of(value):
            _secrets.add(part)


def register_env(*names: str) -> None:
    """Register the values of the named environment variables as secrets."""
    for name in names:
        register_secret(os.environ.get(name))


def _parts_of(value: str) -> list[str]:
    """A URL's password is a secret on its own (it may appear unquoted elsewhere)."""
    m = _URL_PASSWORD.search(value)
    if m and len(m.group("pw")) >= _MIN_SECRET_LENGTH:
        return [m.group("pw")]
    return []


def redact(text: str) -> str:
    """Return ``text`` with every known secret and every URL password masked."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}{m.group('at')}", text)
    return _KEY_VALUE.sub(lambda m: f"{m.group('key')}{m.group('q')}{MASK}", text)
