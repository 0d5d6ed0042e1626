"""``[ci]``: the CI-green check of the commit being deployed."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class CIConfig:
    """The CI-green check of the commit being deployed (GitHub's check runs).

    The check is active when a repository is known (here or $GITHUB_REPOSITORY); otherwise the
    preflight molecule is skipped with the reason, never passed.
    """

    repository: str = ""  # owner/name; empty: $GITHUB_REPOSITORY
    branch: str = "main"  # the commit deployed must be this branch's head
    api_url: str = ""  # empty: $GITHUB_API_URL, else https://api.github.com
    token_envs: tuple[str, ...] = ("GITHUB_TOKEN", "GH_TOKEN")
    allow_neutral: bool = False  # count `neutral` conclusions as green
    timeout: float = 10.0
    # Checks (check-run names or status contexts) that must exist and have succeeded on the commit released;
    # the branch protection's required status checks are added when the token may read them.
    required: tuple[str, ...] = ()
    branch_protection: bool = True  # read the branch's required status checks through the API
