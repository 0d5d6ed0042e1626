"""The repository's own workflows: GitHub's workflow schema and real flyctl commands, from fixture
repositories written in tmp (a broken copy fails naming file, line and key; the corrected one passes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gates.checks.workflows import (
    find_workflows,
    fly_problem,
    workflows_run_real_fly_commands,
    workflows_valid,
)
from tests.selftests.repofixtures import WORKFLOW, write_workflows

ROLLBACK = """name: rollback
on: workflow_dispatch
jobs:
  rollback:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Roll production back
        run: |
          echo "rolling back hotdash-app"
          fly releases rollback -a hotdash-app && echo done
      - run: flyctl status --json -a hotdash-app
"""
FIXED = ROLLBACK.replace(
    "fly releases rollback -a hotdash-app",
    "fly deploy --image \"$(fly releases --json -a hotdash-app | jq -r '.[1].ImageRef')\"",
)


def repository(root: Path, **workflows: str) -> Path:
    """A repository with an app folder and the given .github/workflows files; the app folder."""
    write_workflows(root, **workflows)
    (root / ".git").mkdir()
    (root / "app").mkdir()
    return root / "app"


def test_workflows_are_found_from_the_app_source_up_to_the_repository_root(tmp_path):
    """The app lives in a sub-folder: its repository's .github/workflows is found; nothing above .git is."""
    app = repository(tmp_path / "repo", deploy=WORKFLOW)
    assert find_workflows(app) == tmp_path / "repo" / ".github" / "workflows"
    (tmp_path / "other" / ".git").mkdir(parents=True)
    assert find_workflows(tmp_path / "other") is None


def test_fly_releases_rollback_is_named_with_file_line_and_step(tmp_path):
    """The seed's rollback plan (`fly releases rollback`) is caught, with the rollback flyctl does have."""
    folder = find_workflows(repository(tmp_path, rollback=ROLLBACK))
    assert folder is not None
    m = workflows_run_real_fly_commands(folder)
    assert list(m.problems) == [
        f"{folder / 'rollback.yml'}:11: jobs.rollback.steps[1].run: `fly releases rollback -a hotdash-app`: "
        "`fly releases` takes no argument ('rollback'): flyctl has no `releases rollback`; to roll back, "
        "`fly deploy --image <ImageRef of an earlier release>` (from `fly releases --json`)"
    ]


def test_the_corrected_rollback_passes(tmp_path):
    """fly deploy --image with the image from fly releases --json: every command exists."""
    folder = find_workflows(repository(tmp_path, rollback=FIXED, deploy=WORKFLOW))
    assert folder is not None
    m = workflows_run_real_fly_commands(folder)
    assert m.ok, m.explain()


def test_unknown_top_level_commands_and_flag_values():
    """`fly rollback` is unknown; flag values (-a APP) are not arguments; aliases (machines, m) are commands."""
    assert fly_problem(["rollback"]) == "flyctl has no command 'rollback'"
    assert fly_problem(["releases", "-a", "hotdash-app", "--json"]) == ""
    assert fly_problem(["-t", "token", "machines", "list"]) == fly_problem(["m", "list"]) == ""


def test_a_workflow_against_githubs_schema_fails_naming_file_line_and_path(tmp_path):
    """A job with `run-on` (no runs-on) fails the schema, naming the file, the job's line and path."""
    folder = find_workflows(repository(tmp_path, deploy=WORKFLOW.replace("runs-on:", "run-on:")))
    assert folder is not None
    m = workflows_valid(folder)
    assert list(m.problems) == [f"{folder / 'deploy.yml'}:6: $.jobs.release: 'runs-on' is a required property"]
    (folder / "deploy.yml").write_text(WORKFLOW)
    assert workflows_valid(folder).ok


def test_a_workflow_that_is_not_yaml_fails(tmp_path):
    """Unparsable YAML is a failure naming the file, not a skipped file."""
    folder = find_workflows(repository(tmp_path, deploy="jobs: [unclosed\n"))
    assert folder is not None
    m = workflows_valid(folder)
    assert not m.ok and str(folder / "deploy.yml") in m.problems[0]


def test_the_flyctl_action_args_and_prefixed_commands_are_checked(tmp_path):
    """`uses: superfly/flyctl-actions@1.5` with args "releases rollback", and `FLY_APP=x fly rollback`, are both caught."""
    text = WORKFLOW.replace(
        "      - run: fly deploy --strategy rolling\n",
        "      - uses: superfly/flyctl-actions@1.5\n        with:\n          args: releases rollback\n"
        "      - run: FLY_APP=hotdash-app fly rollback\n",
    )
    folder = find_workflows(repository(tmp_path, release=text))
    assert folder is not None
    problems = workflows_run_real_fly_commands(folder).problems
    assert [p.split(": `")[0] for p in problems] == [
        f"{folder / 'release.yml'}:13: jobs.release.steps[1].with.args",
        f"{folder / 'release.yml'}:14: jobs.release.steps[2].run",
    ]


def test_the_command_tree_rejects_what_flyctl_does_not_have_to_the_last_word():
    """Subcommands, arguments and flags are checked where the tree is known: each wrong line is named."""
    assert fly_problem(["apps", "releases", "rollback", "-a", "hotdash-app"]).startswith(
        "`fly apps releases` takes no argument ('rollback'): flyctl has no `releases rollback`; to roll back"
    )
    assert fly_problem(["machine", "rollback"]) == "flyctl v0.4.87 has no `machine rollback`"
    assert fly_problem(["secrets", "get", "DATABASE_URL"]) == "flyctl v0.4.87 has no `secrets get`"
    assert fly_problem(["deploy", "--json"]) == "`fly deploy` has no flag --json in flyctl v0.4.87"
    assert fly_problem(["deploy", "a", "b"]) == "`fly deploy` takes at most 1 argument(s), got 2: a b"


@pytest.mark.parametrize("name", ["secret", "check", "token", "org", "certificates", "mysql", "domains", "dns-records"])
def test_names_flyctl_does_not_have_are_rejected(name):
    """Root names that are not flyctl's (nor an alias of one) fail: the real ones are plural or different."""
    assert fly_problem([name, "list"]) == f"flyctl has no command {name!r}"


@pytest.mark.parametrize(
    "line",
    [
        "v list",
        "vol list -a app",
        "tigris list",
        "storage create",
        "ext list",
        "tokens create deploy",
        "certs list",
        "secrets list --json -a app",
        "machines list",
        "m status 148e21ea7e5d89",
        "app releases --json --image",
        "deploy . --config fly.toml --strategy bluegreen --skip-release-command --yes",
        "deploy --image registry.fly.io/app:deployment-1 -a app --auto-confirm --wait-timeout=10m",
        "logs --no-tail --json -a app",
        "status --json -a app",
    ],
)
def test_real_flyctl_lines_and_aliases_pass(line):
    """Aliases (`v` for volumes, `tigris` for storage), real subcommands and real flags are accepted."""
    assert fly_problem(line.split()) == ""
