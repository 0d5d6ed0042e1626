"""The comparison as pictures: each route's durations of both releases, each instance's resident memory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gates.gaterun.comparison.baseline import Pair
from gates.gaterun.comparison.sampling import Sampled

_COLOURS = {"baseline": "#888", "candidate": "#27c"}


def _label(pair: Pair, side: str) -> str:
    release = (
        pair.baseline.release
        if side == "baseline" and pair.baseline
        else pair.candidate.release
        if pair.candidate
        else "?"
    )
    return f"release {release} ({'replaced' if side == 'baseline' else 'new'})"


def plot_latency(sampled: Sampled, pair: Pair, path: Path) -> Path:
    """Per route, both releases' request durations side by side (a dot per request); written with Agg."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    routes = sorted({t.route for t in sampled.timings})
    fig, ax = plt.subplots(figsize=(9, 3.5), dpi=100)
    try:
        for side, offset in (("baseline", -0.15), ("candidate", 0.15)):
            seconds = sampled.seconds(side)
            xs = [i + offset for i, r in enumerate(routes) for _ in seconds.get(r, ())]
            ys = [s * 1000 for r in routes for s in seconds.get(r, ())]
            ax.scatter(xs, ys, s=8, color=_COLOURS[side], label=_label(pair, side))
        ax.set_xticks(range(len(routes)), routes, fontsize=7, rotation=15)
        ax.set_ylabel("request duration (ms)")
        ax.set_yscale("log")
        ax.set_title("latency per route, both releases interleaved", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def plot_memory(baseline: Mapping[str, int], candidate: Mapping[str, int], pair: Pair, path: Path) -> Path:
    """Each instance's resident memory, the release replaced's beside the new one's; written with Agg."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3), dpi=100)
    try:
        bars = [(f"{i}", v, "baseline") for i, v in sorted(baseline.items())]
        bars += [(f"{i}", v, "candidate") for i, v in sorted(candidate.items())]
        ax.bar(range(len(bars)), [v / 2**20 for _, v, _ in bars], color=[_COLOURS[s] for _, _, s in bars])
        ax.set_xticks(range(len(bars)), [n for n, _, _ in bars], fontsize=7)
        for side in ("baseline", "candidate"):
            ax.bar([], [], color=_COLOURS[side], label=_label(pair, side))
        ax.set_ylabel("resident memory (MB)")
        ax.set_title("resident memory of each instance after the same requests", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
