"""Line numbers of keys in TOML and JSON text, so a finding can say where to look.

Parsing gives values without positions (tomllib, json); these finders scan the text for the
line a dotted key is set on. A key that is not set resolves to its nearest table that is (a
missing ``deploy.strategy`` points at ``[deploy]``); nothing set at all is ``None``.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=""")
_INDEX = re.compile(r"\[\d+\]")


def _parts(raw: str) -> list[str]:
    return [a or b or c for a, b, c in re.findall(r""""([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+)""", raw)]


def _table(parts: list[str], counts: dict[str, int]) -> str:
    """A header's key path, each array table on the way indexed by its latest element."""
    resolved = ""
    for i, part in enumerate(parts):
        resolved = f"{resolved}.{part}" if resolved else part
        if i < len(parts) - 1 and resolved in counts:
            resolved += f"[{counts[resolved] - 1}]"
    return resolved


def toml_lines(text: str) -> dict[str, int]:
    """Every table and key of a TOML document -> its 1-based line (array tables indexed: ``a.b[0].c``)."""
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    table = ""
    multiline = False
    for number, line in enumerate(text.splitlines(), start=1):
        if multiline:  # inside a multi-line string: no keys here
            multiline = line.count('"""') % 2 == 0 and line.count("'''") % 2 == 0
            continue
        header = _HEADER.match(line)
        if header:
            # A table nested in an array table belongs to that array's latest element.
            table = _table(_parts(header.group(2)), counts)
            if header.group(1) == "[[":
                index = counts.get(table, 0)
                counts[table] = index + 1
                table = f"{table}[{index}]"
            lines.setdefault(table, number)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            key = ".".join(_parts(assign.group(1)))
            lines.setdefault(f"{table}.{key}" if table else key, number)
            multiline = (line.count('"""') == 1) or (line.count("'''") == 1)
    return lines


def line_of(lines: dict[str, int], key: str) -> int | None:
    """The line ``key`` is set on, else that of its nearest enclosing table or key that is set."""
    parts = key.split(".")
    while parts:
        found = lines.get(".".join(parts))
        if found is not None:
            return found
        last = parts.pop()
        if _INDEX.search(last):  # services[0] missing: try services
            parts.append(_INDEX.sub("", last))
            found = lines.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
    return None


def json_line(text: str, *keys: str) -> int | None:
    """The line of the nested key ``keys`` (e.g. "scripts", "start") in JSON text, by successive search."""
    position = 0
    for key in keys:
        match = re.compile(rf'"{re.escape(key)}"\s*:').search(text, position)
        if match is None:
            return None
        position = match.end()
    return text.count("\n", 0, position) + 1
