"""Notification channels: where alerts, release notifications and the sign-off's reachability test go.

A channel takes one message and says whether it was delivered; it never raises and never shows
its address (a webhook URL is a credential). One kind today: a Slack-compatible incoming webhook
(``{"text": ...}`` POSTed as JSON; a 2xx answer is a delivery), its URL in an environment variable
the config names. A new kind of channel is a new class with ``send``, chosen in ``channel``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from gates.core.redact import redact

# httpx is imported where a message is sent: every gate's collection imports this module, and httpx (with
# the command line it loads) is 50-60 ms of CPU, paid by every gate that makes no request through it.
if TYPE_CHECKING:
    pass

WEBHOOK_TIMEOUT = 5.0


@dataclasses.dataclass(frozen=True)
class Delivery:
    ok: bool
    status: int | None
    error: str = ""

    def describe(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else self.error


class Channel(Protocol):
    """Delivers one message; a failure is a Delivery that says why, never an exception."""

    def send(self, text: str) -> Delivery: ...


@dataclasses.dataclass(frozen=True)
class SlackWebhook:
    """A Slack-compatible incoming webhook."""

    url: str
    timeout: float = WEBHOOK_TIMEOUT

    def send(self, text: str) -> Delivery:
        import httpx

        try:
            response = httpx.post(self.url, json={"text": text}, timeout=self.timeout, follow_redirects=False)
        except httpx.HTTPError as exc:
            reason = redact(str(exc).replace(self.url, "<webhook>")) or type(exc).__name__
            return Delivery(False, None, f"{type(exc).__name__}: {reason}")
        return Delivery(200 <= response.status_code < 300, response.status_code)


@dataclasses.dataclass(frozen=True)
class Unconfigured:
    """No channel to deliver to: every message fails, saying why."""

    reason: str

    def send(self, text: str) -> Delivery:
        return Delivery(False, None, self.reason)


@dataclasses.dataclass(frozen=True)
class Recorded:
    """A channel made of a function (tests, or a caller that keeps what it sent)."""

    deliver: Callable[[str], Delivery]

    def send(self, text: str) -> Delivery:
        return self.deliver(text)


def channel(variable: str, section: str, timeout: float = WEBHOOK_TIMEOUT) -> Channel:
    """The channel whose webhook URL is in ``variable`` (named by ``[section] webhook_env``)."""
    url = os.environ.get(variable, "") if variable else ""
    if not url:
        reason = f"environment variable {variable} is not set" if variable else f"no [{section}] webhook_env configured"
        return Unconfigured(reason)
    return SlackWebhook(url, timeout)
