"""CI green on GitHub: the commit being released is the branch head, every required check exists and
succeeded on it, and every check run on it passed.

The commit judged is the release's own (the git HEAD of the app source, else $GITHUB_SHA), compared
with the branch head. Required checks are ``[ci] required`` plus the branch protection's required
status checks when the token may read them (404/403: unknown, said in the verdict); each may be a
check run or a legacy commit status. Fails closed: an unknown commit, zero check runs, a run not
completed, a page that could not be read, an API error, a combined status that has entries and is
not success -- each is a failure, named. The verdict lists every run seen with its link. Facts: the facts file github.md (REST: commits, check-runs
with Link pagination, combined status). Tested against a local HTTP server serving GitHub's
payload shapes, never against api.github.com.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gates.config import CIConfig
from gates.core.measurement import Measurement
from gates.core.redact import register_secret
from gates.core.vcs import commit_of

# httpx is imported where a request is made: every gate's collection imports this module, and httpx (with
# the command line it loads) is 50-60 ms of CPU, paid by every gate that makes no request through it.
if TYPE_CHECKING:
    import httpx

DEFAULT_API = "https://api.github.com"
GREEN = ("success", "skipped")
MAX_PAGES = 20


def repository(ci: CIConfig) -> str:
    return ci.repository or os.environ.get("GITHUB_REPOSITORY", "")


def api_url(ci: CIConfig) -> str:
    return ci.api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API


def token(ci: CIConfig) -> str:
    """The first token found among ``ci.token_envs``, registered as a secret."""
    for name in ci.token_envs:
        value = os.environ.get(name, "")
        if value:
            register_secret(value)
            return value
    return ""


def github_client(ci: CIConfig) -> httpx.Client:
    import httpx

    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    secret = token(ci)
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    return httpx.Client(base_url=api_url(ci), headers=headers, timeout=ci.timeout, follow_redirects=False)


def _get(client: httpx.Client, url: str) -> tuple[httpx.Response | None, str]:
    import httpx

    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        return None, f"GET {url}: {type(exc).__name__}: {exc}"
    if response.status_code != 200:
        message = ""
        with contextlib.suppress(ValueError):
            message = str(response.json().get("message", ""))
        return None, f"GET {url} -> HTTP {response.status_code}{': ' + message if message else ''}"
    return response, ""


def _check_runs(client: httpx.Client, repo: str, sha: str) -> tuple[list[Mapping[str, Any]], list[str]]:
    """Every check run of ``sha``, following Link: rel=next; any unread page is a problem."""
    runs: list[Mapping[str, Any]] = []
    url: str | None = f"/repos/{repo}/commits/{sha}/check-runs?filter=latest&per_page=100"
    pages = 0
    while url:
        pages += 1
        if pages > MAX_PAGES:
            return runs, [f"more than {MAX_PAGES} pages of check runs: the rest were not read"]
        response, error = _get(client, url)
        if response is None:
            return runs, [f"page {pages} of check runs not read: {error}"]
        runs += response.json().get("check_runs") or []
        nxt = response.links.get("next", {}).get("url")
        url = str(nxt) if nxt else None
    return runs, []


def release_commit(source: Path) -> str:
    """The commit being released: the git HEAD of the app source, else $GITHUB_SHA (what Actions checked out)."""
    return commit_of(source) or os.environ.get("GITHUB_SHA", "")


def required_checks(client: httpx.Client, ci: CIConfig, repo: str) -> tuple[list[str], str]:
    """The checks that must pass: ``[ci] required`` and the branch protection's required status checks
    (when the token may read them), and a note of where they came from."""
    names = list(ci.required)
    notes = [f"[ci] required: {', '.join(ci.required)}"] if ci.required else []
    if ci.branch_protection:
        url = f"/repos/{repo}/branches/{ci.branch}/protection/required_status_checks"
        response, error = _get(client, url)
        if response is None:  # 404: no protection (or no access); 403: the token may not read it
            notes.append(f"branch protection unknown ({error})")
        else:
            body = response.json()
            found = [str(c) for c in body.get("contexts") or []]
            found += [str(c.get("context")) for c in body.get("checks") or [] if c.get("context")]
            notes.append(f"branch protection of {ci.branch}: {', '.join(dict.fromkeys(found)) or 'none'}")
            names += found
    return list(dict.fromkeys(names)), "; ".join(notes) or "no required checks configured"


def _required_problems(required: list[str], rows: list[dict[str, Any]], sha: str, green: tuple[str, ...]) -> list[str]:
    """Each required check that is missing on ``sha`` or has not succeeded, named."""
    problems: list[str] = []
    for name in required:
        seen = [r for r in rows if r["name"] == name]
        if not seen:
            problems.append(f"required check {name!r} is missing on {sha}: no check run or status of that name")
        for row in seen:
            if (row["conclusion"] or row["status"]) not in green:
                problems.append(
                    f"required check {name!r} has not succeeded: {row['conclusion'] or row['status']} {row['url']}"
                )
    return problems


def ci_green(client: httpx.Client, ci: CIConfig, release_sha: str) -> Measurement:
    """The commit released is ``ci.branch``'s head; every required check exists and succeeded on it; every
    check run on it completed green."""
    repo = repository(ci)
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    head_sha = ""
    head, error = _get(client, f"/repos/{repo}/commits/{ci.branch}")
    if head is None:
        problems.append(f"head of {ci.branch} not read: {error}")
    else:
        head_sha = str(head.json().get("sha", ""))
        if not head_sha:
            problems.append(f"GitHub returned no sha for {repo}@{ci.branch}")
    if not release_sha:
        problems.append(
            "the commit being released is unknown: the app source is not a git work tree and GITHUB_SHA is unset"
        )
    elif head_sha and release_sha != head_sha:
        problems.append(f"the commit released ({release_sha}) is not the head of {ci.branch} ({head_sha})")
    sha = release_sha or head_sha
    required, required_note = required_checks(client, ci, repo) if sha else ([], "")
    green = (*GREEN, "neutral") if ci.allow_neutral else GREEN
    # A required check must have succeeded: skipped proves nothing ran.
    required_green = ("success", "neutral") if ci.allow_neutral else ("success",)
    statuses: list[dict[str, Any]] = []
    if sha:
        runs, page_problems = _check_runs(client, repo, sha)
        problems += page_problems
        for run in runs:
            row = {
                "name": run.get("name"),
                "status": run.get("status"),
                "conclusion": run.get("conclusion"),
                "url": run.get("html_url"),
                "app": (run.get("app") or {}).get("slug"),
            }
            rows.append(row)
            if row["status"] != "completed":
                problems.append(f"{row['name']} is {row['status']}, not completed: {row['url']}")
            elif row["conclusion"] not in green:
                problems.append(f"{row['name']} concluded {row['conclusion']}: {row['url']}")
        if not runs and not page_problems:
            problems.append(f"no check runs on {sha[:12]}: nothing proves CI ran")
        combined, error = _get(client, f"/repos/{repo}/commits/{sha}/status")
        if combined is None:
            problems.append(f"combined status not read: {error}")
        else:
            body = combined.json()
            # Actions posts no legacy statuses: an empty combined status is normal, judge it only with entries.
            if int(body.get("total_count", 0) or 0) > 0 and body.get("state") != "success":
                problems.append(f"combined commit status is {body.get('state')}")
            statuses = [
                {
                    "name": st.get("context"),
                    "status": "completed",
                    "conclusion": st.get("state"),
                    "url": st.get("target_url"),
                }
                for st in body.get("statuses") or []
            ]
        problems += _required_problems(required, rows + statuses, sha, required_green)
    runs_text = "; ".join(f"{r['name']}={r['conclusion'] or r['status']} {r['url']}" for r in rows)
    return Measurement(
        name="CI is green",
        question=(
            f"the commit released is the head of {ci.branch}, every required check exists and succeeded on it, "
            "and every check run on it completed green"
        ),
        observed=f"{sha or 'no commit'}: required: {', '.join(required) or 'none known'} ({required_note}); "
        f"{len(rows)} run(s): {runs_text or 'none'}",
        expected=f"at least one run, every run completed with {' or '.join(green)}, every required check success",
        ok=not problems,
        source=f"{client.base_url}/repos/{repo}/commits/{ci.branch}, its check-runs and status, branch protection",
        details=rows,
        problems=problems,
    )
