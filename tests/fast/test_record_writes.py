"""Writing a record again rebuilds its Foreground Proof table only when what the table reads changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gates.evidence import record as record_mod
from gates.evidence.record import Record

_JUNIT = """<testsuites><testsuite tests="1" failures="1" errors="0" skipped="0">
<testcase name="test_health"><failure message="{message}"/></testcase></testsuite></testsuites>"""


def test_the_proof_table_is_built_once_per_change_of_the_records_facts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write with nothing new reuses the table; a step that starts or ends (a new fact) builds it again."""
    built: list[int] = []
    rows = record_mod.proof_rows
    monkeypatch.setattr(record_mod, "proof_rows", lambda r: built.append(1) or rows(r))
    record = Record(tmp_path)
    assert len(built) == 1
    record.write()
    record.write()
    assert len(built) == 1
    with record.step("preflight"):
        assert len(built) == 2
    assert len(built) == 3
    record.write()
    assert len(built) == 3 and "## Foreground Proof" in (record.dir / "summary.md").read_text()


def test_a_gates_junit_is_read_once_per_version_of_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The failures of a gate come from its JUnit XML, read again only when the file changed."""
    read: list[Path] = []
    summary = record_mod.junit_summary

    def counting(path: Path) -> tuple[dict[str, int], tuple[str, ...]]:
        read.append(path)
        return summary(path)

    monkeypatch.setattr(record_mod, "junit_summary", counting)
    record = Record(tmp_path)
    (record.dir / "staging.xml").write_text(_JUNIT.format(message="503 on /health"))
    assert record.failures("staging.xml") == ("test_health: 503 on /health",)
    assert record.failures("staging.xml") == ("test_health: 503 on /health",)
    assert len(read) == 1
    (record.dir / "staging.xml").write_text(_JUNIT.format(message="timed out on /health"))
    assert record.failures("staging.xml") == ("test_health: timed out on /health",)
    assert len(read) == 2
