"""CI green against a local server with GitHub's payloads: each case gets the right verdict."""

from __future__ import annotations

import pytest

from gates.checks.ci import ci_green, github_client
from gates.config import CIConfig
from tests.selftests.githubfake import REPO, SHA, GitHubFake, check_run

TOKEN = "ghs_canaryGitHubToken0123456789"


@pytest.fixture
def github(monkeypatch):
    with GitHubFake() as fake:
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
        yield fake


def judge(ci: CIConfig | None = None, deployed: str = ""):
    ci = ci or CIConfig(repository=REPO)
    with github_client(ci) as client:
        return ci_green(client, ci, deployed)


def test_all_green_passes_listing_every_run_with_its_link(github: GitHubFake):
    """Two successful runs and one skipped: green; the verdict lists each run with its URL."""
    github.commit()
    github.runs([check_run("test"), check_run("lint"), check_run("deploy-preview", conclusion="skipped")])
    m = judge(deployed=SHA)
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
    assert list(m.problems) == [f"head of main not read: GET /repos/{REPO}/commits/main -> HTTP 401: Bad credentials"]


def test_500_fails(github):
    """GitHub erroring on the check runs is a failure, not a pass."""
    github.commit()
    github.runs((500, {"message": "Server Error"}, {}))
    m = judge()
    assert not m.ok and "HTTP 500" in m.problems[0]


def test_a_commit_that_is_not_the_branch_head_fails(github):
    """Deploying anything but the head of the branch fails, naming both commits."""
    github.commit()
    github.runs([check_run("test")])
    m = judge(deployed="0" * 40)
    assert list(m.problems) == [f"the commit deployed (000000000000) is not the head of main ({SHA[:12]})"]


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
