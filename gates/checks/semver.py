"""Does a Node version satisfy a package.json ``engines.node`` range? A small node-semver subset.

Covers the forms people write: comparators (``>= > < <= =``), caret ``^``, tilde ``~``, x-ranges
(``20``, ``20.x``, ``*``), hyphen ranges (``18 - 20``), space-separated intersections and ``||``
unions. Pre-release tags are ignored. A version may be partial (a Docker tag ``node:20``): it
floats to the newest release of its line, so it is compared as the highest version of that line.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

Version = tuple[int, int, int]
TOP = 10**9  # the newest minor/patch of a line: ``node:20`` is 20.<newest>.<newest>
_PARTIAL = re.compile(r"^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:[-+].*)?$")
_COMPARATOR = re.compile(r"^(>=|<=|>|<|=|\^|~>?)?\s*(.+)$")


class RangeError(ValueError):
    """The text is not a version range this module understands."""


def _partial(text: str) -> list[int]:
    """The numeric parts given ("20.10" -> [20, 10]); x, X and * end the version."""
    m = _PARTIAL.match(text.strip())
    if not m:
        raise RangeError(f"not a version: {text!r}")
    parts: list[int] = []
    for group in m.groups():
        if group is None or group in "xX*":
            break
        parts.append(int(group))
    return parts


def floating(text: str) -> Version:
    """A version as a floating tag means it: missing parts are the newest of the line."""
    parts = _partial(text)
    if not parts:
        raise RangeError(f"no major version in {text!r}")
    padded = [*parts, TOP, TOP][:3]
    return padded[0], padded[1], padded[2]


def _floor(parts: list[int]) -> Version:
    padded = [*parts, 0, 0, 0][:3]
    return padded[0], padded[1], padded[2]


def _next(parts: list[int]) -> Version:
    """The first version past the line ``parts`` names: 20 -> 21.0.0, 20.10 -> 20.11.0."""
    bumped = [*parts[:-1], parts[-1] + 1]
    return _floor(bumped)


Bound = tuple[str, Version]  # (">=" | "<" | "<=" ..., version)


def _comparator(token: str) -> list[Bound]:
    m = _COMPARATOR.match(token)
    if not m:
        raise RangeError(f"not a comparator: {token!r}")
    op, parts = m.group(1) or "", _partial(m.group(2))
    if not parts:  # *, x: anything
        return [] if op in ("", "=", ">=", "<=", "^", "~") else [("<", (0, 0, 0))]
    if op == "^":
        first = next((i for i, p in enumerate(parts) if p != 0), len(parts) - 1)
        return [(">=", _floor(parts)), ("<", _next(parts[: first + 1]))]
    if op in ("~", "~>"):
        return [(">=", _floor(parts)), ("<", _next(parts[:2]))]
    if op in ("", "="):
        return [("=", _floor(parts))] if len(parts) == 3 else [(">=", _floor(parts)), ("<", _next(parts))]
    if op == ">":
        return [(">", _floor(parts))] if len(parts) == 3 else [(">=", _next(parts))]
    if op == "<=":
        return [("<=", _floor(parts))] if len(parts) == 3 else [("<", _next(parts))]
    return [(op, _floor(parts))]  # >= and <


def _set(text: str) -> list[Bound]:
    """One comparator set (space-separated, all must hold), hyphen ranges included."""
    text = re.sub(r"(>=|<=|>|<|=|\^|~>?)\s+", r"\1", text.strip())
    hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text)
    if hyphen:
        low, high = _partial(hyphen.group(1)), _partial(hyphen.group(2))
        upper: list[Bound] = [("<=", _floor(high))] if len(high) == 3 else [("<", _next(high))] if high else []
        return [(">=", _floor(low)), *upper]
    bounds: list[Bound] = []
    for token in text.split():
        bounds += _comparator(token)
    return bounds


def parse_range(text: str) -> list[list[Bound]]:
    """A range as a union of comparator sets; RangeError when it cannot be read."""
    if not text.strip():
        raise RangeError("empty range")
    return [_set(part) for part in text.split("||")]


_OPS: dict[str, Callable[[Version, Version], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
}


def satisfies(version: Version, text: str) -> bool:
    """Whether ``version`` is in range ``text`` (RangeError when the range cannot be read)."""
    return any(all(_OPS[op](version, bound) for op, bound in group) for group in parse_range(text))


def show(version: Version) -> str:
    return ".".join(str(part) for part in version if part != TOP) + (".x" if TOP in version else "")
