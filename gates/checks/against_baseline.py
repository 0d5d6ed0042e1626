"""The new release judged against the one it replaces: layout, per-route latency, memory, memory growth.

Pure judges over what the gate measured of both releases in the same run (the visual comparison
of their screenshots is gates.checks.visual). Each returns a Measurement naming both figures, so a
failure says what regressed, by how much, against what.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from gates.core.measurement import Measurement

# Run in the page once it is ready: how much of it is styled and laid out. An unstyled page (its
# stylesheet lost) has no CSS rule applied and every block stacked at the left edge in the default font.
LAYOUT_SCRIPT = """() => {
  let rules = 0;
  for (const sheet of document.styleSheets) {
    try { rules += sheet.cssRules.length; } catch (e) { rules += 1; }  // cross-origin: present, unreadable
  }
  const body = getComputedStyle(document.body);
  const blocks = [...document.body.querySelectorAll('*')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  });
  const lefts = new Set(blocks.map(e => Math.round(e.getBoundingClientRect().left)));
  return {
    rules: rules, elements: blocks.length, columns: lefts.size,
    font: body.fontFamily, background: body.backgroundColor, margin: body.margin,
    width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
  };
}"""
_DEFAULT_BACKGROUNDS = ("rgba(0, 0, 0, 0)", "transparent")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` percentile (0..1) of ``values`` by the nearest-rank method (no interpolation)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def layout_holds(layout: Mapping[str, Any] | None, baseline: Mapping[str, Any] | None = None) -> Measurement:
    """The dashboard is styled and laid out: its stylesheet applies (CSS rules, a styled body) and its blocks
    are not all stacked in one column. Fails whatever the baseline; the baseline's figures are said beside."""
    question = "the dashboard is styled and laid out (its stylesheet applies)"
    expected = "CSS rules applied, a styled body, blocks laid out in more than one column"
    if not layout:
        problem = "the page's layout could not be measured (no answer from the page; fail closed)"
        return Measurement("layout", question, "not measured", expected, False, "LAYOUT_SCRIPT", problems=[problem])
    problems = []
    styled_body = layout.get("background") not in _DEFAULT_BACKGROUNDS or layout.get("margin") != "8px"
    if int(layout.get("rules", 0)) == 0:
        problems.append("no CSS rule applies to the page: its stylesheet is missing")
    elif not styled_body and int(layout.get("columns", 0)) <= 1:
        problems.append("the page shows the browser's default style, every block in one column: its layout collapsed")
    before = f"; the release it replaces: {_said(baseline)}" if baseline else ""
    observed = _said(layout)
    return Measurement("layout", question, observed + before, expected, not problems, "LAYOUT_SCRIPT in the page",
                       details=[dict(layout)], problems=problems)  # fmt: skip


def _said(layout: Mapping[str, Any]) -> str:
    return f"{layout.get('rules', 0)} CSS rules, {layout.get('columns', 0)} columns, {layout.get('elements', 0)} blocks"


def latency_holds(
    baseline: Mapping[str, Sequence[float]],
    candidate: Mapping[str, Sequence[float]],
    *,
    max_p50_ratio: float,
    max_p95_ratio: float,
    floor_ms: float,
    failures: Mapping[str, str] | None = None,
    source: str = "",
) -> Measurement:
    """Each route answers as fast as in the release it replaces: its p50 and p95 (seconds, from interleaved
    samples of both) within the ratios, or slower by no more than ``floor_ms``. A route with no sample on
    either side, or a failed request, fails closed."""
    question = "each route answers as fast as in the release it replaces"
    expected = f"p50 at most {max_p50_ratio:g}x, p95 at most {max_p95_ratio:g}x (or within {floor_ms:g} ms)"
    problems = [f"{route}: {why}" for route, why in (failures or {}).items()]
    rows: list[dict[str, Any]] = []
    for route in sorted(set(baseline) | set(candidate)):
        old, new = baseline.get(route, ()), candidate.get(route, ())
        if not old or not new:
            side = "the release it replaces" if not old else "the new release"
            problems.append(f"{route}: no sample of {side} (fail closed)")
            continue
        row: dict[str, Any] = {"route": route, "samples": min(len(old), len(new))}
        for name, q, limit in (("p50", 0.5, max_p50_ratio), ("p95", 0.95, max_p95_ratio)):
            before, now = percentile(old, q), percentile(new, q)
            ratio = now / before if before > 0 else math.inf
            row |= {f"{name}_before_ms": round(before * 1000, 1), f"{name}_now_ms": round(now * 1000, 1)}
            if ratio > limit and (now - before) * 1000 > floor_ms:
                problems.append(
                    f"{route}: {name} {now * 1000:.0f} ms against {before * 1000:.0f} ms in the release it replaces "
                    f"({ratio:.1f}x, limit {limit:g}x)"
                )
        rows.append(row)
    observed = "; ".join(f"{r['route']} p50 {r['p50_now_ms']:g}/{r['p50_before_ms']:g} ms" for r in rows) or "none"
    return Measurement("latency against the release replaced", question, observed, expected, not problems,
                       source or "interleaved requests to both releases", details=rows, problems=problems)  # fmt: skip


