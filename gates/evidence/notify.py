"""Release notifications: the communication plan, sent as the release goes.

Events, in order: release started, staging passed, production promoted,
rolled back, and the end (completed, or failed with its reason). Each is a
Slack-compatible JSON message (``{"text": ...}``) to the webhook whose URL is
in the variable ``[notify] webhook_env`` names, with links to the evidence.
Every attempt is kept in the record (``state.notifications``); a failed delivery
is reported there and fails the release only with ``[notify] required``.
The URL is a credential: it is never written anywhere.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from gates.core.errors import GatesError
from gates.core.redact import redact
from gates.evidence.channels import Channel, channel
from gates.evidence.state import Notification

if TYPE_CHECKING:
    from gates.config import Config
    from gates.evidence.record import Record
    from gates.evidence.state import StepRecord

EVENTS = ("started", "staging passed", "production promoted", "rolled back", "completed", "failed", "test")


def link(config: Config, record: Record, relative: str) -> str:
    """Where a reader of the message finds a file of the record."""
    base = config.notify.link_base.rstrip("/")
    return f"{base}/{record.id}/{relative}" if base else str(record.dir / relative)


def _evidence(config: Config, record: Record, step: StepRecord | None) -> str:
    files = [a for a in (step.artifacts if step else []) if a.endswith(".html")] or ["summary.md"]
    return ", ".join(link(config, record, f) for f in files)


class Notifier:
    """A Record listener that turns step ends and the finish into messages."""

    def __init__(self, config: Config, record: Record, to: Channel | None = None) -> None:
        self.config = config
        self.record = record
        self.channel = to or channel(config.notify.webhook_env, "notify", config.notify.timeout)
        self.where = f"{config.app.name} release {record.id}"

    def notify(self, event: str, text: str) -> bool:
        """Send one message and keep the attempt in the record; a required one that fails raises."""
        text = redact(text)
        delivery = self.channel.send(text)
        self.record.state.notifications.append(
            Notification(event, time.time(), text, delivery.ok, redact(delivery.describe()))
        )
        self.record.write()
        if not delivery.ok and self.config.notify.required and event != "test":
            raise GatesError(f"notification {event!r} not delivered: {redact(delivery.describe())} ([notify] required)")
        return delivery.ok

    def started(self) -> None:
        commit = self.record.commit[:12] or "unknown"
        self.notify(
            "started",
            f":rocket: {self.where} started (commit {commit}). "
            f"Evidence: {link(self.config, self.record, 'summary.md')}",
        )

    def __call__(self, event: str, record: Record, step: StepRecord | None) -> None:
        if event == "finish":
            self._finished()
        elif step is not None:
            self._step_ended(step)

    def _step_ended(self, step: StepRecord) -> None:
        production = step.env == self.record.state.production_env
        evidence = _evidence(self.config, self.record, step)
        if step.name == "gate" and step.outcome == "passed" and not production:
            self.notify(
                "staging passed",
                f":white_check_mark: {self.where}: {step.env} gate passed ({step.detail}). Evidence: {evidence}",
            )
        elif step.name == "gate" and step.outcome == "passed":
            after = self.record.releases.get(step.env or "", {}).get("after")
            self.notify(
                "production promoted",
                f":tada: {self.where}: {step.env} promoted to release {after}, "
                f"gate passed ({step.detail}). Evidence: {evidence}",
            )
        elif step.name == "rollback":
            rollback = self.record.state.rollback
            moved = f"{rollback.from_version} -> {rollback.to_version}" if rollback else "? -> ?"
            self.notify(
                "rolled back",
                f":rewind: {self.where}: {step.env} rolled back {moved} ({step.outcome}): "
                f"{(rollback.reason if rollback else '') or step.detail}. Evidence: {evidence}",
            )

    def _finished(self) -> None:
        record = self.record
        summary = link(self.config, record, "summary.md")
        if record.outcome == "passed":
            self.notify("completed", f":checkered_flag: {self.where} completed. Evidence: {summary}")
            return
        incident = record.state.incident
        more = f"; incident report: {incident}" if incident else ""
        self.notify(
            "failed", f":x: {self.where} {record.outcome.replace('_', ' ')}: {record.reason}. Evidence: {summary}{more}"
        )

    def test_message(self) -> bool:
        """A message that says it is a test: proves the channel when nothing was delivered yet."""
        return self.notify("test", f":test_tube: {self.where}: notification test before the production sign-off")
