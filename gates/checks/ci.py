"""CI green on GitHub: the commit being deployed is the branch head and every check run on it passed.

Fails closed: zero check runs, a run not completed, a page that could not be read, an API error,
a combined status that has entries and is not success -- each is a failure, named. The verdict
lists every run seen with its link. Facts: the facts file github.md (REST: commits, check-runs
with Link pagination, combined status). Tested against a local HTTP server serving GitHub's
payload shapes, never against api.github.com.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

import httpx

from gates.config import CIConfig
from gates.measurement import Measurement
from gates.redact import register_secret

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
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    secret = token(ci)
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    return httpx.Client(base_url=api_url(ci), headers=headers, timeout=ci.timeout, follow_redirects=False)


def _get(client: httpx.Client, url: str) -> tuple[httpx.Response | None, str]:
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


def ci_green(client: httpx.Client, ci: CIConfig, deployed_sha: str = "") -> Measurement:
    """The commit deployed is ``ci.branch``'s head and every check run on it completed green."""
    repo = repository(ci)
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    sha = ""
    head, error = _get(client, f"/repos/{repo}/commits/{ci.branch}")
    if head is None:
        problems.append(f"head of {ci.branch} not read: {error}")
    else:
        sha = str(head.json().get("sha", ""))
        if not sha:
            problems.append(f"GitHub returned no sha for {repo}@{ci.branch}")
        if deployed_sha and sha and deployed_sha != sha:
            problems.append(f"the commit deployed ({deployed_sha[:12]}) is not the head of {ci.branch} ({sha[:12]})")
    if sha:
        runs, page_problems = _check_runs(client, repo, sha)
        problems += page_problems
        green = (*GREEN, "neutral") if ci.allow_neutral else GREEN
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
    runs_text = "; ".join(f"{r['name']}={r['conclusion'] or r['status']} {r['url']}" for r in rows)
    return Measurement(
        name="CI is green",
        question=f"the commit deployed is the head of {ci.branch} and every check run on it completed green",
        observed=f"{sha[:12] or 'no commit'}: {len(rows)} run(s): {runs_text or 'none'}",
        expected=f"at least one run, every run completed with {' or '.join(GREEN + (('neutral',) if ci.allow_neutral else ()))}",
        ok=not problems,
        source=f"{client.base_url}/repos/{repo}/commits/{ci.branch} and its check-runs",
        details=rows,
        problems=problems,
    )
