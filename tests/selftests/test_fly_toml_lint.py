"""fly.toml lint: the HotDash configs pass; each way to lose zero downtime is caught, naming file, key, line and fix.

The serving command is judged after resolving it through package.json scripts, from fixture
repositories (fly.toml, Dockerfile, package.json) written in tmp."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gates.checks.flytoml import findings, lint_fly_config, seconds
from gates.checks.sourcelines import line_of, toml_lines

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
        'fly.toml: http_service.checks[0].interval = "60s": checks must run at least every 30s; set interval = "15s"'
    ]


def test_the_immediate_strategy_is_caught():
    """strategy = "immediate" skips health checks: always a finding."""
    problems = broken(lambda d: d["deploy"].update(strategy="immediate"))
    assert len(problems) == 1 and problems[0].startswith('fly.toml: deploy.strategy = "immediate"')


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


# ---------------------------------------------------------------------------
# Fixture repositories: what a real app's files look like, written in tmp

FLY_TOML = (HOTDASH / "fly.toml").read_text()
NO_PROCESSES = FLY_TOML.replace('[processes]\n  app = "npx react-router-serve ./build/server/index.js"\n', "").replace(
    '  processes = ["app"]\n', ""
)
DOCKERFILE = """FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build
CMD ["npm", "run", "docker-start"]
"""
SCRIPTS = {
    "build": "react-router build",
    "docker-start": "npm run setup && npm start",
    "setup": "node ./scripts/check-env.js",
    "start": "react-router-serve ./build/server/index.js",
}


def repository(folder: Path, fly_toml: str = NO_PROCESSES, scripts: dict[str, str] | None = None) -> Path:
    """An app repository: fly.toml, Dockerfile and package.json (scripts as given); the fly.toml's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fly.toml").write_text(fly_toml)
    (folder / "Dockerfile").write_text(DOCKERFILE)
    package = {"name": "app", "scripts": SCRIPTS if scripts is None else scripts}
    (folder / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    return folder / "fly.toml"


def test_a_start_through_npm_scripts_is_resolved_before_it_is_judged(tmp_path):
    """CMD `npm run docker-start` -> `npm start` -> react-router-serve: no finding (the seed's false alarm)."""
    m = lint_fly_config(repository(tmp_path), HEALTH, production=True)
    assert m.ok, m.explain()


def test_a_script_the_start_command_needs_but_package_json_lacks_is_named(tmp_path):
    """CMD runs `npm run docker-start` and package.json has no such script: named with the Dockerfile line."""
    fly = repository(tmp_path, scripts={"start": "react-router-serve ./build/server/index.js"})
    m = lint_fly_config(fly, HEALTH)
    assert list(m.problems) == [
        f"{tmp_path / 'package.json'}: scripts.docker-start: not defined, but {tmp_path / 'Dockerfile'}:7: CMD "
        "runs `npm run docker-start`"
    ]


def test_remix_at_the_end_of_the_script_chain_is_named_with_its_package_json_line(tmp_path):
    """The script that finally serves runs remix-serve: the finding names package.json, the key and its line."""
    fly = repository(tmp_path, scripts={**SCRIPTS, "start": "remix-serve ./build/server/index.js"})
    m = lint_fly_config(fly, HEALTH)
    assert len(m.problems) == 1
    assert m.problems[0].startswith(f"{tmp_path / 'package.json'}:7: scripts.start: runs Remix ('remix-serve')")


def test_a_development_server_is_caught(tmp_path):
    """`npm start` running `react-router dev` in production is named."""
    fly = repository(tmp_path, scripts={**SCRIPTS, "start": "react-router dev --host"})
    assert "runs a development server ('react-router dev')" in lint_fly_config(fly, HEALTH).problems[0]


def test_npm_start_without_a_start_script_is_npms_node_server_js(tmp_path):
    """`npm start` with no scripts.start runs `node server.js` (npm's default): a Node server file, accepted."""
    fly = repository(tmp_path, scripts={"docker-start": "npm start"})
    assert lint_fly_config(fly, HEALTH).ok


def test_processes_in_fly_toml_win_over_the_dockerfile_cmd(tmp_path):
    """[processes] app = "npm run serve" is what runs: resolved through package.json, a missing script named."""
    fly = repository(tmp_path, fly_toml=FLY_TOML.replace("npx react-router-serve ./build/server/index.js", "npm run serve"))
    m = lint_fly_config(fly, HEALTH)
    assert list(m.problems) == [
        f"{tmp_path / 'package.json'}: scripts.serve: not defined, but {fly}: processes.app (line 20) runs `npm run serve`"
    ]


def test_auto_stop_on_a_production_app_fails_naming_key_and_line(tmp_path):
    """auto_stop_machines = "stop" (or true, or "suspend") on production: cold starts; the finding names its line."""
    for value in ('"stop"', '"suspend"', "true"):
        fly = repository(tmp_path, fly_toml=FLY_TOML.replace('auto_stop_machines = "off"', f"auto_stop_machines = {value}"))
        m = lint_fly_config(fly, HEALTH, production=True)
        assert len(m.problems) == 1, m.explain()
        assert m.problems[0].startswith(f"{fly}: http_service.auto_stop_machines = {value} (line 25): a production app")


def test_auto_stop_on_staging_fails_only_below_two_running_machines(tmp_path):
    """Staging may auto-stop machines beyond two; with min_machines_running = 1 it is caught."""
    stopping = FLY_TOML.replace('auto_stop_machines = "off"', 'auto_stop_machines = "stop"')
    assert lint_fly_config(repository(tmp_path / "two", fly_toml=stopping), HEALTH).ok
    bluegreen_one = stopping.replace("min_machines_running = 2", "min_machines_running = 1").replace(
        'strategy = "rolling"', 'strategy = "bluegreen"'
    )
    m = lint_fly_config(repository(tmp_path / "one", fly_toml=bluegreen_one), HEALTH)
    assert list(m.problems) == [
        f"{tmp_path / 'one' / 'fly.toml'}: http_service.auto_stop_machines = \"stop\" (line 25) with "
        "http_service.min_machines_running = 1: machines stop until 1 run(s): cold starts, and a rolling deploy "
        'of one machine has downtime; set auto_stop_machines = "off" or min_machines_running = 2'
    ]


def test_a_missing_deploy_strategy_is_named_with_flyctls_default(tmp_path):
    """No [deploy] strategy: named, with the default flyctl falls back to (rolling) and where [deploy] is."""
    fly = repository(tmp_path, fly_toml=FLY_TOML.replace('  strategy = "rolling"\n', ""))
    m = lint_fly_config(fly, HEALTH)
    assert list(m.problems) == [
        f"{fly}: deploy.strategy (not set; its table at line 13): a plain `fly deploy` falls back to flyctl's "
        'default "rolling"; set [deploy] strategy = "rolling" (or "bluegreen") so the strategy reviewed is the one that runs'
    ]


def test_lines_of_keys_in_array_tables_and_nested_tables():
    """The line finder indexes [[array tables]], nests tables in their latest element, and falls back to the table."""
    text = '[[services]]\n  internal_port = 3000\n  [[services.http_checks]]\n    path = "/health"\n[[services]]\n'
    lines = toml_lines(text)
    assert lines["services[0].http_checks[0].path"] == 4 and lines["services[1]"] == 5
    assert line_of(lines, "services[1].auto_stop_machines") == 5 and line_of(lines, "deploy.strategy") is None
