"""CI green against a local server with GitHub's payloads: each case gets the right verdict.

The commit judged is the release's own, compared with the branch head; required checks come from
[ci] required and the branch protection, and each must exist and have succeeded."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gates import config as config_mod
from gates.checks.ci import ci_green, github_client, release_commit
from gates.config import CIConfig
from gates.core.errors import ConfigError
from tests.selftests.githubfake import REPO, SHA, GitHubFake, check_run

TOKEN = "ghs_canaryGitHubToken0123456789"


@pytest.fixture
def github(monkeypatch):
    with GitHubFake() as fake:
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
        yield fake


def judge(ci: CIConfig | None = None, released: str = SHA):
    ci = ci or CIConfig(repository=REPO)
    with github_client(ci) as client:
        return ci_green(client, ci, released)


def test_all_green_passes_listing_every_run_with_its_link(github: GitHubFake):
    """Two successful runs and one skipped: green; the verdict lists each run with its URL."""
    github.commit()
    github.runs([check_run("test"), check_run("lint"), check_run("deploy-preview", conclusion="skipped")])
    m = judge()
    assert m.ok, m.explain()
    assert [r["name"] for r in m.details] == ["test", "lint", "deploy-preview"]
    assert all(r["url"].startswith(f"https://github.com/{REPO}/runs/") for r in m.details)
    assert github.requests[0][1]["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in m.explain() and TOKEN not in str(m.as_dict())


def test_one_failed_run_fails_naming_it(github):
    """One run concluded failure: red, naming the run and its link."""
    github.commit()
    github.runs([check_run("test"), check_run("e2e", conclusion="failure")])
    m = judge()
    assert not m.ok
    assert list(m.problems) == [f"e2e concluded failure: {check_run('e2e')['html_url']}"]


def test_a_pending_run_fails(github):
    """A run still in progress is not green."""
    github.commit()
    github.runs([check_run("test"), check_run("build", status="in_progress", conclusion=None)])
    m = judge()
    assert not m.ok and m.problems[0].startswith("build is in_progress, not completed")


def test_a_failing_run_on_the_second_page_is_found(github):
    """The Link header is followed: a failure on page 2 fails the check."""
    github.commit()
    github.runs([check_run(f"job-{i}") for i in range(3)], [check_run("late", conclusion="timed_out")])
    m = judge()
    assert len(m.details) == 4
    assert list(m.problems) == [f"late concluded timed_out: {check_run('late')['html_url']}"]


def test_an_unreadable_second_page_fails(github):
    """A page that answers 500 is unread data: fail closed, naming the page."""
    github.commit()
    github.runs([check_run("test")], (500, {"message": "Server Error"}, {}))
    m = judge()
    assert not m.ok and m.problems[0].startswith("page 2 of check runs not read:")


def test_zero_runs_fail(github):
    """No check run at all proves nothing: red."""
    github.commit()
    github.runs([])
    m = judge()
    assert list(m.problems) == [f"no check runs on {SHA[:12]}: nothing proves CI ran"]


def test_401_fails_with_githubs_message(github):
    """Bad credentials: red, with the HTTP status and GitHub's message, and no token."""
    github.routes[f"/repos/{REPO}/commits/main"] = (401, {"message": "Bad credentials"}, {})
    m = judge()
    assert m.problems[0] == f"head of main not read: GET /repos/{REPO}/commits/main -> HTTP 401: Bad credentials"


def test_500_fails(github):
    """GitHub erroring on the check runs is a failure, not a pass."""
    github.commit()
    github.runs((500, {"message": "Server Error"}, {}))
    m = judge()
    assert not m.ok and "HTTP 500" in m.problems[0]


def test_a_commit_that_is_not_the_branch_head_fails(github):
    """Releasing anything but the head of the branch fails, naming both commits in full; its own runs are judged."""
    other = "0" * 40
    github.commit()
    github.runs([check_run("test")], sha=other)
    github.statuses(sha=other)
    m = judge(released=other)
    assert list(m.problems) == [f"the commit released ({other}) is not the head of main ({SHA})"]
    assert m.observed.startswith(other)


