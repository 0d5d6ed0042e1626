"""Files of an app repository for self-tests, written by the tests in tmp: workflows, and the app's own commits
(a fault is injected as a commit of the app's code, as a team would ship it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.selftests.demo import DEMO

# A release workflow as users write one: deploy, and roll back with the image of an earlier release.
WORKFLOW = """name: release
on:
  push:
    branches: [main]
jobs:
  release:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v4
      - run: fly deploy --strategy rolling
      - name: Roll back
        if: failure()
        run: fly deploy --image "$PREVIOUS_IMAGE" --strategy immediate
"""


def write_workflows(root: Path, **workflows: str) -> Path:
    """``root/.github/workflows/NAME.yml`` for each NAME=text; the folder."""
    folder = root / ".github" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in workflows.items():
        (folder / f"{name}.yml").write_text(text)
    return folder


def app_repository(folder: Path) -> Path:
    """A git repository holding a copy of the demo app, its first commit made: ``folder/app``, as a team's app is."""
    app = folder / "app"
    shutil.copytree(DEMO, app, ignore=shutil.ignore_patterns("__pycache__", "faults.json"))
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "dev@example.com"], ["config", "user.name", "dev"]):
        _git(app, *args)
    _git(app, "add", "-A")
    _git(app, "commit", "-q", "-m", "the dashboard")
    return app


def commit_change(app: Path, message: str, edits: dict[str, str], path: str = "app.py") -> None:
    """Commit an edit of the app's code: each key of ``edits`` (which must be there) replaced by its value in ``path``."""
    file = app / path
    text = file.read_text()
    for old, new in edits.items():
        assert old in text, f"{path} has no {old!r}: the demo app changed under this test"
        text = text.replace(old, new, 1)
    file.write_text(text)
    _git(app, "commit", "-q", "-a", "-m", message)


def _git(app: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(app), *args], check=True, capture_output=True, timeout=60)
