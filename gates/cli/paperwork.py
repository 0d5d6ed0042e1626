"""What a release writes about itself as it goes: notifications, incident reports, the feedback entry and the ledger, hooked on its Record."""

from __future__ import annotations

from gates.config import Config
from gates.coordination.dblock import who
from gates.coordination.ledger import LedgerWriter
from gates.evidence.feedback import FeedbackWriter
from gates.evidence.incident import IncidentWriter
from gates.evidence.notify import Notifier
from gates.evidence.record import Record


def attach(config: Config, record: Record) -> Notifier:
    """``listen``, then say the release started."""
    notifier = listen(config, record)
    notifier.started()
    return notifier


def listen(config: Config, record: Record) -> Notifier:
    """Listen to the record (the incident report, then the feedback entry, so the last message can link them;
    the ledger entry of each environment touched at the finish, unless ``[record] ledger = false``). Attached
    as soon as the record exists: a release ended before its first step is in the ledger too."""
    production = [e.name for e in config.environments.values() if e.is_production]
    record.state.production_env = production[0] if production else "production"
    notifier = Notifier(config, record)
    record.listeners += [IncidentWriter(config), FeedbackWriter(config), notifier]
    if config.record.ledger:
        record.listeners.append(LedgerWriter(config, *who()))
    return notifier
