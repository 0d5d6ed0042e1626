"""DEVOPS-001/006 preflight: CI is green on the commit deployed; the Fly config is zero-downtime ready.

A molecule whose inputs this environment does not have is skipped with the reason (shown in the
report, the JUnit file and the record's summary), never passed: the CI molecule needs a
repository ([ci] repository or $GITHUB_REPOSITORY); the fly.toml lint needs a Fly environment
or a fly_config.
"""

from __future__ import annotations

import os

import pytest

from gates.checks.ci import ci_green, github_client, repository
from gates.checks.flytoml import lint_fly_config

pytestmark = [pytest.mark.preflight]


@pytest.mark.ci
def test_ci_is_green_on_the_commit_deployed(gates_config, verdict):
    """Every check run on the branch head completed green, and the commit deployed is that head."""
    if not repository(gates_config.ci):
        pytest.skip("CI not configured: set [ci] repository (or $GITHUB_REPOSITORY) to check CI")
    with github_client(gates_config.ci) as client:
        verdict(ci_green(client, gates_config.ci, os.environ.get("GITHUB_SHA", "")))


def test_fly_config_is_zero_downtime_ready(gates_config, environment, verdict):
    """The environment's fly.toml has a health check every <= 30s, a zero-downtime strategy, React Router's server."""
    if not environment.fly_config and environment.platform != "fly":
        pytest.skip(f"environments.{environment.name} has no fly_config (platform {environment.platform}): no fly.toml")
    path = (
        gates_config.resolve(environment.fly_config) if environment.fly_config else gates_config.app_source / "fly.toml"
    )
    verdict(lint_fly_config(path, gates_config.app.health_paths))
