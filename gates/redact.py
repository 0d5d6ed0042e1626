"""Keep secrets out of everything gates writes or prints.

Values of secret environment variables are registered once (the config names
them); ``redact`` replaces them, and the password of any URL, wherever text
leaves the process: reports, logs, records, exceptions, the terminal.

Masking is by value where the value is secret: a distinctive value (a token, a random password) is
masked wherever it appears; a value that could be an ordinary word (a password ``postgres``) only
where it stands as a password -- a URL's userinfo, ``password=...`` of a connection string,
``PGPASSWORD=...`` of an environment -- so paths and messages keep their words. Keywords alone never mask prose
(``/etc/passwd: permission denied`` stays as it is); only ``key=value`` assignments and
``Authorization:`` credentials do.
"""

from __future__ import annotations

import os
import re
import threading

MASK = "***"
_MIN_SECRET_LENGTH = 4
_DISTINCTIVE_LENGTH = 6  # with a digit or a symbol in it; letters only: _WORD_LENGTH
_WORD_LENGTH = 16
_lock = threading.Lock()
_secrets: set[str] = set()  # masked wherever they appear

# scheme://user:password@host -> scheme://user:***@host
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)(?P<pw>[^@\s/]+)(?P<at>@)")
# Assignments that carry secrets in libpq strings, environments, query strings and command lines
# (DB_PASSWORD=, PGPASSWORD=, --password=, ?token=, "password": "..."); never a keyword followed by prose.
_KEY_VALUE = re.compile(
    r"(?i)(?P<key>(?<![A-Za-z0-9])(?:pg)?(?:password|passwd|pwd|token|api[_-]?key|secret)(?P<jq>\")?\s*"
    r"(?(jq):|=)\s*)(?P<q>['\"]?)(?P<val>[^\s'\"&,;]+)"
)
# HTTP credentials: Authorization: Bearer <token> (or Basic, Token, FlyV1 ...).
_AUTHORIZATION = re.compile(
    r"(?i)(?P<key>\bauthorization\s*[=:]\s*['\"]?(?:bearer|basic|token|flyv1)\s+)(?P<val>[^\s'\"&,;]+)"
)


def register_secret(value: str | None) -> None:
    """Remember a secret value so that every later ``redact`` masks it (see the module's docstring for where)."""
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        # A value that could be an ordinary word is masked only where it stands as a password (URL userinfo,
        # password=...), which the patterns in ``redact`` do whatever the value.
        _secrets.update(part for part in (value, *_parts_of(value)) if distinctive(part))


def distinctive(value: str) -> bool:
    """Whether ``value`` cannot be an ordinary word of a path or a message, so masking it everywhere hides nothing else."""
    return len(value) >= _WORD_LENGTH or (len(value) >= _DISTINCTIVE_LENGTH and not value.isalpha())


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
    text = _AUTHORIZATION.sub(lambda m: f"{m.group('key')}{MASK}", text)
    return _KEY_VALUE.sub(lambda m: f"{m.group('key')}{m.group('q')}{MASK}", text)
