"""The release replaced and the new one, side by side, as pictures for the report: latency per route, memory.

Drawn as the monitor's own plots are (``gates.monitor.plot.figure``: Agg backend, PNG). The release being
replaced is grey, the new one green, in every plot, so a reader never has to look up the legend twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from gates.monitor.evaluate import percentile
from gates.monitor.plot import figure

BEFORE_COLOUR = "#888"
NOW_COLOUR = "#2a7"
_MB = 2**20


def plot_latency_comparison(
    baseline: Mapping[str, Sequence[float]],
    candidate: Mapping[str, Sequence[float]],
    title: str,
    path: Path,
    *,
    labels: tuple[str, str] = ("before", "now"),
) -> Path:
    """Per route, p50 (solid) and p95 (hatched) of both releases as bars side by side, in milliseconds;
    ``baseline``/``candidate``: request durations in seconds per route. A route one side lacks has no bar there."""
    routes = sorted(set(baseline) | set(candidate))
    with figure(path, size=(9, 1.6 + 0.45 * max(len(routes), 1))) as (_, ax):
        height = 0.2
        for side, (samples, colour, label) in enumerate(
            ((baseline, BEFORE_COLOUR, labels[0]), (candidate, NOW_COLOUR, labels[1]))
        ):
            for rank, (q, hatch) in enumerate(((0.5, ""), (0.95, "//"))):
                offset = (side * 2 + rank - 1.5) * height
                values = [(percentile(samples.get(route, ()), q) or 0.0) * 1000 for route in routes]
                ax.barh([i + offset for i in range(len(routes))], values, height=height, color=colour,
                        hatch=hatch, edgecolor="white", label=f"{label} p{round(q * 100)}")  # fmt: skip
        ax.set_yticks(range(len(routes)), routes, fontsize=8)
        ax.invert_yaxis()  # the first route on top, as in the report's table
        ax.set_xlabel("request duration (ms)")
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return path


def plot_memory_comparison(
    baseline: Sequence[tuple[float, float]],
    candidate: Sequence[tuple[float, float]],
    title: str,
    path: Path,
    *,
    unit: str = "requests served",
    labels: tuple[str, str] = ("before", "now"),
    limit: float | None = None,
) -> Path:
    """Resident memory of both releases over what they served (or over time: ``unit``), one line each, in MB;
    ``baseline``/``candidate``: (requests served or seconds, RSS bytes). ``limit``: bytes, drawn across."""
    with figure(path) as (_, ax):
        for series, colour, label in ((baseline, BEFORE_COLOUR, labels[0]), (candidate, NOW_COLOUR, labels[1])):
            ordered = sorted(series)
            ax.plot([x for x, _ in ordered], [y / _MB for _, y in ordered], color=colour, marker=".", markersize=4,
                    linewidth=1.2, label=label)  # fmt: skip
        if limit is not None:
            ax.axhline(limit / _MB, color="#a60", linestyle="--", linewidth=1, label=f"limit {limit / _MB:.0f} MB")
        ax.set_xlabel(unit)
        ax.set_ylabel("resident memory (MB)")
        ax.set_ylim(bottom=0)  # from zero: a 2 MB wobble must not look like a cliff
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return path
