"""DEVOPS-004/011: the app's pages let the Admin embed them (headers only, no browser)."""

from __future__ import annotations

import pytest

from gates.checks.embedding import embedding_allowed
from gates.platforms.admin import admin_origins

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.smoke]


def test_app_pages_allow_embedding_in_the_admin(http, gates_config, environment, app, verdict):
    """The dashboard sends a CSP frame-ancestors admitting every Admin origin and no blocking X-Frame-Options."""
    origins = admin_origins(gates_config, environment)
    if not origins:
        pytest.skip(
            f"no Admin embeds the app: environments.{environment.name}.admin_url and [browser] admin_origins are empty"
        )
    verdict(embedding_allowed(http, gates_config.browser.dashboard_path, origins, app.health_timeout))
