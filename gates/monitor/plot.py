"""The monitor window as a picture: each request's duration over time, failures in red, the p95 limit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gates.monitor.sampler import Sample


def plot_window(samples: Sequence[Sample], max_p95: float, title: str, path: Path) -> Path:
    """Write a PNG with the Agg backend (no display needed); return its path."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.5), dpi=100)
    try:
        t0 = samples[0].at if samples else 0.0
        ok = [s for s in samples if not s.failed]
        bad = [s for s in samples if s.failed]
        ax.scatter([s.at - t0 for s in ok], [s.seconds for s in ok], s=8, color="#2a7", label="ok")
        ax.scatter([s.at - t0 for s in bad], [s.seconds for s in bad], s=18, color="#d22", marker="x", label="failed")
        ax.axhline(max_p95, color="#a60", linestyle="--", linewidth=1, label=f"p95 limit {max_p95:g}s")
        ax.set_xlabel("seconds into the window")
        ax.set_ylabel("request duration (s)")
        ax.set_title(title)
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
