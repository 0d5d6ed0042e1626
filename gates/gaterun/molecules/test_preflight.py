"""DEVOPS-001/006 preflight: CI is green on the commit released; the Fly config is zero-downtime ready;
the image builds reproducibly; the repository's workflows are valid and run real flyctl commands.

A molecule whose inputs this environment does not have is skipped with the reason (shown in the
report, the JUnit file and the record's summary), never passed: the CI molecule needs a
repository ([ci] repository or $GITHUB_REPOSITORY); the fly.toml lint needs a Fly environment
or a fly_config; the build molecules a Dockerfile and package.json; the workflow molecules a
.github/workflows folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from gates.checks import appfiles
from gates.checks.build import build_reproducible
from gates.checks.ci import ci_green, github_client, release_commit, repository
from gates.checks.dockerfile import hadolint
from gates.checks.flytoml import lint_fly_config
from gates.checks.workflows import workflows_run_real_fly_commands, workflows_valid
from gates.config import Environment
from gates.platforms.fly import FlyPlatform

pytestmark = [pytest.mark.preflight]


def _needs(path: Path | None, why: str) -> Path:
    if path is None:
        pytest.skip(why)
    return path


@pytest.mark.ci
def test_ci_is_green_on_the_commit_deployed(gates_config, verdict):
    """The commit released is the branch head; every required check exists and succeeded; every run is green."""
    if not repository(gates_config.ci):
        pytest.skip("CI not configured: set [ci] repository (or $GITHUB_REPOSITORY) to check CI")
    with github_client(gates_config.ci) as client:
        verdict(ci_green(client, gates_config.ci, release_commit(gates_config.app_source)))


def _machines(platform: Any, env: Environment) -> tuple[Mapping[str, int], str] | None:
    """Machines per process group of a Fly app that exists (``fly status``); None: the ``--ha`` default applies."""
    counts = platform.machine_counts(env) if isinstance(platform, FlyPlatform) else None
    return None if counts is None else (counts, f"fly status --json -a {env.app}")


def test_fly_config_is_zero_downtime_ready(gates_config, environment, platform, verdict):
    """The environment's fly.toml: health check every <= 30s, the strategy that runs zero-downtime on the machines
    the app has (fly status), no auto-stop in production, a real server."""
    path = _needs(
        appfiles.fly_toml(gates_config, environment),
        f"environments.{environment.name} has no fly_config (platform {environment.platform}): no fly.toml",
    )
    strategy = (environment.strategy, f"{gates_config.path}: environments.{environment.name}.strategy")
    verdict(
        lint_fly_config(
            path,
            gates_config.app.health_paths,
            production=environment.is_production,
            source=gates_config.app_source,
            strategy=strategy if environment.strategy else None,
            machines=_machines(platform, environment),
        )
    )


def test_the_image_builds_reproducibly(gates_config, environment, verdict):
    """Every stage's Node satisfies engines.node; the install has its lockfile, in sync with package.json."""
    docker = _needs(
        appfiles.dockerfile(gates_config, environment),
        f"no Dockerfile for {gates_config.app_source}: no image to build",
    )
    package = _needs(
        appfiles.package_json(gates_config), f"no package.json in {gates_config.app_source}: not a Node app"
    )
    verdict(build_reproducible(docker, package))


def test_the_dockerfile_passes_hadolint(gates_config, environment, verdict):
    """hadolint finds no error in the Dockerfile; its warnings are listed."""
    verdict(
        hadolint(_needs(appfiles.dockerfile(gates_config, environment), f"no Dockerfile for {gates_config.app_source}"))
    )


def test_every_workflow_matches_githubs_schema(gates_config, verdict):
    """Every file in the repository's .github/workflows validates against GitHub's workflow schema."""
    verdict(
        workflows_valid(
            _needs(appfiles.workflows(gates_config), f"no .github/workflows above {gates_config.app_source}")
        )
    )


def test_workflows_run_only_real_fly_commands(gates_config, verdict):
    """No workflow step runs a fly/flyctl command that flyctl does not have (e.g. `fly releases rollback`)."""
    verdict(
        workflows_run_real_fly_commands(
            _needs(appfiles.workflows(gates_config), f"no .github/workflows above {gates_config.app_source}")
        )
    )
