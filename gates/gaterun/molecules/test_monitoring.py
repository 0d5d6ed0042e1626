"""DEVOPS-005/012: health checks watch every instance, an alert reaches its channel, the window is within limits."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import pytest

from gates.checks.browser import dashboard_clean_throughout, watched_from_json
from gates.checks.comparison import as_configured
from gates.checks.memory import MIN_POINTS, WARMUP, MemoryBounds, memory_steady
from gates.checks.monitoring import alert_delivered, health_checks_configured, window_within_thresholds
from gates.monitor.alerts import send_test_alert
from gates.monitor.flygrowth import EVERY as FLY_EVERY
from gates.monitor.flygrowth import window_memory
from gates.monitor.window import BROWSER_ENV, WINDOW_ENV, alert_channel, memory_from_env, thresholds, window_from_env

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


def test_the_dashboard_stays_clean_in_a_browser_through_the_window(gates_config, verdict):
    """Through the window the dashboard, visited in a real browser every [monitor] browser_every, loads from 2xx
    documents and logs no console error, uncaught error or failed request for as long as each visit watches it."""
    if gates_config.monitor.browser_every == "off":
        pytest.skip('[monitor] browser_every = "off": no browser watches the window')
    path = os.environ.get(BROWSER_ENV, "")
    if not path:
        pytest.fail(f"no browser visits: {BROWSER_ENV} is not set (run `gates monitor`)", pytrace=False)
    try:
        every, trouble, visits = watched_from_json(Path(path).read_text())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        pytest.fail(f"{path}: no readable browser visits ({type(exc).__name__}: {exc})", pytrace=False)
    verdict(dashboard_clean_throughout(visits, gates_config.browser.allow, every, path, trouble))


def test_memory_does_not_grow_with_requests_through_the_window(gates_config, environment, platform, verdict):
    """No instance's memory grows steadily with the requests the window sent, faster than [comparison]
    max_growth_mb_per_1000_requests and by min_growth_mb at least: a leak that would end the instance in hours.
    Locally each instance's process tree, read by the window; on Fly each machine's memory in use from Fly's metrics
    through the window. A window too short to read enough memory skips saying how long it must be; readings
    missing fail closed."""
    cfg = gates_config.comparison
    if cfg.growth == "off":
        pytest.skip('[comparison] growth = "off"')
    if getattr(platform, "name", "") == "fly":
        path = os.environ.get(WINDOW_ENV, "")
        memory = window_memory(platform, gates_config, environment, path, shortest=_needed(FLY_EVERY))
    else:
        memory = memory_from_env()
    if memory.points is None:
        pytest.skip(f"no memory read through the window: {environment.name}'s instances ({environment.platform}) "
                    f"are not processes of this machine ({memory.source})")  # fmt: skip
    needed = _needed(memory.every)
    if 0 < memory.seconds < needed:
        pytest.skip(f"a window of {memory.seconds:g}s reads memory too few times to judge its growth with requests "
                    f"(a window of {needed}s at least: [monitor] window)")  # fmt: skip
    if not memory.points:
        pytest.fail(f"memory growth: no memory read through the window (fail closed): {memory.trouble or memory.source}",
                    pytrace=False)  # fmt: skip
    for instance, series in sorted(memory.points.items()):
        found = memory_steady(
            series, MemoryBounds.of(cfg), unit="requests the window sent", name=f"{memory.noun} {instance}",
            source=memory.source,
        )  # fmt: skip
        trouble = [t for t in (memory.trouble, memory.notes.get(instance, "")) if t]
        if trouble:
            found = dataclasses.replace(found, ok=False, problems=[*trouble, *found.problems])
        verdict(as_configured(found, cfg.growth, what="growth"))


def _needed(every: float) -> int:
    """Seconds of window that read memory enough times, a reading every ``every`` seconds: the judge fits the readings
    past the warm-up and needs MIN_POINTS of them."""
    return math.ceil((MIN_POINTS + 1) * every / (1 - WARMUP))
