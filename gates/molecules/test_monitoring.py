"""DEVOPS-005/012: health checks watch every instance, an alert reaches its channel, the window is within limits."""

from __future__ import annotations

import pytest

from gates.checks.monitoring import alert_delivered, health_checks_configured, window_within_thresholds
from gates.monitor.alerts import send_test_alert
from gates.monitor.window import alert_channel, thresholds, window_from_env

pytestmark = [pytest.mark.monitor, pytest.mark.monitoring]


def test_health_checks_run_every_30s_and_pass(platform, status, environment, gates_config, verdict):
    """Every instance has a health check configured at most every 30 s (configurable), and it passes now."""
    checks = platform.health_checks(environment)
    source = f"{environment.platform} health checks of {environment.name}"
    verdict(health_checks_configured(checks, gates_config.monitor.max_check_interval, source))


def test_a_test_alert_reaches_the_alert_channel(gates_config, environment, verdict):
    """A test alert posted to the webhook in [monitor] webhook_env is answered 2xx."""
    event = send_test_alert(alert_channel(gates_config), f"{gates_config.app.name} {environment.name}")
    verdict(alert_delivered(event, f"${gates_config.monitor.webhook_env or '(no webhook_env)'}"))


def test_error_rate_and_p95_of_the_window_are_within_thresholds(gates_config, verdict):
    """The monitor window's error rate and p95 are under their limits, over at least the minimum sample count."""
    measured, source = window_from_env()
    verdict(window_within_thresholds(measured, thresholds(gates_config), source))
