"""Browser checks: what one visit of the dashboard saw, judged without a browser.

``gates.gaterun.browser`` drives Chromium once per gate run and records a ``Visit`` (of the Admin page
embedding the dashboard, or of the dashboard itself when no Admin is configured); the functions
here turn it into Measurements (the dashboard became ready within its bound, every tile shows
data, no console error in any frame during the load and the settle window after it), so they are
pure and testable with a hand-made Visit.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from typing import Any

from gates.config import AllowedNoise
from gates.core.measurement import Measurement

ERROR_KINDS = ("console.error", "pageerror", "requestfailed", "response")


@dataclasses.dataclass(frozen=True)
class PageEvent:
    """One console message, uncaught error, failed request or error response, from any frame."""

    kind: str  # console.<type> | pageerror | requestfailed | response
    text: str
    url: str  # the script, document or request it came from

    @property
    def is_error(self) -> bool:
        return self.kind in ERROR_KINDS

    def line(self) -> str:
        return f"[{self.kind}] {self.text}" + (f" ({self.url})" if self.url else "")


@dataclasses.dataclass(frozen=True)
class Document:
    """The HTTP answer a frame's document came with: the page the browser opened, and the app's frame."""

    where: str  # "the Admin page" | "the app frame" | "the dashboard"
    url: str
    status: int | None  # None: no answer was seen for it

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def problem(self) -> str:
        if self.status is None:
            return f"no HTTP answer was seen for {self.where}'s document {self.url}"
        return f"{self.where} {self.url} answered HTTP {self.status}"


@dataclasses.dataclass(frozen=True)
class Tile:
    name: str
    value: str
    error: bool


@dataclasses.dataclass(frozen=True)
class Visit:
    """The page opened once: did the dashboard become ready (in the Admin's frame, or on its own when
    ``admin_url`` is empty), what it showed, what every frame logged until the settle window ended."""

    admin_url: str  # empty: the dashboard was visited directly, not embedded
    dashboard_url: str
    frame: str
    waited_for: str
    timeout: float
    loaded: bool
    load_error: str = ""
    seconds: float | None = None
    tiles: tuple[Tile, ...] = ()
    events: tuple[PageEvent, ...] = ()
    screenshot: bytes | None = None
    settle: float = 0.0  # seconds the page was watched after it became ready
    stalled: str = ""  # a browser call after readiness that got no answer (the screenshot...)
    video: bytes | None = None  # the visit as an animated WebP
    # The answer of each document judged (the page's, and the app frame's when embedded); none: not opened.
    documents: tuple[Document, ...] = ()
    silent: str = ""  # the URL the visit opened that gave no answer within the bound (a hung server)
    # What gates.checks.layout's probe answered in the dashboard's frame (its JSON); None: not asked, or no answer.
    layout: Any = None

    @property
    def embedded(self) -> bool:
        return bool(self.admin_url)

    def console_log(self) -> str:
        """Every event of every frame, one a line, with its source URL."""
        return "\n".join(e.line() for e in self.events) or "(nothing was logged)"


def _frame_desc(visit: Visit) -> str:
    """Where the dashboard was looked at: the Admin's frame showing it, or the dashboard itself."""
    if not visit.embedded:
        return f"{visit.dashboard_url} (visited directly: no admin_url)"
    return f'iframe[name="{visit.frame}"] of {visit.admin_url} -> {visit.dashboard_url}'


def dashboard_loaded(visit: Visit) -> Measurement:
    """The dashboard becomes ready (inside the Admin's app frame when there is one) within the bound, and every
    document it took answered 2xx: a 404 page that renders (and hydrates) is not the dashboard."""
    problems: list[str] = []
    if not visit.loaded:
        problems.append(visit.load_error or f"waited {visit.timeout:g}s for {visit.waited_for}")
    # Fail closed: a visit that opened the page judges each document's answer; one never seen is no 2xx.
    problems += [d.problem() for d in visit.documents if not d.ok and d.problem() not in problems]
    if visit.loaded and not visit.documents:
        problems.append("no document's HTTP answer was recorded")
    if not visit.loaded:
        # The browser usually says why a frame stayed empty (a refused frame-ancestors, a 404...).
        problems += [f"seen meanwhile: {e.line()}" for e in visit.events if e.is_error][:5]
    if visit.stalled:
        problems.append(visit.stalled)
    where = "inside the Admin's app frame" if visit.embedded else "on its own (no Admin configured)"
    ready = visit.loaded and visit.seconds is not None
    return Measurement(
        name="dashboard in the Admin frame" if visit.embedded else "dashboard ready",
        question=f"the dashboard becomes ready {where} within its bound, from documents that answered 2xx",
        observed=(f"ready in {visit.seconds:.1f}s" if ready else "not ready")
        + "".join(f"; {d.where}: HTTP {d.status if d.status is not None else '(none)'}" for d in visit.documents),
        expected=f"{visit.waited_for} within {visit.timeout:g}s, every document 2xx",
        ok=visit.loaded and not visit.stalled and not problems,
        source=_frame_desc(visit),
        problems=problems,
    )