def memory_holds(
    baseline: Mapping[str, int], candidate: Mapping[str, int], *, max_ratio: float, floor_mb: float, source: str = ""
) -> Measurement:
    """Each instance of the new release holds no more resident memory than the release it replaces (the largest
    of its instances) times ``max_ratio``, or more by no more than ``floor_mb``. No figure on either side fails."""
    question = "each instance holds memory like the release it replaces"
    expected = f"at most {max_ratio:g}x the release replaced (or within {floor_mb:g} MB)"
    problems: list[str] = []
    if not baseline or not candidate or not all(baseline.values()) or not all(candidate.values()):
        problems.append("resident memory not measured on both releases (an instance gone?): fail closed")
    before = max(baseline.values(), default=0)
    for instance, rss in sorted(candidate.items()):
        if before and rss / before > max_ratio and (rss - before) / 2**20 > floor_mb:
            problems.append(
                f"instance {instance}: {rss / 2**20:.0f} MB against {before / 2**20:.0f} MB in the release it "
                f"replaces ({rss / before:.1f}x, limit {max_ratio:g}x)"
            )
    observed = ", ".join(f"{i} {v / 2**20:.0f} MB" for i, v in sorted(candidate.items()))
    observed += f" (release replaced: {before / 2**20:.0f} MB)"
    details = [{"instance": i, "rss_bytes": v, "release": "new"} for i, v in candidate.items()]
    details += [{"instance": i, "rss_bytes": v, "release": "replaced"} for i, v in baseline.items()]
    return Measurement("memory against the release replaced", question, observed, expected, not problems,
                       source or "/proc/<pid>/status VmRSS of each instance's process tree", details=details,
                       problems=problems)  # fmt: skip


def memory_growth(
    points: Mapping[str, Sequence[tuple[int, int]]], *, max_kb_per_request: float, floor_mb: float, min_points: int = 5
) -> Measurement:
    """Memory does not grow steadily with requests: per instance, (requests served so far, resident bytes)
    points through the window; a least-squares slope above ``max_kb_per_request`` with a total growth above
    ``floor_mb`` and rising in most steps fails. Too few points fails closed."""
    question = "memory does not grow steadily with requests through the window"
    expected = f"at most {max_kb_per_request:g} KB per request (or {floor_mb:g} MB in all)"
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    for instance, seen in sorted(points.items()):
        if len(seen) < min_points:
            problems.append(f"instance {instance}: {len(seen)} memory samples, fewer than {min_points} (fail closed)")
            continue
        slope = _slope([float(r) for r, _ in seen], [float(b) for _, b in seen]) / 1024
        grown = (seen[-1][1] - seen[0][1]) / 2**20
        rises = sum(1 for a, b in itertools.pairwise(seen) if b[1] > a[1]) / (len(seen) - 1)
        rows.append({"instance": instance, "kb_per_request": round(slope, 1), "grown_mb": round(grown, 1)})
        if slope > max_kb_per_request and grown > floor_mb and rises >= 0.5:
            problems.append(
                f"instance {instance}: memory grew {grown:.0f} MB over {seen[-1][0] - seen[0][0]} requests "
                f"({slope:.0f} KB per request, limit {max_kb_per_request:g})"
            )
    if not points:
        problems.append("no memory sample in the window (fail closed)")
    observed = "; ".join(f"{r['instance']} {r['kb_per_request']:g} KB/request, +{r['grown_mb']:g} MB" for r in rows)
    return Measurement("memory growth", question, observed or "none", expected, not problems,
                       "/proc/<pid>/status VmRSS through the monitor window", details=rows,
                       problems=problems)  # fmt: skip


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def as_configured(measurement: Measurement, mode: str, accepted_by: str = "", what: str = "") -> Measurement:
    """A comparison's verdict as configured: a failure accepted by a named person (``--accept-visual``) passes
    saying by whom; in ``warn`` mode it passes saying it only warns; else it stands."""
    if measurement.ok:
        return measurement
    if accepted_by:
        return dataclasses.replace(
            measurement, ok=True, observed=f"{measurement.observed}; accepted by {accepted_by}",
            problems=[f"accepted by {accepted_by} (--accept-visual): {p}" for p in measurement.problems],
        )  # fmt: skip
    if mode == "warn":
        said = f'warned, not failed ([comparison] {what} = "warn")'
        return dataclasses.replace(measurement, ok=True, problems=[f"{said}: {p}" for p in measurement.problems])
    return measurement
