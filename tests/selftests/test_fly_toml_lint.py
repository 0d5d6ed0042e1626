"""fly.toml lint: the HotDash configs pass; each way to lose zero downtime is caught, naming file, key and fix."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gates.checks.flytoml import findings, lint_fly_config, seconds

HOTDASH = Path(__file__).resolve().parents[2] / "examples" / "hotdash"
HEALTH = ("/health", "/api/ads/health", "/api/analytics/health")
GOOD: dict[str, Any] = tomllib.loads((HOTDASH / "fly.toml").read_text())


def broken(change: Any) -> list[str]:
    data = copy.deepcopy(GOOD)
    change(data)
    return findings(data, "fly.toml", HEALTH)


@pytest.mark.parametrize("name", ["fly.toml", "fly.staging.toml"])
def test_the_hotdash_fly_configs_pass_the_lint(name):
    """Both HotDash configs (with their Dockerfile) have no finding."""
    m = lint_fly_config(HOTDASH / name, HEALTH)
    assert m.ok, m.explain()


def test_a_single_machine_rolling_deploy_is_caught():
    """min_machines_running = 1 with rolling: downtime, named with the fix."""
    problems = broken(lambda d: d["http_service"].update(min_machines_running=1))
    assert problems == [
        "fly.toml: http_service.min_machines_running = 1: a rolling deploy of fewer than 2 machines has downtime; "
        "set min_machines_running = 2 (and run 2 machines)"
    ]


def test_a_missing_health_check_is_caught():
    """No service HTTP check on a health path is a finding naming the key to add."""
    problems = broken(lambda d: d["http_service"].pop("checks"))
    assert len(problems) == 1 and "[[http_service.checks]]: no service HTTP check on a health path" in problems[0]


def test_a_60_second_interval_is_caught():
    """interval = "60s" is slower than the 30 s bound."""
    problems = broken(lambda d: d["http_service"]["checks"][0].update(interval="60s"))
    assert problems == [
        "fly.toml: http_service.checks[0].interval = '60s': checks must run at least every 30s; set interval = \"15s\""
    ]


def test_the_immediate_strategy_is_caught():
    """strategy = "immediate" skips health checks: always a finding."""
    problems = broken(lambda d: d["deploy"].update(strategy="immediate"))
    assert len(problems) == 1 and problems[0].startswith('fly.toml: deploy.strategy = "immediate"')


def test_a_remix_start_command_is_caught():
    """A Remix server in [processes] is named, with React Router's command as the fix."""
    problems = broken(lambda d: d["processes"].update(app="npx remix-serve ./build/server/index.js"))
    assert problems[0].startswith("fly.toml: processes.app: runs Remix ('remix-serve')")
    assert "react-router-serve ./build/server/index.js" in problems[0]


def test_a_migrating_release_command_is_caught():
    """A release_command running migrations would migrate twice: gates migrates before the deploy."""
    problems = broken(lambda d: d["deploy"].update(release_command="npx supabase db push"))
    assert len(problems) == 1 and "deploy.release_command" in problems[0]


def test_bluegreen_with_a_check_passes_on_one_machine():
    """bluegreen is zero-downtime without the two-machine rule."""
    assert broken(lambda d: (d["deploy"].update(strategy="bluegreen"), d["http_service"].update(min_machines_running=1))) == []


def test_services_http_checks_count_and_bare_numbers_are_milliseconds():
    """[[services.http_checks]] gate routing too; interval = 10000 is 10 s."""
    assert seconds(10000) == 10.0 and seconds("1m") == 60.0 and seconds("500ms") == 0.5
    data = copy.deepcopy(GOOD)
    data["http_service"].pop("checks")
    data["services"] = [{"internal_port": 3000, "http_checks": [{"path": "/health", "interval": 10000}]}]
    assert findings(data, "fly.toml", HEALTH) == []


def test_an_unreadable_file_is_a_failed_measurement(tmp_path):
    """A fly.toml that is not TOML fails the lint, naming the file."""
    bad = tmp_path / "fly.toml"
    bad.write_text("app = \n")
    m = lint_fly_config(bad, HEALTH)
    assert not m.ok and str(bad) in m.problems[0]
