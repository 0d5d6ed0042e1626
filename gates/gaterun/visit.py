"""Visits of the dashboard in Chromium: loaded within its bound, every frame watched for the settle window, the
tiles read, a screenshot, the recording; every browser call bounded, so a page that never answers is a failed
visit, not an exception. Several pages are visited together in one browser (``visit_together``: the Admin page and
the two releases a comparison looks at), their loads overlapping and one settle window serving all. Driven by the
browser gate's fixture (gates.gaterun.browser) and the monitor; what is asked of each page is gates.gaterun.page's."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gates.checks.browser import PageEvent, Visit
from gates.config import Config, Environment
from gates.gaterun.page import (
    answered_documents,
    await_dashboard,
    layout_probe,
    listen,
    no_answer,
    read_tiles,
    take_screenshot,
    timed_out,
)
from gates.gaterun.screencast import Screencast
from gates.platforms.admin import dashboard_url

SCREENSHOT_TIMEOUT = 5.0  # seconds: a page that has painted at all is captured well within this


def records_video(config: Config, env: Environment) -> bool:
    """Whether visits of ``env`` are recorded: its ``video`` (else ``[browser] video``) is always, or production
    and it is production."""
    mode = env.video or config.browser.video
    return mode == "always" or (mode == "production" and env.is_production)


def storage_state(config: Config) -> str | None:
    """The path of the logged-in storage state the config names, None when it names none."""
    name = config.browser.storage_state_env
    return os.environ.get(name, "") if name else None


def readiness(config: Config, env: Environment) -> str:
    """What the visit waits for, in words: the ready selector, script or load event, and in which frame."""
    cfg = config.browser
    what = cfg.ready_selector or (f"ready_script {cfg.ready_script!r} truthy" if cfg.ready_script else "the load event")
    return f'{what} in iframe[name="{cfg.frame_name}"]' if env.admin_url else f"{what} on the page"


@dataclasses.dataclass(frozen=True)
class Planned:
    """One page of a visit: the environment whose dashboard it opens (its Admin page when it has an admin_url),
    and what is kept of it (the logged-in storage state it opens with, the trace, the recording, the layout)."""

    env: Environment
    storage_state: str | None = None
    trace: Path | None = None
    video: bool = False
    layout: bool = False


def visit_admin(
    browser: Any,
    config: Config,
    env: Environment,
    *,
    storage_state: str | None = None,
    trace: Path | None = None,
    video: bool = False,
    settle: float | None = None,
    layout: bool = False,
) -> Visit:
    """Open the Admin page (or, without an admin_url, the dashboard itself), wait (bounded) until the dashboard
    is ready, watch it for the settle window (``settle`` seconds, default ``[browser] settle``), and record it
    all; with ``layout``, what gates.checks.layout's probe measures in the dashboard's frame once it settled.
    Every browser call is bounded: a timeout is a failed visit saying what got no answer, never an exception."""
    (visit,) = visit_together(browser, config, [[Planned(env, storage_state, trace, video, layout)]], settle=settle)
    return visit


def not_tried(config: Config, env: Environment, unanswered: str) -> Visit:
    """The visit of a dashboard whose origin gave no answer earlier in this gate (``unanswered`` says to what): not
    made, a failed load saying why, nothing observed."""
    cfg = config.browser
    planned = Visit(env.admin_url, dashboard_url(config, env), cfg.frame_name, readiness(config, env),
                    cfg.load_timeout, False, settle=cfg.settle)  # fmt: skip
    return _replace(planned, load_error=f"not tried: {unanswered} got no answer earlier in this gate")


def visit_together(
    browser: Any, config: Config, waves: Sequence[Sequence[Planned]], *, settle: float | None = None
) -> list[Visit]:
    """Every planned page visited as ``visit_admin`` visits one, in one browser, each in a context of its own;
    the visits in the order planned.

    The pages of a wave load together (each page's navigation starts once the one before it has begun to answer,
    and none waits for another to load), a wave once the one before it is ready and its tiles read: a page that
    must load alone (its load time is judged) is a wave of its own, and the pages after it load while it is watched. One settle window serves them all: it ends once
    the last page ready has been watched ``settle`` seconds, so each page is watched at least that long after it
    was ready (those ready earlier, longer). Each page's load has its own bound, from its own navigation."""
    from playwright.sync_api import Error as PlaywrightError

    watched = config.browser.settle if settle is None else settle
    pages: list[_Visiting] = []
    try:
        for wave in waves:
            mine = [_Visiting(browser, config, plan, watched) for plan in wave]
            pages += mine
            for step in (_Visiting.open, _Visiting.navigate, _Visiting.await_ready, _Visiting.read_tiles):
                for page in mine:
                    page.guarded(step, PlaywrightError)
        _settle(pages, watched, PlaywrightError)
        for page in pages:
            page.guarded(_Visiting.finish, PlaywrightError)
    finally:
        for page in pages:
            page.close(PlaywrightError)
    return [page.visit for page in pages]


