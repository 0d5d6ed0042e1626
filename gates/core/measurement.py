"""Measurement: what a check asked, what it saw, and the verdict.

Checks return Measurements; molecules attach them to the report and assert
on them, so a failed gate says value, condition and source -- never just
"failed".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from gates.core.redact import redact


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One observation of a release, with its verdict."""

    name: str
    question: str
    observed: Any
    expected: Any
    ok: bool
    source: str
    at: dt.datetime = dataclasses.field(default_factory=utcnow)
    details: Sequence[Mapping[str, Any]] = ()
    problems: Sequence[str] = ()

    def __post_init__(self) -> None:
        # Redact at the source: a Measurement may end in a report, a log or a record.
        object.__setattr__(self, "source", redact(self.source))
        object.__setattr__(self, "problems", tuple(redact(p) for p in self.problems))

    @property
    def stamp(self) -> str:
        return self.at.strftime("%H:%M:%SZ")

    def summary(self) -> str:
        """One line: source -> observed, expected ..., (time)."""
        verdict = "ok" if self.ok else "FAILED"
        return redact(
            f"{self.name}: {verdict}: {self.source} -> {self.observed}, expected {self.expected} ({self.stamp})"
        )

    def explain(self) -> str:
        """The failure message of a molecule: the summary, then each problem on its line."""
        lines = [self.summary()]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "question": self.question,
            "observed": _plain(self.observed),
            "expected": _plain(self.expected),
            "ok": self.ok,
            "source": self.source,
            "at": self.at.isoformat(),
            "problems": list(self.problems),
            "details": [_plain(d) for d in self.details],
        }


def _plain(value: Any) -> Any:
    """JSON-safe copy of a value, redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return redact(str(value))
