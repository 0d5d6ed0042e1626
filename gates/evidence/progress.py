"""The release as it happens: one small event bus and the outputs that render it.

Steps, molecules, long waits, rollbacks and notifications are told to a :class:`Reporter` as they
happen; it stamps each as an event (a flat JSON-able dict with ``event`` and ``at``), redacts it
and hands it to its sinks: :class:`TextSink` (a terminal or a CI log) and :class:`JsonLines` (an
events file, or stdout with ``--json``). A reporter without sinks is silent, so steps and tests can
always report.

Progress on a long wait (``progress``) is throttled per subject: a terminal gets a live line that
rich redraws in place; a log gets a plain line at most every few seconds, and ``waiting`` keeps a
heartbeat going so a wait with nothing new to say still says how long it has lasted. In GitHub
Actions every step is a collapsible group and a failed step an error annotation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, Protocol

from gates.core.redact import redact
from gates.evidence.state import Notification, StepRecord

__all__ = ["LIVE_EVERY", "PLAIN_EVERY", "Event", "JsonLines", "Reporter", "Sink", "TextSink", "describe", "ticking"]

Event = dict[str, Any]
# A plain log gets a progress line at most this often, and at least this often while `waiting`
# (a heartbeat); the heartbeat checks twice per period, so no gap exceeds 1.5 periods.
PLAIN_EVERY = 2.0
LIVE_EVERY = 0.5  # a live terminal line is redrawn at most this often


class Sink(Protocol):
    """Where events go."""

    def emit(self, event: Event) -> None: ...
    def close(self) -> None: ...


class JsonLines:
    """One JSON object per line, flushed at once (a file others tail, or stdout)."""

    def __init__(self, stream: IO[str], *, owned: bool = False) -> None:
        self.stream = stream
        self.owned = owned

    def emit(self, event: Event) -> None:
        self.stream.write(json.dumps(event, default=str) + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.owned:
            self.stream.close()


def _clock(event: Event) -> str:
    return str(event.get("at", ""))[11:19]


def _seconds(value: Any) -> str:
    return f"{float(value):.1f}s" if isinstance(value, int | float) else ""


def _amount(done: Any, total: Any, unit: str) -> str:
    def num(value: Any) -> str:
        return f"{value:.0f}" if isinstance(value, float) else str(value)

    if done is None:
        return ""
    if unit == "s":
        return f"{num(done)}s" + (f" of {num(total)}s" if total is not None else " elapsed")
    of = f" of {num(total)}" if total is not None else ""
    return f"{num(done)}{of}" + (f" {unit}" if unit else "")


def _with(head: str, *parts: tuple[str, object, str]) -> str:
    """``head``, then each (before, value, after) whose value is not empty."""
    return head + "".join(f"{before}{value}{after}" for before, value, after in parts if value)


@contextlib.contextmanager
def ticking(every: float, tick: Callable[[], None], name: str) -> Iterator[None]:
    """Call ``tick`` every ``every`` seconds in a thread while the block runs; the thread is joined at its end."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            tick()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def describe(event: Event) -> str | None:
    """The text line of an event (None: the event has no line of its own)."""
    kind, at = event.get("event"), _clock(event)
    title = str(event.get("title", ""))
    if kind == "message":
        return str(event.get("text", ""))
    if kind == "step_started":
        return f"{at} {'started':<11} {title}"
    if kind == "step_ended":
        took = _seconds(event.get("seconds"))
        detail = event.get("detail") or ""
        return _with(f"{at} {event.get('outcome', ''):<11} {title}", (" (", took, ")"), (": ", detail, ""))
    if kind == "molecule":
        verdict = str(event.get("outcome", ""))
        said = verdict.upper() if verdict in ("failed", "error") else verdict
        tags = " ".join(str(t) for t in (event.get("seed_step"), event.get("concern")) if t)
        problem = event.get("problem") or ""
        return _with(f"{at}   {said:<9} {event.get('name', '')}", (" [", tags, "]"), (": ", problem, ""))
    if kind == "progress":
        unit = str(event.get("unit", ""))
        amount = _amount(event.get("done"), event.get("total"), unit)
        elapsed = event.get("elapsed")
        if unit != "s" and isinstance(elapsed, int | float) and elapsed >= 1:
            amount += f" ({elapsed:.0f}s)"  # a count that has not moved still shows the wait going on
        parts = [p for p in (amount, str(event.get("detail") or "")) if p]
        return f"{at}   {'...':<9} {event.get('what', '')}: " + "; ".join(parts)
    if kind == "rollback":
        moved = f"release {event.get('from_version')} -> {event.get('to_version')}"
        return f"{at} {'rollback':<11} {event.get('env', '')}: {moved}: {event.get('detail', '')}"
    if kind == "notification":
        state = "delivered" if event.get("delivered") else "NOT delivered"
        return f"{at}   {'notified':<9} {event.get('notification', '')}: {state}"
    if kind == "finished":
        return None  # the command prints its own end line (the summary's path)
    return None


