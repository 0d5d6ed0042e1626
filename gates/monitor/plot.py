"""Samples as a picture: each request's duration over time, failures in red, limits and moments marked.

One plot serves the monitor window (the p95 limit drawn across) and the rollout's traffic probe
(answers coloured by the release that gave them, the switch to the new release marked).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gates.monitor.sampler import Sample

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_RELEASE_COLOURS = ("#888", "#2a7", "#27c", "#c7a", "#a60")


def plot_window(samples: Sequence[Sample], max_p95: float, title: str, path: Path) -> Path:
    """The monitor window: durations and failures, the p95 limit."""
    return plot_timeline(samples, title, path, limit=(max_p95, f"p95 limit {max_p95:g}s"))


def plot_timeline(
    samples: Sequence[Sample],
    title: str,
    path: Path,
    *,
    limit: tuple[float, str] | None = None,
    marks: Sequence[tuple[float, str]] = (),
    by_release: bool = False,
) -> Path:
    """Write a PNG; return its path.

    ``marks``: (epoch seconds, label) drawn as vertical lines; ``by_release``: successful answers
    coloured by their release (``Sample.release``) instead of one colour.
    """
    with figure(path) as (_, ax):
        t0 = min((s.at for s in samples), default=0.0)
        ok = [s for s in samples if not s.failed]
        groups = {s.release for s in ok} if by_release else {""}
        for i, release in enumerate(sorted(groups, key=lambda r: (len(r), r))):
            group = [s for s in ok if s.release == release] if by_release else ok
            colour = _RELEASE_COLOURS[i % len(_RELEASE_COLOURS)] if by_release else "#2a7"
            label = f"ok, release {release or '?'}" if by_release else "ok"
            ax.scatter([s.at - t0 for s in group], [s.seconds for s in group], s=6, color=colour, label=label)
        bad = [s for s in samples if s.failed]
        ax.scatter([s.at - t0 for s in bad], [s.seconds for s in bad], s=18, color="#d22", marker="x", label="failed")
        if limit is not None:
            ax.axhline(limit[0], color="#a60", linestyle="--", linewidth=1, label=limit[1])
        for at, text in marks:
            ax.axvline(at - t0, color="#555", linestyle=":", linewidth=1)
            ax.annotate(text, (at - t0, 1.0), xycoords=("data", "axes fraction"), fontsize=7, rotation=90,
                        va="top", ha="right")  # fmt: skip
        ax.set_xlabel("seconds since the first request")
        ax.set_ylabel("request duration (s)")
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)  # outside: never over a mark
    return path


@contextlib.contextmanager
def figure(path: Path, *, size: tuple[float, float] = (9, 3.5)) -> Iterator[tuple[Figure, Axes]]:
    """A figure of one plot, drawn with the Agg backend (no display needed), written to ``path`` as PNG when the
    block ends, and closed whatever happens (pyplot keeps every open figure alive)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=size, dpi=100)
    try:
        yield fig, ax
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
