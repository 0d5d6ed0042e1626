"""The monitor step's browser: the dashboard visited in real Chromium at an interval while the window samples.

A gate's visit watches the page for its short settle window; an app that logs an error ten seconds
after load passes it. Through the monitor window the dashboard is visited again and again, each visit
watched until the next one begins (or the window ends), so no moment of the window goes unwatched.
The visits go to ``<stem>-browser.json`` (a failed one's screenshot beside it), which the monitor
gate's molecule judges. The browser runs in a thread of its own: Playwright's sync API keeps to the
thread that started it, and the window's sampler keeps the main one.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from gates.checks.browser import dashboard_loaded, no_console_errors, visit_as_dict
from gates.config import Config, Environment
from gates.core.durations import parse_duration
from gates.core.measurement import utcnow
from gates.core.redact import redact
from gates.gaterun.browser import CHROMIUM_FLAGS, chromium_path
from gates.gaterun.visit import visit_admin

LOAD_MOLECULE = "test_dashboard_loads_inside_the_admin_frame"
MIN_DWELL = 1.0  # seconds: a visit shorter than this at the window's end watches nothing worth a browser
LAUNCH_TIMEOUT = 30.0  # seconds for Chromium to start, on a loaded machine
MAX_SCREENSHOTS = 3  # of failed visits: the first ones say what went wrong


def browser_every(config: Config) -> float | None:
    """Seconds between two visits of the window's browser; None when it is off (``[monitor] browser_every =
    "off"``, or the browser gate's load molecule waived: an app with no dashboard to look at)."""
    if config.monitor.browser_every == "off" or LOAD_MOLECULE in config.gate.waive:
        return None
    return parse_duration(config.monitor.browser_every, "[monitor] browser_every")


class Watcher:
    """Visits ``env``'s dashboard every ``every`` seconds for ``seconds``, in a thread of its own."""

    def __init__(self, config: Config, env: Environment, seconds: float, every: float, path: Path) -> None:
        self.config, self.env, self.seconds, self.every, self.path = config, env, seconds, every, path
        self.visits: list[dict[str, Any]] = []
        self.trouble = ""
        self.screenshots: list[Path] = []
        self._began = time.monotonic()
        self._launched = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gates-monitor-browser", daemon=True)

    @classmethod
    def start(cls, config: Config, env: Environment, seconds: float, every: float, path: Path) -> Watcher:
        """Start the browser and return once it is up (bounded): the window it watches begins then, so a browser
        slow to start on a loaded machine does not shorten its first visit."""
        watcher = cls(config, env, seconds, every, path)
        watcher._thread.start()
        watcher._launched.wait(LAUNCH_TIMEOUT + 5.0)
        return watcher

    def _run(self) -> None:
        try:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                try:
                    browser = pw.chromium.launch(
                        executable_path=chromium_path(), args=list(CHROMIUM_FLAGS), timeout=LAUNCH_TIMEOUT * 1000
                    )
                finally:
                    self._began = time.monotonic()
                    self._launched.set()
                try:
                    self._visit_until_the_end(browser)
                finally:
                    browser.close()
        except Exception as exc:  # whatever stopped the browser is a verdict, never a traceback
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.trouble = redact(f"the window's browser failed: {first}")
        finally:
            self._launched.set()  # a browser that never started: the window goes on, its verdict says why

    def _visit_until_the_end(self, browser: Any) -> None:
        end = self._began + self.seconds
        while True:
            left = end - time.monotonic()
            if self.visits and left < MIN_DWELL:
                return
            at = utcnow().isoformat(timespec="seconds")
            visit = visit_admin(browser, self.config, self.env, settle=max(min(self.every, left), MIN_DWELL))
            self.visits.append({"at": at, "visit": visit_as_dict(visit)})
            judged = (dashboard_loaded(visit), no_console_errors(visit, self.config.browser.allow))
            if visit.screenshot and not all(m.ok for m in judged) and len(self.screenshots) < MAX_SCREENSHOTS:
                shot = self.path.with_name(f"{self.path.stem}-{len(self.visits)}.png")
                shot.write_bytes(visit.screenshot)
                self.screenshots.append(shot)

    def finish(self) -> Path:
        """Wait for the last visit (bounded: its load bound and dwell, and the browser's start), write the visits."""
        bound = LAUNCH_TIMEOUT + self.config.browser.load_timeout + self.every + 10.0
        self._thread.join(timeout=max(self._began + self.seconds - time.monotonic(), 0) + bound)
        trouble = self.trouble
        if self._thread.is_alive():
            trouble = f"the window's browser did not finish within {bound:g}s of the window's end"
        data = {"every": self.every, "trouble": trouble, "visits": list(self.visits)}
        self.path.write_text(redact(json.dumps(data, indent=2)) + "\n")
        return self.path
