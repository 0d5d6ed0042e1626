"""Alerts: one message when a breach starts, one when it clears, to the monitor's channel (gates.evidence.channels).

The alerter is a small state machine fed with the rolling breaches after every sample: a breach
that goes on does not send again (no floods), and its recovery says how long it lasted.
Delivery failures are kept, not raised: the monitor goes on, and the record shows them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from gates.core.redact import redact
from gates.evidence.channels import Channel, Delivery
from gates.monitor.evaluate import Breach


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


def _stamp(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")


class Alerter:
    """Turns the rolling breaches seen after each sample into alert and recovery messages."""

    def __init__(self, channel: Channel, *, where: str, evidence: str) -> None:
        self.channel = channel
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
        self.events.append(AlertEvent(kind, at, text, self.channel.send(text)))


def send_test_alert(channel: Channel, where: str) -> AlertEvent:
    """A message that says it is a test: proves the channel end to end without a breach."""
    import time

    text = f":test_tube: {where}: gates test alert (no action needed) at {_stamp(time.time())}"
    return AlertEvent("test", time.time(), text, channel.send(text))