class TextSink:
    """Lines for people: live progress on a terminal (rich), plain lines in a log, groups in GitHub Actions.

    Steps may run beside each other: while more than one runs, a molecule's line names its gate, the live
    region keeps a line per step running (its newest wait's), and GitHub Actions gets no group (its groups
    do not nest)."""

    def __init__(self, stream: IO[str], *, live: bool = False, github: bool = False) -> None:
        self.stream = stream
        self.github = github
        self._live: Any = None
        self._console: Any = None
        self._lines: dict[str, str] = {}  # what is waited on -> its newest live line, least recently drawn first
        self._running: list[str] = []  # the titles of the steps running now
        self._group: str | None = None  # the step whose GitHub group is open
        if live:
            from rich.console import Console

            self._console = Console(file=stream, highlight=False, soft_wrap=True)

    def emit(self, event: Event) -> None:
        kind = event.get("event")
        title = str(event.get("title", ""))
        if kind == "molecule" and len(self._running) > 1:
            event = {**event, "name": f"{event.get('gate', '')}: {event.get('name', '')}"}
        line = describe(event)
        if kind == "progress" and self._console is not None and line is not None:
            self._redraw(str(event.get("what", "")), line)
            return
        if kind in ("step_started", "step_ended"):
            self._stop_live()  # a step's live lines end with the step (those of a step beside it come back)
        if kind == "step_started":
            self._started(title)
        if line is not None:
            self._write(line)
        if kind == "step_ended":
            self._ended(title, event)

    def _started(self, title: str) -> None:
        self._running.append(title)
        if not self.github:
            return
        if len(self._running) == 1:
            self._group = title
            self._write(f"::group::{title}")
        elif self._group is not None:  # a second step beside the first: their lines go ungrouped
            self._write("::endgroup::")
            self._group = None

    def _ended(self, title: str, event: Event) -> None:
        if title in self._running:
            self._running.remove(title)
        if not self.github:
            return
        if self._group == title:
            self._write("::endgroup::")
            self._group = None
        if event.get("outcome") == "failed":
            self._write(f"::error title={title}::{_one_line(str(event.get('detail', '')))}")

    def _write(self, line: str) -> None:
        if self._console is not None:
            from rich.text import Text

            # Text, not markup: "[DEVOPS-002 health]" is not a style.
            self._console.print(Text(line))
            return
        self.stream.write(line + "\n")
        self.stream.flush()

    def _redraw(self, what: str, line: str) -> None:
        from rich.live import Live
        from rich.text import Text

        # One line per step running, the newest waits': a wait that ended stops being redrawn and gives way.
        self._lines.pop(what, None)
        self._lines[what] = line
        while len(self._lines) > max(1, len(self._running)):
            self._lines.pop(next(iter(self._lines)))
        text = Text("\n".join(self._lines.values()))
        if self._live is None:
            self._live = Live(text, console=self._console, transient=True, auto_refresh=False)
            self._live.start()
        self._live.update(text, refresh=True)

    def _stop_live(self) -> None:
        self._lines.clear()
        if self._live is not None:
            self._live.stop()
            self._live = None

    def close(self) -> None:
        self._stop_live()