def tiles_show_data(visit: Visit, expected: Sequence[str]) -> Measurement:
    """Every expected tile is present, with a non-empty value, not in its error state."""
    problems: list[str] = []
    seen = {t.name: t for t in visit.tiles}
    if not visit.loaded:
        problems.append(f"the dashboard did not load, so no tile could be checked ({visit.load_error})")
    elif not visit.tiles:
        problems.append("no tile on the dashboard")
    for name in expected:
        if visit.loaded and name not in seen:
            problems.append(f"tile {name!r} is missing")
    for tile in visit.tiles:
        if tile.error:
            problems.append(f"tile {tile.name!r} is in its error state: {tile.value!r}")
        elif not tile.value.strip():
            problems.append(f"tile {tile.name!r} is empty")
    return Measurement(
        name="tiles show data",
        question="every tile the config names is present, non-empty and not in an error state",
        observed=", ".join(f"{t.name}={t.value!r}" for t in visit.tiles) or "no tiles",
        expected=", ".join(expected) + " with data" if expected else "at least one tile, all with data",
        ok=not problems,
        source=_frame_desc(visit),
        details=[dataclasses.asdict(t) for t in visit.tiles],
        problems=problems,
    )


def no_console_errors(visit: Visit, allow: Sequence[AllowedNoise]) -> Measurement:
    """No console error, uncaught error, failed request or response >= 400 in any frame, but allowed noise."""
    allowed: list[dict[str, str]] = []
    problems: list[str] = []
    for event in visit.events:
        if not event.is_error:
            continue
        rule = next((a for a in allow if re.search(a.pattern, f"{event.text} {event.url}")), None)
        if rule is None:
            problems.append(event.line())
        else:
            allowed.append({"event": event.line(), "pattern": rule.pattern, "reason": rule.reason})
    if not visit.events and not visit.loaded:
        problems.append(f"the page was not observed: {visit.load_error}")
    elif visit.loaded and visit.settle <= 0:
        # Fail closed: errors logged a moment after load are the ones a stop at "ready" misses.
        problems.append("the page was not watched after it became ready (no settle window)")
    observed = f"{len(problems)} error(s)" + (f", {len(allowed)} allowed" if allowed else "")
    watched = f" until {visit.settle:g}s after ready" if visit.loaded else ""
    return Measurement(
        name="no console errors",
        question="zero console errors, uncaught errors, failed requests and responses >= 400 across all frames, "
        "during the load and the settle window after it",
        observed=observed,
        expected=f"0 errors{watched} (allow-list: "
        + ("; ".join(f"{a.pattern!r}: {a.reason}" for a in allow) or "empty")
        + ")",
        ok=not problems,
        source=f"{visit.admin_url or visit.dashboard_url} and every frame in it",
        details=allowed,
        problems=[*problems, *(f"allowed: {a['event']} -- {a['reason']}" for a in allowed)] if problems else [],
    )


def visit_as_dict(visit: Visit) -> dict[str, Any]:
    """A visit as JSON data: all it observed but its screenshot and recording (kept as files of their own)."""
    data = dataclasses.asdict(visit)
    data.pop("screenshot")
    data.pop("video")
    return data


def visit_from_dict(data: dict[str, Any]) -> Visit:
    """The visit ``visit_as_dict`` wrote."""
    fields = {f.name for f in dataclasses.fields(Visit)}
    known = {k: v for k, v in data.items() if k in fields}
    known["tiles"] = tuple(Tile(**t) for t in data.get("tiles", ()))
    known["events"] = tuple(PageEvent(**e) for e in data.get("events", ()))
    known["documents"] = tuple(Document(**d) for d in data.get("documents", ()))
    return Visit(**known)


@dataclasses.dataclass(frozen=True)
class Watched:
    """One visit of the monitor window's browser: when it began, and what it saw until the next."""

    at: str
    visit: Visit


def watched_from_json(text: str) -> tuple[float, str, list[Watched]]:
    """The monitor browser's file: its interval, what stopped it (empty: nothing), and its visits."""
    data = json.loads(text)
    visits = [Watched(str(v["at"]), visit_from_dict(v["visit"])) for v in data.get("visits", ())]
    return float(data.get("every", 0)), str(data.get("trouble", "")), visits


def dashboard_clean_throughout(
    visits: Sequence[Watched], allow: Sequence[AllowedNoise], every: float, source: str, trouble: str = ""
) -> Measurement:
    """Through the monitor window, every visit of the dashboard loaded from 2xx documents and saw no console
    error, uncaught error or failed request for its whole dwell; no visit at all (or a browser that failed) is
    no data, and fails closed."""
    problems: list[str] = [trouble] if trouble else []
    if not visits:
        problems.append("the dashboard was never visited during the window")
    for number, watched in enumerate(visits, 1):
        judged = (dashboard_loaded(watched.visit), no_console_errors(watched.visit, allow))
        found = dict.fromkeys(p for m in judged if not m.ok for p in m.problems)  # one cause said once
        problems += [f"visit {number} ({watched.at}): {p}" for p in found]
    watched_for = sum(w.visit.settle for w in visits if w.visit.loaded)
    return Measurement(
        name="dashboard clean through the window",
        question="through the monitor window the dashboard, visited in a real browser, loads and logs no error "
        "for as long as it is watched",
        observed=f"{len(visits)} visit(s), watched {watched_for:.0f}s after ready, "
        f"{sum(1 for p in problems if p.startswith('visit '))} problem(s)",
        expected=f"a visit at least every {every:g}s, each loaded (2xx) and without errors",
        ok=not problems,
        source=source,
        details=[{"at": w.at, "loaded": w.visit.loaded, "watched": w.visit.settle} for w in visits],
        problems=problems,
    )
