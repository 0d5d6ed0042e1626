"""Figures of repeated runs: median with min and max."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class Figure:
    name: str
    unit: str
    median: float
    low: float
    high: float
    runs: int
    target: str = ""
    met: bool | None = None

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def figure(name: str, unit: str, values: Sequence[float], target: str = "", met: bool | None = None) -> Figure:
    """Summarise ``values``; an empty list is a figure of nothing (NaN), never a made-up zero."""
    if not values:
        nan = float("nan")
        return Figure(name, unit, nan, nan, nan, 0, target, False if target else None)
    return Figure(name, unit, statistics.median(values), min(values), max(values), len(values), target, met)


def table(figures: Sequence[Figure]) -> str:
    rows = [("figure", "median", "min", "max", "runs", "target", "met")]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "NO")
        rows.append((f.name, f"{f.median:.3f} {f.unit}", f"{f.low:.3f}", f"{f.high:.3f}", str(f.runs), f.target, met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows)
