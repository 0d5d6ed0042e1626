"""The plugin as another repository sees it: installed gates brings markers, fixtures and evidence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.selftests.demo import free_port

MOLECULE = '''
import pytest
from gates.measurement import Measurement

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


def test_an_unknown_environment_is_a_usage_error_listing_the_known_ones(tmp_path):
    """--env qa when only staging exists stops before any test runs, naming the known environments."""
    write_repo(tmp_path)
    result = run_pytest(tmp_path, "--env", "qa")
    assert result.returncode == 4
    assert "unknown environment 'qa' (known: staging)" in result.stderr