def _settle(pages: Sequence[_Visiting], seconds: float, error_type: type[Exception]) -> None:
    """Watch every loaded page until the last one ready has been watched ``seconds``: Playwright's own pump on any
    open page, so late errors still arrive from all of them."""
    loaded = [p for p in pages if p.watched_from is not None and not p.ended]
    if not loaded:
        return
    until = max(p.watched_from or 0.0 for p in loaded) + seconds
    for page in loaded:  # a page whose browser failed meanwhile cannot pump: the next one does
        try:
            page.page.wait_for_timeout(max(until - time.monotonic(), 0.0) * 1000)
        except error_type as exc:
            page.crashed(exc)
            continue
        return


class _Visiting:
    """One page of a visit, step by step; a browser failure at any step ends it as a failed visit saying so."""

    def __init__(self, browser: Any, config: Config, plan: Planned, settle: float) -> None:
        cfg = config.browser
        self.browser, self.cfg, self.plan = browser, cfg, plan
        self.base = Visit(plan.env.admin_url, dashboard_url(config, plan.env), cfg.frame_name,
                          readiness(config, plan.env), cfg.load_timeout, False, settle=settle)  # fmt: skip
        self.visit = self.base
        self.events: list[PageEvent] = []
        self.navigations: list[tuple[Any, str, int]] = []
        self.context: Any = None
        self.page: Any = None
        self.recorder: Screencast | None = None
        self.opened = False  # the page's document arrived
        self.ended = False  # nothing more to do: it failed to open, or the browser failed
        self.started = 0.0  # when its navigation began: its load's bound runs from there
        self.watched_from: float | None = None  # when its settle window began (ready, tiles read)

    def guarded(self, step: Callable[[_Visiting], None], error_type: type[Exception]) -> None:
        if self.ended:
            return
        try:
            step(self)
        except error_type as exc:
            self.crashed(exc)

    def crashed(self, exc: Exception) -> None:
        """A page or browser that crashed mid-visit: a failed load saying so, never an ERROR with a traceback."""
        self.visit = _replace(self.base, load_error=f"the browser failed during the visit: "
                                                    f"{no_answer(exc, self.cfg.load_timeout)}")  # fmt: skip
        self.ended = True

    def open(self) -> None:
        """A fresh browser context and page, listened to; tracing and the recording started when asked."""
        state = self.plan.storage_state
        if state is not None and not Path(state).is_file():
            # Fail closed: without its session the Admin shows a login page, not the app.
            problem = f"[browser] storage_state_env: {self.cfg.storage_state_env} does not name a storage state file"
            self.visit, self.ended = _replace(self.base, load_error=problem), True
            return
        self.context = self.browser.new_context(viewport={"width": 1280, "height": 800}, storage_state=state)
        # The bound of every wait and action not given one of its own (tile reads, tracing).
        self.context.set_default_timeout(self.cfg.load_timeout * 1000)
        if self.plan.trace is not None:
            self.context.tracing.start(screenshots=True, snapshots=True)
        self.page = self.context.new_page()
        listen(self.page, self.events, self.navigations)
        if self.plan.video:
            self.recorder = Screencast.start(self.context, self.page, self.cfg.video_width)

    def navigate(self) -> None:
        """Start opening the page: returns once its document's answer began (the navigation committed; bounded), and
        the page goes on loading while the others are opened and waited for."""
        from playwright.sync_api import Error as PlaywrightError

        self.started = time.monotonic()
        self._opening(lambda left: self.page.goto(self._url, wait_until="commit", timeout=left), PlaywrightError)

    def await_ready(self) -> None:
        """The document opened, the dashboard's frame found and ready, all within the load's bound."""
        from playwright.sync_api import Error as PlaywrightError

        waited = self._opening(lambda left: self.page.wait_for_load_state("domcontentloaded", timeout=left),
                               PlaywrightError)  # fmt: skip
        if not waited:
            return
        self.opened = True
        deadline = self.started + self.visit.timeout
        self.visit = await_dashboard(
            self.page, self.visit, self.cfg, self.navigations, deadline, self.started, PlaywrightError
        )

    def read_tiles(self) -> None:
        from playwright.sync_api import Error as PlaywrightError

        if self.visit.loaded:
            self.visit = _replace(self.visit, tiles=read_tiles(self.page, self.visit, self.cfg, PlaywrightError))
            self.watched_from = time.monotonic()

    def finish(self) -> None:
        """Once watched: the layout, the documents' answers, the screenshot, the trace and the recording."""
        from playwright.sync_api import Error as PlaywrightError

        page, ready = self.page, self.visit
        if ready.loaded and self.plan.layout:
            ready = _replace(ready, layout=layout_probe(page, ready, PlaywrightError))
        if self.opened:
            ready = _replace(ready, documents=answered_documents(page, ready, self.navigations))
        # A page that never opened has nothing to show; one that did (an empty frame, say) is worth a picture.
        bound = min(self.cfg.load_timeout, SCREENSHOT_TIMEOUT)
        screenshot, stalled = take_screenshot(page, bound, PlaywrightError) if self.opened else (None, "")
        if self.plan.trace is not None:
            with contextlib.suppress(PlaywrightError):
                self.context.tracing.stop(path=str(self.plan.trace))
        clip = None
        if self.recorder is not None:
            # A page that gave no answer to its screenshot would give none to "stop the screencast" either.
            answers = not (ready.stalled or stalled)
            cfg = self.cfg
            clip = self.recorder.stop(cfg.video_fps, cfg.video_width, cfg.video_frames, cfg.video_max_bytes,
                                      answers=answers)  # fmt: skip
        self.visit = _replace(ready, screenshot=screenshot, stalled=ready.stalled or stalled, video=clip)

    def close(self, error_type: type[Exception]) -> None:
        if self.context is not None:
            with contextlib.suppress(error_type):
                self.context.close()
        self.visit = _replace(self.visit, events=tuple(self.events))

    @property
    def _url(self) -> str:
        return self.visit.admin_url or self.visit.dashboard_url

    def _opening(self, wait: Callable[[float], object], error_type: type[Exception]) -> bool:
        """One wait of the page's opening, within what is left of its bound; a failure ends the visit as a page
        that did not open (a timeout: one whose server gave no answer)."""
        left = max(self.started + self.visit.timeout - time.monotonic(), 0.001)
        try:
            wait(left * 1000)
        except error_type as exc:
            silent = self._url if timed_out(exc) else ""
            self.visit = _replace(self.visit, load_error=f"the page {self._url} did not open: "
                                  f"{no_answer(exc, self.visit.timeout)}", silent=silent)  # fmt: skip
            self.ended = True
            return False
        return True


def _replace(visit: Visit, **changes: Any) -> Visit:
    return dataclasses.replace(visit, **changes)
