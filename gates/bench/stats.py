"""Figures of repeated runs: the median, with the min and max beside it, and every run's value."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence

MIN_RUNS = 5  # every figure of the bench is the median of at least this many runs


@dataclasses.dataclass(frozen=True)
class Figure:
    name: str
    unit: str
    values: tuple[float, ...]
    target: str = ""
    met: bool | None = None
    pending: bool = False  # a slot of the table whose scenario is not written yet: nothing measured, no verdict

    @property
    def runs(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else math.nan

    @property
    def low(self) -> float:
        return min(self.values) if self.values else math.nan

    @property
    def high(self) -> float:
        return max(self.values) if self.values else math.nan

    def as_dict(self) -> dict[str, object]:
        """The figure as the JSON report holds it: min, median and max of its runs (null when none ran)."""

        def number(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "name": self.name,
            "unit": self.unit,
            "min": number(self.low),
            "median": number(self.median),
            "max": number(self.high),
            "runs": self.runs,
            "values": list(self.values),
            "target": self.target,
            "met": self.met,
            "pending": self.pending,
        }


def figure(name: str, unit: str, values: Sequence[float], target: str = "", met: bool | None = None) -> Figure:
    """Summarise ``values``; an empty list is a figure of nothing (NaN), never a made-up zero, and a missed target."""
    if not values:
        return Figure(name, unit, (), target, False if target else None)
    return Figure(name, unit, tuple(values), target, met)


def pending(name: str, unit: str, target: str = "") -> Figure:
    """A slot in the table for a figure no scenario measures yet: shown with its target, judged by nobody."""
    return Figure(name, unit, (), target, None, pending=True)


def median_within(values: Sequence[float], bound: float) -> bool:
    """Whether the median of ``values`` is at most ``bound`` (nothing measured: not met)."""
    return bool(values) and statistics.median(values) <= bound


def median_at_least(values: Sequence[float], bound: float) -> bool:
    return bool(values) and statistics.median(values) >= bound


def table(figures: Sequence[Figure]) -> str:
    rows = [("figure", "median", "min", "max", "runs", "target", "met")]
    for f in figures:
        if f.pending:
            rows.append((f.name, f"- {f.unit}", "-", "-", "0", f.target, "not measured yet"))
            continue
        met = "" if f.met is None else ("yes" if f.met else "NO")
        rows.append((f.name, f"{f.median:.3f} {f.unit}", f"{f.low:.3f}", f"{f.high:.3f}", str(f.runs), f.target, met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows)
