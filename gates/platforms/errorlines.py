"""The cause in a process's output: its first error line, not the runtime's footer.

A process that dies prints its cause first and an epilogue after it: Node ends with the stack and
``Node.js v20.x``, npm with its lifecycle lines, Python with the traceback's frames above the
exception. The tail of the output is therefore the wrong thing to quote; the first line shaped
like a cause is the right one.

Causes are read in two tiers, each in order of appearance: a line shaped like an exception or a
crash (``Error: ...``, ``TypeError [ERR_X]: ...``, ``java.lang.IllegalStateException: ...``, the last
line of a Python traceback, ``panic: ...``, ``fatal error: ...``, ``FATAL``, an unhandled rejection)
wins over a log line of level ERROR or CRITICAL (an app often logs a recoverable error before the
one that kills it). Source lines a runtime echoes (``throw new Error("...")``) never match: the
name must be followed by its message, not by a call.
"""

from __future__ import annotations

import re

LONGEST = 300  # characters of a quoted line: a cause, not a minified bundle

_NAME = r"(?:[A-Za-z_$][\w$]*\.)*[\w$]*(?:Error|Exception)"
# The exception's name at the start of the line or after a log prefix, then its message (or nothing).
_EXCEPTION = re.compile(rf"(?:^|[\s:\]|>])(?:Uncaught\s+)?{_NAME}(?:\s*\[[\w.:-]+\])?(?::\s|:?$)")
_CRASH = re.compile(
    r"^(?:panic|fatal error):\s"  # Go
    r"|\bpanicked at\b"  # Rust
    r"|^Exception in thread\b"  # the JVM
    r"|(?:^|\[)UnhandledPromiseRejection:"  # Node, a promise rejected with something that is not an Error
    r"|\bFATAL\b"
)
_LOGGED = re.compile(r"\b(?:ERROR|CRITICAL)\b|^(?:error|npm error|npm ERR!)[:\s]")
_TRACEBACK = "Traceback (most recent call last):"


def first_error(output: str) -> str | None:
    """The first line of ``output`` that states a cause, stripped and at most LONGEST characters; None when none does."""
    lines = output.splitlines()
    logged: str | None = None
    for index, line in enumerate(lines):
        if _TRACEBACK in line:
            cause = _traceback_cause(lines, index + 1)
            if cause:
                return _quoted(cause)
            continue
        if _EXCEPTION.search(line) or _CRASH.search(line):
            return _quoted(line)
        if logged is None and _LOGGED.search(line):
            logged = line
    return _quoted(logged) if logged is not None else None


def _traceback_cause(lines: list[str], start: int) -> str | None:
    """A Python traceback's last line: the first line after its header that is not indented (its frames are).

    In a chain of tracebacks this is the first one's, the root cause ("During handling of the above
    exception" follows it).
    """
    for line in lines[start:]:
        if line.strip() and not line[0].isspace():
            return line
    return None


def _quoted(line: str) -> str:
    line = line.strip()
    return line if len(line) <= LONGEST else line[: LONGEST - 3] + "..."
