"""Evidence that stands alone: seed step ids per molecule, the record's index.html, the CLI's output choices."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from gates.cli import release as cli
from gates.cli.parser import build_parser
from gates.core.errors import UsageError
from gates.core.markers import gate_of_run, seed_step
from gates.evidence.markdown import to_html
from gates.evidence.progress import JsonLines, TextSink
from gates.evidence.record import Record


@pytest.mark.parametrize(
    ("markexpr", "production", "concerns", "expected"),
    [
        ("preflight", True, ["ci"], "DEVOPS-001"),
        ("preflight", True, ["database"], "DEVOPS-006"),
        ("preflight", True, [], "DEVOPS-006"),
        ("staging", False, ["health"], "DEVOPS-002"),
        ("staging", False, ["database"], "DEVOPS-003"),
        ("staging", False, ["smoke", "browser"], "DEVOPS-004"),
        ("production", True, ["database"], "DEVOPS-007"),
        ("production", True, ["health"], "DEVOPS-008/009"),
        ("production", True, ["flags"], "DEVOPS-010"),
        ("production", True, ["smoke"], "DEVOPS-011"),
        ("monitor", False, ["monitoring"], "DEVOPS-005"),
        ("monitor", True, ["monitoring"], "DEVOPS-012"),
        ("drill", False, ["smoke"], "DEVOPS-013"),
        ("production", True, ["zero_downtime"], ""),
        ("", False, ["health"], "DEVOPS-002"),  # --env alone: the environment's gate
    ],
)
def test_each_molecule_gets_the_seed_step_of_its_gate_and_concern(
    markexpr: str, production: bool, concerns: list[str], expected: str
) -> None:
    """The DEVOPS id comes from the gate the run is (its -m, else the environment) and the molecule's concern."""
    assert seed_step(gate_of_run(markexpr, production), concerns) == expected


def test_markdown_becomes_html_escaped_with_links_tables_and_check_lists() -> None:
    """Headings, tables (escaped pipes kept), check lists and links render; text is escaped, never markup."""
    page = to_html(
        "# Release x: passed\n\n- started: now <b>\n\n| step | detail |\n|---|---|\n| gate | a \\| b [r](r.html) |\n\n"
        "## Proof\n\n- [x] gate: passed ([evidence](staging-gate.html))\n- [ ] drill: skipped\n"
    )
    assert "<h1>Release x: passed</h1>" in page and "now &lt;b&gt;" in page
    assert '<td>a | b <a href="r.html">r</a></td>' in page
    assert "<input type='checkbox' disabled checked> gate: passed (<a href=\"staging-gate.html\">evidence</a>)" in page
    assert "<input type='checkbox' disabled> drill: skipped" in page


def test_the_record_writes_an_index_that_links_every_gate_report(tmp_path: Path) -> None:
    """index.html is written with summary.md, renders it and links every HTML report in the folder."""
    record = Record(tmp_path)
    assert (record.dir / "index.html").is_file()
    (record.dir / "staging-gate.html").write_text("<html></html>")
    (record.dir / "drill-smoke.html").write_text("<html></html>")
    with record.step("gate", "staging") as step:
        step.artifacts.append("staging-gate.html")
    index = (record.dir / "index.html").read_text()
    assert index.startswith("<!DOCTYPE html>") and f"Release {record.id}" in index
    for link in ("staging-gate.html", "drill-smoke.html", "summary.md", "record.json"):
        assert f'href="{link}"' in index
    assert 'href="index.html"' not in index


def _args(**given: object) -> argparse.Namespace:
    return argparse.Namespace(**{"json": False, "quiet": False, "events": None, **given})


def test_quiet_keeps_only_the_events_file_and_json_replaces_the_text(tmp_path: Path) -> None:
    """--quiet: no live text (the events file still gets every event); --json: JSON lines instead of text."""
    with cli._telling(_args(quiet=True, events=str(tmp_path / "e.jsonl"))) as reporter:
        assert [type(s) for s in reporter.sinks] == [JsonLines]
        reporter.message("hello")
    assert json.loads((tmp_path / "e.jsonl").read_text())["text"] == "hello"
    with cli._telling(_args(json=True)) as reporter:
        assert [type(s) for s in reporter.sinks] == [JsonLines]
    with cli._telling(_args()) as reporter:
        assert [type(s) for s in reporter.sinks] == [TextSink]


def test_an_events_file_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    """--events into a folder that cannot exist: one line naming the option and the path, exit 2."""
    (tmp_path / "file").write_text("")
    with (
        pytest.raises(UsageError, match=r"--events .*cannot write"),
        cli._telling(_args(events=str(tmp_path / "file" / "e.jsonl"))),
    ):
        pass


def test_json_and_quiet_do_not_go_together() -> None:
    """--json and --quiet are one choice of output: both is a usage error."""
    with pytest.raises(UsageError, match="not allowed with"):
        build_parser().parse_args(["deploy", "--json", "--quiet"])


def test_with_json_anything_a_step_prints_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """Stdout carries only events under --json: a stray print (the sign-off checklist) lands on stderr."""
    with cli._telling(_args(json=True)) as reporter:
        print("gates: sign-off of the release to production:")
        reporter.message("event")
    out, err = capsys.readouterr()
    assert [json.loads(line)["event"] for line in out.splitlines()] == ["message"]
    assert "sign-off" in err


def test_in_github_actions_the_job_summary_gets_the_completion_block_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With GITHUB_ACTIONS=true the release's completion block is appended to $GITHUB_STEP_SUMMARY; elsewhere not."""
    from gates.evidence.completion import block_of_summary

    record = Record(tmp_path / "deploys")
    record.finish("failed", "gate staging failed")
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    cli._job_summary(record)
    assert not summary.exists()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    cli._job_summary(record)
    text = summary.read_text()
    block = block_of_summary(record.dir / "summary.md")
    assert text.count(block) == 1 and text.startswith(f"## gates release {record.id}")
