"""The self-tests' xdist groups hold: with `--dist loadgroup` a group's tests run on one worker, in order.

The groups are what let a module's tests share one deployed release, one built React Router demo or
one three-release ledger (tests/xdist_groups.py says why the repository keeps them working itself).
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.selftests.demo import REPO

GROUPED = """
import pytest

pytestmark = pytest.mark.xdist_group("shared")


@pytest.mark.parametrize("n", range(6))
def test_grouped(n):
    pass


@pytest.mark.parametrize("n", range(6))
@pytest.mark.xdist_group("other")
def test_twice_grouped(n):
    pass
"""
LOOSE = """
import pytest


@pytest.mark.parametrize("n", range(12))
def test_loose(n):
    pass
"""


def test_a_groups_tests_run_on_one_worker_with_the_group_in_their_ids(tmp_path):
    """Two workers, 6 grouped tests among 18 others: every grouped test reports the same worker and its id ends
    with its group (two marks: both names, sorted), as pytest-xdist documents."""
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_loose.py").write_text(LOOSE)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.xdist_groups", "-p", "no:cacheprovider", "-n", "2",
         "--dist", "loadgroup", "-v", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # "[gw0] [ 12%] PASSED test_grouped.py::test_grouped[0]@shared": worker and id of each test
    ran = [(line.split()[0], line.split()[-1]) for line in done.stdout.splitlines() if " PASSED " in line and line.startswith("[gw")]
    assert len(ran) == 24, done.stdout
    grouped = sorted((worker, test) for worker, test in ran if "::test_grouped[" in test)
    assert [test for _, test in grouped] == [f"test_grouped.py::test_grouped[{n}]@shared" for n in range(6)], done.stdout
    assert len({worker for worker, _ in grouped}) == 1, done.stdout
    twice = [(worker, test) for worker, test in ran if "::test_twice_grouped[" in test]
    assert len(twice) == 6 and all(test.endswith("]@other_shared") for _, test in twice), done.stdout
    assert len({worker for worker, _ in twice}) == 1, done.stdout
