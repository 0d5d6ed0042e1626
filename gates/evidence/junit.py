"""What a gate's JUnit XML says: its counts, and each failed molecule with its first cause.

Read by the gate runner as a gate ends and by the record's proofs afterwards: both import it here, so the
record never imports the runner that writes it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from gates.core.redact import redact


def junit_summary(path: Path) -> tuple[dict[str, int], tuple[str, ...]]:
    """Test counts and 'name: first line of message' for each failed or errored molecule."""
    if not path.is_file():
        return {}, ()
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return {}, ()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return {}, ()
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    failed: list[str] = []
    for case in suite.iter("testcase"):
        for tag in ("failure", "error"):
            node = case.find(tag)
            if node is not None:
                failed.append(redact(f"{case.get('name')}: {first_cause(node.get('message') or node.text or tag)}"))
    return counts, tuple(failed)


def first_cause(message: str) -> str:
    """A failure's first line, with its first listed problem: the summary alone ("0 of 1 false")
    would not name the cause in the record, the notifications or the incident report."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "failed"
    if len(lines) > 1 and lines[1].startswith("- "):
        return f"{lines[0]} -- {lines[1][2:]}"
    return lines[0]
