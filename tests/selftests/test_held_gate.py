"""A gate started before what it judges is ready (``held_gate``, ``--gates-hold``): its molecules wait for the word
to go and take the options only known then; a word that never comes, or a gate called off, judges nothing."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gates import config as config_mod
from gates.core.errors import GatesError
from gates.gaterun.runner import held_gate, run_gate
from tests.selftests.demo import junit_results, write_config

MARKER = "staging and held"
# A team's molecule of the gate: it reads what the gates process made just before the word to go, and says which
# release it was told to expect (only known by then), into files beside the config.
_MOLECULE = '''
from pathlib import Path

import pytest

pytestmark = [pytest.mark.staging, pytest.mark.held]
HERE = Path(__file__).parent


def test_runs_only_once_what_it_judges_is_made(expected_release):
    """It finds what was made before the word, and the release the word named."""
    (HERE / "ran.txt").write_text(f"{(HERE / 'made.txt').read_text()} {expected_release}")
'''


@pytest.fixture
def repo(tmp_path: Path) -> config_mod.Config:
    """A team's repository: its config, and one molecule of the staging gate marked ``held``."""
    path = write_config(tmp_path, environments={"staging": {}})
    (tmp_path / "test_held.py").write_text(_MOLECULE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    held: this file's molecule\n")
    (tmp_path / "out" / "logs").mkdir(parents=True)
    return config_mod.load(path)


def test_a_held_gate_runs_its_molecules_after_the_word_with_the_release_it_names(repo: config_mod.Config) -> None:
    """The child starts at once but its molecule runs only after the word to go: it finds what was made meanwhile and
    expects the release the word named."""
    out = repo.root / "out"
    with held_gate(repo, repo.environment("staging"), MARKER, out, "held-gate", hold_for=120.0) as gate:
        (repo.root / "made.txt").write_text("made")
        gate.go(expect_release=7)
    outcome = gate.outcome()
    assert outcome.passed, outcome.detail
    assert (repo.root / "ran.txt").read_text() == "made 7"


def test_a_gate_called_off_judges_nothing_and_its_child_is_stopped(repo: config_mod.Config) -> None:
    """An error while what the gate judges is being made calls the gate off: its child is stopped, no molecule ran,
    and the error goes on."""
    out = repo.root / "out"
    env = repo.environment("staging")
    with pytest.raises(GatesError, match="rollout failed"), held_gate(repo, env, MARKER, out, "held-gate",
                                                                       hold_for=120.0) as gate:  # fmt: skip
        raise GatesError("rollout failed")
    assert gate.told and not (repo.root / "ran.txt").exists()
    assert not gate.running


def test_a_word_that_never_comes_fails_every_molecule_within_its_bound(repo: config_mod.Config) -> None:
    """A held child whose word never comes fails each molecule saying so once its bound ends (fail closed)."""
    out = repo.root / "out"
    word = out / "logs" / "never-go"
    options = ["--gates-hold", str(word), "--gates-hold-timeout", "1"]
    outcome = run_gate(repo, repo.environment("staging"), MARKER, out, "held-gate", options=options)
    assert not outcome.passed and not (repo.root / "ran.txt").exists()
    (result,) = junit_results(out / "held-gate.xml").values()
    assert f"the word to go ({word}) never came within 1s (fail closed)" in result


_TWO = """
import os

import pytest

pytestmark = [pytest.mark.staging, pytest.mark.held]


def chromium_below_me():
    \"\"\"Whether a Chromium process runs below this pytest (Playwright's driver starts it).\"\"\"
    parent, chromium = {}, set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
            command = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        parent[int(pid)] = int(stat.rsplit(")", 1)[1].split()[1])
        if b"chrom" in command:
            chromium.add(int(pid))
    for pid in chromium:
        while pid > 1:
            pid = parent.get(pid, 0)
            if pid == os.getpid():
                return True
    return False


def test_a_first_without_a_browser():
    \"\"\"No browser asked for here, yet the run's is up: launched while the gate was held.\"\"\"
    assert chromium_below_me()


def test_b_with_the_browser(browser):
    \"\"\"The browser is up.\"\"\"
    assert browser.is_connected()
"""


def test_a_held_gate_launches_its_browser_while_held_and_keeps_the_molecules_order(repo: config_mod.Config) -> None:
    """In a held run whose molecules use the browser, the browser is launched before the wait for the word: the
    first molecule (one that does not use it) finds it running; the molecules keep their order."""
    (repo.root / "test_held.py").write_text(_TWO)
    out = repo.root / "out"
    with held_gate(repo, repo.environment("staging"), MARKER, out, "held-gate", hold_for=120.0) as gate:
        gate.go()
    outcome = gate.outcome()
    assert outcome.passed, outcome.detail
    assert list(junit_results(out / "held-gate.xml")) == [
        "test_a_first_without_a_browser",
        "test_b_with_the_browser[chromium]",
    ]


_QUICK = """
import pytest

pytestmark = [pytest.mark.staging, pytest.mark.held]


def test_quick():
    \"\"\"Nothing to do.\"\"\"
"""
HELD = 6.0  # seconds the gate below is held: far more than a molecule that does nothing takes, even on a busy machine


def test_the_wait_for_the_word_is_not_counted_in_the_first_molecules_time(repo: config_mod.Config) -> None:
    """A gate held for seconds before its word: its first molecule's time in the JUnit XML is its own (a molecule
    that does nothing), not the wait (nor the browser's launch before it, done for the whole run: none here)."""
    (repo.root / "test_held.py").write_text(_QUICK)
    out = repo.root / "out"
    with held_gate(repo, repo.environment("staging"), MARKER, out, "held-gate", hold_for=120.0) as gate:
        time.sleep(HELD)  # what the gate judges being made
        gate.go()
    outcome = gate.outcome()
    assert outcome.passed, outcome.detail
    (case,) = ET.parse(out / "held-gate.xml").getroot().iter("testcase")
    assert float(case.get("time", "nan")) < HELD / 2, case.get("time")
