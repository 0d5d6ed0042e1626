"""The team's feedback log (DEVOPS-015): every release's WORK COMPLETE block, appended as one entry.

``[record] feedback = "feedback/devops/{date}.md"`` names the file (relative to the config's folder;
``{date}`` is the release's UTC date). At the end of a release its entry is appended: a heading
naming the release, its time and outcome, a link to its record, and the block, its evidence links
rewritten to point from the log into the record. Earlier entries are never rewritten (the file is
only ever opened to append).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from gates.core.redact import redact
from gates.evidence.completion import completion_block

if TYPE_CHECKING:
    from gates.config import Config
    from gates.evidence.record import Record
    from gates.evidence.state import StepRecord

_LINK = re.compile(r"\]\(([^)]+)\)")


def feedback_path(config: Config, record: Record) -> Path | None:
    """The log this release's entry goes to, or None when ``[record] feedback`` is empty."""
    if not config.record.feedback:
        return None
    return config.resolve(config.record.feedback.replace("{date}", record.started_at.date().isoformat()))


def entry(record: Record, path: Path) -> str:
    """The release's entry: its heading, its record, its completion block (links relative to ``path``)."""

    def rel(match: re.Match[str]) -> str:
        return f"]({os.path.relpath(record.dir / match.group(1), path.parent)})"

    ended = record.ended_at or record.started_at
    block = [_LINK.sub(rel, line) for line in completion_block(record)]
    # The entry's heading is the second level: the block's own heading goes one below it.
    block = [f"#{line}" if line.startswith("## ") else line for line in block]
    lines = [
        f"## Release {record.id}: {record.outcome.replace('_', ' ')}, {ended.strftime('%Y-%m-%d %H:%M:%S')} UTC",
        "",
        _LINK.sub(rel, "- record: [summary.md](summary.md), [record.json](record.json)"),
        f"- commit: `{record.commit or 'unknown'}`",
        "",
        *block,
    ]
    return redact("\n".join(lines)) + "\n"


def append_entry(record: Record, path: Path) -> None:
    """Append the release's entry to ``path`` (created with a title on first use); never rewrite it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        if fh.tell() == 0:
            fh.write(f"# Release feedback: {path.stem}\n")
        fh.write("\n" + entry(record, path))


class FeedbackWriter:
    """A Record listener: at the finish of a release, appends its entry and names the log in the record."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def __call__(self, event: str, record: Record, step: StepRecord | None) -> None:
        path = feedback_path(self.config, record) if event == "finish" else None
        if path is None:
            return
        try:
            append_entry(record, path)
        except OSError as exc:
            # The release's verdict stands; the record says why its entry is missing.
            record.state.feedback_error = redact(f"feedback entry not written: {exc}")
            return
        record.state.feedback = os.path.relpath(path, record.dir)
