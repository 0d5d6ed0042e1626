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
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "***"
_MIN_SECRET_LENGTH = 4
_DISTINCTIVE_LENGTH = 6  # with a digit or a symbol in it; letters only: _WORD_LENGTH
_WORD_LENGTH = 16
_lock = threading.Lock()
_secrets: set[str] = set()  # masked wherever they appear

# scheme://user:password@host -> scheme://user:***@host. The scheme is the last 32 characters at most of the run
# before "://" (a scheme is short; what comes before it is kept as it was either way): an unbounded scheme made
# every start inside a long run of letters and digits (a base64 screenshot in an HTML report) scan to the run's
# end, a second per half-megabyte report.
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z0-9+.-]{1,32}://[^/\s:@]*:)(?P<pw>[^@\s/]+)(?P<at>@)")
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
    """The parts of a secret URL that are secrets on their own, for they appear without the rest: its password
    (unquoted elsewhere), the segments of its path and the values of its query (a webhook's token, which the
    app it is sent to logs as a request path: ``POST /services/T0/B0/<token> 404``). Only distinctive parts are
    kept (see ``register_secret``), so ``/services`` or ``/api`` stay readable."""
    parts: list[str] = []
    m = _URL_PASSWORD.search(value)
    if m and len(m.group("pw")) >= _MIN_SECRET_LENGTH:
        parts.append(m.group("pw"))
    if value.startswith(("http://", "https://")):  # a database URL's path is its name, not a secret
        try:
            url = urlsplit(value.strip())
        except ValueError:
            return parts
        segments = [unquote(s) for s in url.path.split("/") if s]
        parts += [*segments, *(v for _, v in parse_qsl(url.query, keep_blank_values=False))]
    return parts


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


# Files of the record read as text to be masked; anything else (images, videos, archives) is written by gates'
# own code from values it has already masked, or carries no text.
TEXT_SUFFIXES = frozenset({".html", ".htm", ".xml", ".json", ".jsonl", ".log", ".md", ".txt", ".csv", ".svg"})


def keep(path: Path, text: str, *, append: bool = False) -> Path:
    """Write ``text`` to ``path`` with every known secret masked: the one way text enters the record (logs of
    instances, builds and commands, reports, what a child process wrote) -- by value, whatever its origin."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if append:
        with path.open("a", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(redact(text))
        return path
    # Whole files are replaced atomically: a reader (a browser on index.html, a tailer) never sees half of one.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(redact(text), encoding="utf-8", errors="surrogateescape")
    tmp.replace(path)
    return path


def keep_file(path: Path) -> bool:
    """Mask the secrets in a text file another process wrote into the record (pytest's JUnit and HTML, an
    events file), in place; whether it changed. A secret it learnt of after the child started is masked too."""
    if path.suffix.lower() not in TEXT_SUFFIXES or not path.is_file():
        return False
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    masked = redact(text)
    if masked == text:
        return False
    keep(path, masked)  # masked already: keeping it masks again, at no cost but the time
    return True


def keep_folder(folder: Path) -> list[Path]:
    """``keep_file`` over every text file under ``folder`` (a record at its end); the files that changed."""
    return [p for p in sorted(folder.rglob("*")) if keep_file(p)]
