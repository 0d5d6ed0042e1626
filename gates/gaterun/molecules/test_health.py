"""DEVOPS-002/008/009: the release changed, runs everywhere, and every health path answers 200."""

from __future__ import annotations

import pytest

from gates.checks.http import health_paths, served_releases
from gates.checks.machines import health_on_every_instance
from gates.checks.release import serves_release

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.health]

SAMPLES = 8  # enough requests to reach every instance behind a round-robin front door


def test_every_health_path_answers_200(http, app, verdict):
    """Every configured health path answers 200 with status ok within its timeout."""
    verdict(health_paths(http, app.health_paths, app.health_timeout))


def test_environment_serves_the_release_just_deployed(http, app, status, environment, expected_release, verdict):
    """Every instance runs the release just deployed, healthy, and the URL serves nothing else."""
    served, errors = served_releases(http, app.health_paths[0], SAMPLES, app.health_timeout)
    verdict(serves_release(status, expected_release, served, errors, environment.url))


def test_every_machine_answers_every_health_path(http, app, status, verdict):
    """Each instance on its own (Fly: fly-force-instance-id; local: its own port) answers 200 on every health path."""
    verdict(health_on_every_instance(http, status, app.health_paths, app.health_timeout))
