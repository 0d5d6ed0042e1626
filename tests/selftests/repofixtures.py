"""Files of an app repository for the preflight's self-tests, written by the tests in tmp."""

from __future__ import annotations

from pathlib import Path

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
