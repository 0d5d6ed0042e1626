"""``[record]``: where the evidence of releases goes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gates.core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class RecordConfig:
    """Where the evidence of releases goes."""

    dir: str = "reports/deploys"
    # Incident reports of rollbacks and failed production gates; empty: `incidents` beside the
    # records folder (reports/deploys -> reports/incidents).
    incidents: str = ""
    # The team's feedback log the WORK COMPLETE block of every release is appended to, relative to
    # this file's folder; ``{date}`` is the release's UTC date. Empty: none.
    feedback: str = ""
    # The release ledger in each environment's database (schema ``gates``, see gates/coordination/ledger.py);
    # false: none, and `gates status`/`history`/`rollback` say what they then cannot know.
    ledger: bool = True


def validate_record(record: RecordConfig, path: Path, key: str) -> None:
    rest = record.feedback.replace("{date}", "")
    if "{" in rest or "}" in rest:
        raise ConfigError(
            path, f"{key}.feedback", f"expected a path where only {{date}} is replaced, got {record.feedback!r}"
        )