def _one_line(text: str) -> str:
    # A workflow command ends at the line's end: keep the message on one line.
    return text.replace("\r", " ").replace("\n", " ")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class Reporter:
    """Tells the release as it happens to its sinks; thread-safe (a gate's molecules arrive from a reader thread)."""

    def __init__(self, sinks: Sequence[Sink] = (), *, every: float = PLAIN_EVERY) -> None:
        self.sinks = list(sinks)
        self.every = every
        self._lock = threading.RLock()
        self._last: dict[str, float] = {}  # subject -> when its last progress event went out
        self._latest: dict[str, Event] = {}  # subject -> its newest progress, sent or not
        self._started: dict[str, float] = {}  # subject -> when its wait began
        self._notified = 0

    def emit(self, kind: str, **fields: Any) -> Event:
        """Send one event (strings redacted) to every sink."""
        event: Event = {"event": kind, "at": _now()}
        event.update({k: redact(v) if isinstance(v, str) else v for k, v in fields.items()})
        with self._lock:
            for sink in self.sinks:
                sink.emit(event)
        return event

    def message(self, text: str) -> None:
        self.emit("message", text=text)

    def step_started(self, name: str, env: str | None) -> None:
        self.emit("step_started", step=name, env=env, title=StepRecord(name, env).title)

    def step_ended(self, step: StepRecord) -> None:
        """A step's end: its outcome, how long it took and its detail (a skipped step too)."""
        seconds = None
        if step.started_at and step.ended_at:
            delta = dt.datetime.fromisoformat(step.ended_at) - dt.datetime.fromisoformat(step.started_at)
            seconds = round(delta.total_seconds(), 2)
        self.emit(
            "step_ended", step=step.name, env=step.env, title=step.title, outcome=step.outcome, seconds=seconds,
            detail=step.detail, artifacts=list(step.artifacts),
        )  # fmt: skip

    def molecule(
        self, *, gate: str, env: str, name: str, outcome: str, problem: str = "", seed_step: str = "",
        concern: str = "", seconds: float | None = None,
    ) -> None:  # fmt: skip
        """One molecule finished in a running gate: its verdict and, for a failure, the first problem."""
        self.emit(
            "molecule", gate=gate, env=env, name=name, outcome=outcome, problem=problem, seed_step=seed_step,
            concern=concern, seconds=seconds,
        )  # fmt: skip

    def progress(
        self, what: str, done: float | None = None, total: float | None = None, detail: str = "", unit: str = ""
    ) -> None:
        """How far a long wait got; sent at most every ``every`` seconds per subject (and always when done)."""
        now = time.monotonic()
        with self._lock:
            started = self._started.setdefault(what, now)
            self._latest[what] = {"what": what, "done": done, "total": total, "detail": detail, "unit": unit}
            finished = done is not None and total is not None and done >= total
            last = self._last.get(what)
            if not finished and last is not None and now - last < self.every:
                return
            self._send(what, now, started)

    def _send(self, what: str, now: float, started: float) -> None:
        self._last[what] = now
        self.emit("progress", **self._latest[what], elapsed=round(now - started, 1))

    @contextlib.contextmanager
    def waiting(self, what: str, total: float | None = None, detail: Callable[[], str] | None = None) -> Iterator[None]:
        """A heartbeat while a blocking call runs: progress of ``what`` at least every ``every`` seconds,
        the newest detail repeated (a wait with nothing new still says how long it has lasted); ``detail``,
        when given, is asked at each beat what the wait has got to (a rollout: instances replaced of N)."""
        if not self.sinks:
            yield
            return
        start = time.monotonic()
        with self._lock:
            self._started[what] = start
            self._last[what] = start
            self._latest.setdefault(what, {"what": what, "done": 0.0, "total": total, "detail": "", "unit": "s"})

        def beat() -> None:
            now = time.monotonic()
            with self._lock:
                if now - self._last.get(what, start) < self.every:
                    return
                latest = self._latest[what]
                if latest.get("unit") == "s":  # a timed wait: elapsed is its amount, never past its total
                    elapsed = round(now - start, 1)
                    latest["done"] = min(elapsed, total) if total is not None else elapsed
            if detail is not None:
                with contextlib.suppress(Exception):  # what a wait has got to is a courtesy; the wait goes on
                    said = detail()
                    with self._lock:
                        latest["detail"] = said
            with self._lock:
                self._send(what, now, start)

        try:
            with ticking(self.every / 2, beat, f"gates-progress {what}"):
                yield
        finally:
            with self._lock:
                for table in (self._last, self._latest, self._started):
                    table.pop(what, None)

    def notifications(self, sent: Sequence[Notification]) -> None:
        """Tell the notifications attempted since the last call (the record's state keeps them all)."""
        with self._lock:
            new, self._notified = sent[self._notified :], len(sent)
        for note in new:
            self.emit("notification", notification=note.event, delivered=note.delivered, detail=note.delivery)

    def rollback(self, env: str, from_version: int | None, to_version: int | None, detail: str) -> None:
        self.emit("rollback", env=env, from_version=from_version, to_version=to_version, detail=detail)

    def finished(self, outcome: str, reason: str, summary: str) -> None:
        self.emit("finished", outcome=outcome, reason=reason, summary=summary)

    def close(self) -> None:
        with self._lock:
            for sink in self.sinks:
                sink.close()
