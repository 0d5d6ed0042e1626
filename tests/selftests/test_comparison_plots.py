"""The release replaced and the new one drawn side by side for the report: latency per route, memory over requests."""

from __future__ import annotations

from PIL import Image

from gates.monitor.compareplot import BEFORE_COLOUR, NOW_COLOUR, plot_latency_comparison, plot_memory_comparison

MB = 2**20


def colours(path) -> set[tuple[int, int, int]]:
    image = Image.open(path).convert("RGB")
    return {colour for _, colour in image.getcolors(maxcolors=image.width * image.height)}


def rgb(hex_colour: str) -> tuple[int, int, int]:
    short = hex_colour.lstrip("#")
    return tuple(int(c * 2, 16) for c in short)  # type: ignore[return-value]


def test_latency_of_both_releases_is_one_png_with_both_colours(tmp_path):
    """Each route's p50 and p95 of both releases as bars: a PNG with the replaced release's grey and the new green;
    a route only one side has is still drawn."""
    baseline = {"/app": [0.1, 0.12, 0.2], "/api/tiles": [0.03, 0.05]}
    candidate = {"/app": [0.3, 0.35, 0.6], "/api/tiles": [0.03, 0.04], "/new": [0.01]}
    path = plot_latency_comparison(baseline, candidate, "latency, release 4 vs 5", tmp_path / "plots" / "latency.png")
    assert path == tmp_path / "plots" / "latency.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    found = colours(path)
    assert rgb(BEFORE_COLOUR) in found and rgb(NOW_COLOUR) in found


def test_memory_of_both_releases_is_one_png_with_both_lines(tmp_path):
    """Both series of (requests served, RSS) drawn as lines, with an optional limit; empty series draw nothing."""
    flat = [(float(r), 120.0 * MB) for r in range(0, 3000, 100)]
    leak = [(float(r), 120.0 * MB + 20_000.0 * r) for r in range(0, 3000, 100)]
    path = plot_memory_comparison(flat, leak, "memory, release 4 vs 5", tmp_path / "memory.png", limit=200 * MB)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    found = colours(path)
    assert rgb(BEFORE_COLOUR) in found and rgb(NOW_COLOUR) in found
    assert plot_memory_comparison([], [], "no readings", tmp_path / "empty.png").is_file()