def test_an_unknown_release_commit_fails_closed(github):
    """No git HEAD and no GITHUB_SHA: nothing says what is released, so CI cannot vouch for it."""
    github.commit()
    github.runs([check_run("test")])
    m = judge(released="")
    assert list(m.problems) == [
        "the commit being released is unknown: the app source is not a git work tree and GITHUB_SHA is unset"
    ]


def test_the_release_commit_is_the_app_sources_git_head_else_github_sha(tmp_path, monkeypatch):
    """release_commit reads the app source's HEAD; outside a work tree it falls back to $GITHUB_SHA."""
    monkeypatch.setenv("GITHUB_SHA", SHA)
    assert release_commit(tmp_path) == SHA
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, env={**os.environ, **env})
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert release_commit(tmp_path) == head.strip() != SHA


def test_a_missing_required_check_fails_naming_it(github):
    """[ci] required names five checks, one never ran: red, naming the missing one (all present runs are green)."""
    github.commit()
    github.runs([check_run(n) for n in ("test", "lint", "typecheck", "e2e")])
    m = judge(CIConfig(repository=REPO, required=("test", "lint", "typecheck", "e2e", "build")))
    assert list(m.problems) == [f"required check 'build' is missing on {SHA}: no check run or status of that name"]


def test_a_failed_or_skipped_required_check_fails_naming_it(github):
    """A required check must have succeeded: failure and skipped are both red, each named with its link."""
    github.commit()
    github.runs([check_run("test", conclusion="failure"), check_run("e2e", conclusion="skipped")])
    m = judge(CIConfig(repository=REPO, required=("test", "e2e")))
    assert f"required check 'test' has not succeeded: failure {check_run('test')['html_url']}" in m.problems
    assert f"required check 'e2e' has not succeeded: skipped {check_run('e2e')['html_url']}" in m.problems


def test_required_checks_are_read_from_branch_protection(github):
    """With no [ci] required, the branch protection's required checks are used: one missing fails, named."""
    github.commit()
    github.runs([check_run("test")])
    github.protection("test", "ci/circleci: build")
    m = judge()
    assert list(m.problems) == [
        f"required check 'ci/circleci: build' is missing on {SHA}: no check run or status of that name"
    ]
    assert "branch protection of main: test, ci/circleci: build" in m.observed


def test_a_required_legacy_status_counts_when_it_succeeded(github):
    """A required context posted as a commit status (not a check run) satisfies the requirement when success."""
    github.commit()
    github.runs([check_run("test")])
    github.statuses(("ci/circleci: build", "success"))
    github.protection("ci/circleci: build")
    assert judge().ok


def test_unreadable_branch_protection_is_unknown_not_green_by_itself(github):
    """403 on the protection endpoint: the required checks are unknown (said so); [ci] required still applies."""
    github.commit()
    github.runs([check_run("test")])
    github.protection(status=403)
    m = judge()
    assert m.ok and "branch protection unknown" in m.observed and "HTTP 403" in m.observed
    assert not judge(CIConfig(repository=REPO, required=("deploy-check",))).ok


def test_neutral_is_green_only_when_allowed(github):
    """`neutral` fails by default and passes with allow_neutral = true."""
    github.commit()
    github.runs([check_run("codeql", conclusion="neutral")])
    assert not judge().ok
    assert judge(CIConfig(repository=REPO, allow_neutral=True)).ok


def test_a_failing_combined_status_fails(github):
    """Legacy commit statuses, when there are any, must be success too."""
    github.commit()
    github.runs([check_run("test")])
    github.routes[f"/repos/{REPO}/commits/{SHA}/status"] = (200, {"state": "failure", "total_count": 1}, {})
    assert list(judge().problems) == ["combined commit status is failure"]


def test_ci_required_must_be_a_list_of_names():
    """`[ci] required = "test"` is a config error naming file and key; a list of names is read as given."""
    base = {"app": {"name": "x"}, "environments": {"staging": {"platform": "local", "url": "http://127.0.0.1:8081"}}}
    assert config_mod.parse({**base, "ci": {"required": ["test", "build"]}}, Path("gates.toml")).ci.required == (
        "test",
        "build",
    )
    with pytest.raises(ConfigError, match=r"gates\.toml: ci\.required: expected a list"):
        config_mod.parse({**base, "ci": {"required": "test"}}, Path("gates.toml"))
