"""Alerts: one message when a breach starts, one when it clears, to a Slack-compatible webhook.

The alerter is a small state machine fed with the rolling breaches after every sample: a breach
that goes on does not send again (no floods), and its recovery says how long it lasted.
Delivery failures are kept, not raised: the monitor goes on, and the record shows them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from gates.monitor.evaluate import Breach
from gates.redact import redact

WEBHOOK_TIMEOUT = 5.0


@dataclasses.dataclass(frozen=True)
class Delivery:
    ok: bool
    status: int | None
    error: str = ""

    def describe(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else self.error


@dataclasses.dataclass(frozen=True)
class AlertEvent:
    kind: str  # "alert" | "recovery"
    at: float
    text: str
    delivery: Delivery

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.at,
            "text": self.text,
            "delivered": self.delivery.ok,
            "delivery": self.delivery.describe(),
        }


Sender = Callable[[dict[str, Any]], Delivery]


def post_webhook(url: str, payload: dict[str, Any], timeout: float = WEBHOOK_TIMEOUT) -> Delivery:
    """POST a Slack-compatible JSON message; a 2xx answer is a delivery. Never raises, never shows the URL."""
    try:
        response = httpx.post(url, json=payload, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        reason = redact(str(exc).replace(url, "<webhook>")) or type(exc).__name__
        return Delivery(False, None, f"{type(exc).__name__}: {reason}")
    return Delivery(200 <= response.status_code < 300, response.status_code)


def webhook_sender(variable: str, section: str, timeout: float = WEBHOOK_TIMEOUT) -> Sender:
    """A sender posting to the URL in ``variable``; without one, every delivery fails saying why."""
    url = os.environ.get(variable, "") if variable else ""
    if not url:
        reason = f"environment variable {variable} is not set" if variable else f"no [{section}] webhook_env configured"
        return lambda payload: Delivery(False, None, reason)
    return lambda payload: post_webhook(url, payload, timeout)


def _stamp(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")


class Alerter:
    """Turns the rolling breaches seen after each sample into alert and recovery messages."""

    def __init__(self, send: Sender, *, where: str, evidence: str) -> None:
        self.send = send
        self.where = where
        self.evidence = evidence
        self.events: list[AlertEvent] = []
        self._since: float | None = None

    @property
    def breaching(self) -> bool:
        return self._since is not None

    def observe(self, at: float, found: Sequence[Breach]) -> None:
        if found and self._since is None:
            self._since = at
            what = "; ".join(b.describe() for b in found)
            text = f":rotating_light: {self.where}: {what} at {_stamp(at)}. Evidence: {self.evidence}"
            self._emit("alert", at, text)
        elif not found and self._since is not None:
            lasted = at - self._since
            self._since = None
            text = f":white_check_mark: {self.where}: recovered at {_stamp(at)} after {lasted:.1f}s. Evidence: {self.evidence}"
            self._emit("recovery", at, text)

    def _emit(self, kind: str, at: float, text: str) -> None:
        text = redact(text)
        self.events.append(AlertEvent(kind, at, text, self.send({"text": text})))


def send_test_alert(send: Sender, where: str) -> AlertEvent:
    """A message that says it is a test: proves the channel end to end without a breach."""
    import time

    text = f":test_tube: {where}: gates test alert (no action needed) at {_stamp(time.time())}"
    return AlertEvent("test", time.time(), text, send({"text": text}))
