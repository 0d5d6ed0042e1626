"""The plugin as another repository sees it: installed gates brings markers, fixtures and evidence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.selftests.demo import free_port

MOLECULE = '''
import pytest
from gates.core.measurement import Measurement

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.health]


def test_reads_like_a_runbook_line(environment, verdict):
    """A molecule outside the gates repository gets the environment and the verdict fixture."""
    verdict(Measurement("answer", "is 42", observed=41, expected=42, ok=False, source=f"GET {environment.url}/answer"))
'''


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--strict-markers", *args],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def write_repo(folder: Path) -> None:
    (folder / "test_molecule.py").write_text(MOLECULE)
    (folder / "gates.toml").write_text(
        f'[app]\nname = "x"\n\n[environments.staging]\nplatform = "local"\nurl = "http://127.0.0.1:{free_port()}"\n'
    )


def test_an_installed_gates_brings_markers_fixtures_and_measurements(tmp_path):
    """In a foreign repo, `pytest -m staging` selects the molecule and fails it with value, condition and source."""
    write_repo(tmp_path)
    result = run_pytest(tmp_path, "-m", "staging", "-k", "runbook_line", f"--junitxml={tmp_path / 'out.xml'}")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "answer: FAILED: GET http://127.0.0.1:" in result.stdout and "-> 41, expected 42" in result.stdout
    assert "gates_measurement" in (tmp_path / "out.xml").read_text()


def test_a_plain_pytest_leaves_the_molecules_out(tmp_path):
    """Without -m or --env the molecules have no target, so they are deselected rather than run blind."""
    write_repo(tmp_path)
    result = run_pytest(tmp_path)
    assert result.returncode == 5 and "1 deselected" in result.stdout


def test_a_gate_runs_the_health_molecules_first_and_the_others_as_collected(tmp_path):
    """In a gate run the molecules of the health concern (the built-in ones and the repository's own) run before
    every other, each group in the order collected: an app that gives no answer is found within one
    health_timeout, before the browser's visit."""
    write_repo(tmp_path)
    result = run_pytest(tmp_path, "-m", "staging", "--collect-only", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    names = [line.split("::")[-1] for line in result.stdout.splitlines() if "::" in line]
    health = ["test_every_health_path_answers_200", "test_environment_serves_the_release_just_deployed",
              "test_every_machine_answers_every_health_path", "test_reads_like_a_runbook_line"]  # fmt: skip
    assert sorted(names[:4]) == sorted(health) and len(names) > 4, names
    browser = [n for n in names if n.startswith("test_dashboard_loads_inside_the_admin_frame")]
    assert browser and names.index(browser[0]) > 3


def test_an_unknown_environment_is_a_usage_error_listing_the_known_ones(tmp_path):
    """--env qa when only staging exists stops before any test runs, naming the known environments."""
    write_repo(tmp_path)
    result = run_pytest(tmp_path, "--env", "qa")
    assert result.returncode == 4
    assert "unknown environment 'qa' (known: staging)" in result.stderr


PASSING = '''
import pytest
from gates.core.measurement import Measurement

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.health]


def test_passes_quietly(environment, verdict):
    """A molecule that passes with nothing captured."""
    verdict(Measurement("fine", "is fine", observed=1, expected=1, ok=True, source="here"))
'''


def test_a_gate_streams_its_molecules_and_its_report_says_what_was_gated(tmp_path):
    """--gates-events gets a line per molecule as it ends (verdict, DEVOPS step, the failure's message), under
    xdist too; the HTML report's title and first table name gate, verdict, environment, URL, release and commit;
    rows carry the DEVOPS step; a passing molecule has no empty log box."""
    import html
    import json
    import re

    write_repo(tmp_path)
    (tmp_path / "test_passing.py").write_text(PASSING)
    events, report = tmp_path / "events.jsonl", tmp_path / "gate.html"
    result = run_pytest(
        tmp_path, "-m", "staging", "-k", "runbook_line or quietly", "-n", "2", "--expect-release", "7", "--gates-commit", "abc1234def",
        "--gates-events", str(events), f"--html={report}", "--self-contained-html",
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    molecules = {e["name"]: e for e in lines if e["event"] == "molecule"}
    assert set(molecules) == {"test_reads_like_a_runbook_line", "test_passes_quietly"}
    failed = molecules["test_reads_like_a_runbook_line"]
    assert failed["outcome"] == "failed" and "answer: FAILED" in failed["message"] and failed["seed_step"] == "DEVOPS-002"
    assert molecules["test_passes_quietly"]["outcome"] == "passed" and molecules["test_passes_quietly"]["concern"] == "health"
    page = report.read_text()
    title = html.unescape(re.search(r'<h1 id="title">(.*?)</h1>', page).group(1))
    url = re.search(r'url = "(.*?)"', (tmp_path / "gates.toml").read_text()).group(1)
    assert title == f"staging gate FAILED (1 of 2 molecules failed): staging at {url}, release 7, commit abc1234def"
    gated = page[page.index("id='gates-gated'") : page.index('id="results-table"')]
    assert all(fact in gated for fact in ("staging (local)", url, "release 7", "abc1234def", "FAILED"))
    assert '"seedstep": "DEVOPS-002"' in html.unescape(page)
    assert "No log output captured" not in page
