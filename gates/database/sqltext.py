"""SQL text of migration files: split into statements, with where each starts.

Enough of Postgres' lexer for migration files: single-quoted strings (E'' escapes too), quoted
identifiers, dollar quotes, line and nested block comments. Statements end at a top-level ``;``.
"""

from __future__ import annotations

import dataclasses
import re

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclasses.dataclass(frozen=True)
class Statement:
    """One statement: its text (without the ``;``), its offset in the file and its 1-based line."""

    text: str
    start: int
    line: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    def first_line(self, width: int = 160) -> str:
        """The statement on one line, cut at ``width`` characters: how a report names it."""
        flat = " ".join(strip_comments(self.text).split())
        return flat if len(flat) <= width else flat[: width - 3] + "..."


def split_statements(text: str) -> list[Statement]:
    """The statements of ``text`` in order; blank ones (comments only) are left out."""
    statements: list[Statement] = []
    start, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "-" and text.startswith("--", i):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif ch == "/" and text.startswith("/*", i):
            i = _block_comment_end(text, i)
        elif ch == "'":
            escaped = i > 0 and text[i - 1] in "eE" and (i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_"))
            i = _quoted_end(text, i, "'", backslash=escaped)
        elif ch == '"':
            i = _quoted_end(text, i, '"', backslash=False)
        elif (
            ch == "$"
            and (m := _DOLLAR.match(text, i))
            and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"))
        ):
            close = text.find(m.group(0), m.end())
            i = n if close < 0 else close + len(m.group(0))
        elif ch == ";":
            _add(statements, text, start, i)
            start = i = i + 1
        else:
            i += 1
    _add(statements, text, start, n)
    return statements


def strip_comments(text: str) -> str:
    """``text`` with comments replaced by spaces (strings and quoted names kept)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("--", i):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            out.append(" ")
        elif text.startswith("/*", i):
            i = _block_comment_end(text, i)
            out.append(" ")
        elif text[i] in "'\"":
            end = _quoted_end(text, i, text[i], backslash=False)
            out.append(text[i:end])
            i = end
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _add(statements: list[Statement], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    if not strip_comments(chunk).strip():
        return
    begin = start
    while begin < end:  # the statement starts after its leading blanks and comments
        if text[begin].isspace():
            begin += 1
        elif text.startswith("--", begin):
            nl = text.find("\n", begin)
            begin = end if nl < 0 else nl + 1
        elif text.startswith("/*", begin):
            begin = _block_comment_end(text, begin)
        else:
            break
    statements.append(Statement(text[begin:end].rstrip(), begin, text.count("\n", 0, begin) + 1))


def _block_comment_end(text: str, i: int) -> int:
    depth, i, n = 1, i + 2, len(text)
    while i < n and depth:
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return i


def _quoted_end(text: str, i: int, quote: str, *, backslash: bool) -> int:
    i, n = i + 1, len(text)
    while i < n:
        if backslash and text[i] == "\\":
            i += 2
        elif text[i] == quote:
            if i + 1 < n and text[i + 1] == quote:
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return n
