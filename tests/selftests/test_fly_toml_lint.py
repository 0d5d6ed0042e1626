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

from gates.checks.flytoml import findings, lint_fly_config
from gates.checks.sourcelines import line_of, toml_lines
from gates.core.flyconfig import check_seconds, seconds

HOTDASH = Path(__file__).resolve().parents[2] / "examples" / "hotdash"
HEALTH = ("/health", "/api/ads/health", "/api/analytics/health")
GOOD: dict[str, Any] = tomllib.loads((HOTDASH / "fly.toml").read_text())


def broken(change: Any, **judged: Any) -> list[str]:
    data = copy.deepcopy(GOOD)
    change(data)
    return findings(data, "fly.toml", HEALTH, **judged)


@pytest.mark.parametrize("name", ["fly.toml", "fly.staging.toml"])
def test_the_hotdash_fly_configs_pass_the_lint(name):
    """Both HotDash configs (with their Dockerfile) have no finding."""
    m = lint_fly_config(HOTDASH / name, HEALTH)
    assert m.ok, m.explain()


@pytest.mark.parametrize("running", [0, 1, 2, 5])
def test_a_one_machine_app_fails_whatever_its_min_machines_running(running):
    """fly status counts one machine in the routed group: a rolling deploy updates it in place (downtime),
    whatever min_machines_running (machines kept running under auto-stop) says."""
    one = ({"app": 1, "worker": 3}, "fly status --json -a hotdash-app")
    problems = broken(lambda d: d["http_service"].update(min_machines_running=running), machines=one)
    assert problems == [
        "fly.toml: deploy.strategy = \"rolling\": process group 'app' has 1 machine(s) (fly status --json -a "
        "hotdash-app): a rolling deploy of fewer than 2 machines has downtime; run `fly scale count 2 "
        '--process-group app`, or use "bluegreen"'
    ]


def test_the_machine_count_comes_from_fly_status_else_the_ha_default():
    """Two machines in the routed group pass whatever min_machines_running; an app not deployed yet gets
    fly deploy --ha's two per group; a group missing from fly status counts zero."""
    assert broken(lambda d: d["http_service"].update(min_machines_running=0), machines=({"app": 2}, "fly status")) == []
    assert broken(lambda d: None, machines=None) == []
    assert "process group 'app' has 0 machine(s)" in broken(lambda d: None, machines=({"worker": 2}, "fly status"))[0]


def test_the_strategy_gates_passes_is_the_one_judged():
    """gates.toml's strategy reaches flyctl as --strategy over fly.toml's: an immediate one fails naming gates.toml;
    a bluegreen one passes a one-machine app whose fly.toml says rolling."""
    where = "gates.toml: environments.production.strategy"
    problems = broken(lambda d: None, strategy=("immediate", where))
    assert problems == [
        f'{where} (passed as --strategy, over fly.toml\'s deploy.strategy) = "immediate": replaces every machine at '
        'once without health checks; use "rolling" with at least 2 machines, or "bluegreen"'
    ]
    assert broken(lambda d: None, strategy=("bluegreen", where), machines=({"app": 1}, "fly status")) == []
    flagged = broken(lambda d: d["deploy"].pop("strategy"), strategy=("rolling", where), machines=({"app": 1}, "x"))
    assert len(flagged) == 1 and flagged[0].startswith(f"{where} (passed as --strategy")


def test_a_bare_number_under_http_service_checks_is_nanoseconds():
    """interval = 15000 under [[http_service.checks]] is 15 microseconds to flyctl: named, with the unit to write."""
    assert check_seconds("http_service.checks[0]", 15000) == pytest.approx(15e-6)
    problems = broken(lambda d: d["http_service"]["checks"][0].update(interval=15000))
    assert problems == [
        "fly.toml: http_service.checks[0].interval = 15000: a bare number under [[http_service.checks]] is "
        'nanoseconds to flyctl (15000 ns), not milliseconds; write it with a unit, e.g. "15s"'
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
    assert broken(lambda d: d["deploy"].update(strategy="bluegreen"), machines=({"app": 1}, "fly status")) == []


def test_services_http_checks_count_and_bare_numbers_are_milliseconds():
    """[[services.http_checks]] gate routing too; interval = 10000 is 10 s."""
    assert seconds(10000) == 10.0 and seconds("1m") == 60.0 and seconds("500ms") == 0.5
    assert check_seconds("services[0].http_checks[0]", 10000) == 10.0
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
    fly = repository(
        tmp_path, fly_toml=FLY_TOML.replace("npx react-router-serve ./build/server/index.js", "npm run serve")
    )
    m = lint_fly_config(fly, HEALTH)
    assert list(m.problems) == [
        f"{tmp_path / 'package.json'}: scripts.serve: not defined, but {fly}: processes.app (line 20) runs `npm run serve`"
    ]


def test_auto_stop_on_a_production_app_fails_naming_key_and_line(tmp_path):
    """auto_stop_machines = "stop" (or true, or "suspend") on production: cold starts; the finding names its line."""
    for value in ('"stop"', '"suspend"', "true"):
        fly = repository(
            tmp_path, fly_toml=FLY_TOML.replace('auto_stop_machines = "off"', f"auto_stop_machines = {value}")
        )
        m = lint_fly_config(fly, HEALTH, production=True)
        assert len(m.problems) == 1, m.explain()
        assert m.problems[0].startswith(f"{fly}: http_service.auto_stop_machines = {value} (line 25): a production app")


def test_an_idle_staging_app_may_auto_stop_every_machine(tmp_path):
    """Staging with auto_stop_machines = "stop" and min_machines_running = 0 passes: min_machines_running is how many
    stay running, not how many exist, and its two machines still roll one at a time."""
    stopping = FLY_TOML.replace('auto_stop_machines = "off"', 'auto_stop_machines = "stop"').replace(
        "min_machines_running = 2", "min_machines_running = 0"
    )
    assert lint_fly_config(repository(tmp_path, fly_toml=stopping), HEALTH).ok


def test_the_dockerfile_is_the_one_in_the_deploys_working_directory(tmp_path):
    """Without [build] dockerfile flyctl takes the Dockerfile where `fly deploy` runs (the app source), not
    the one beside fly.toml: a Remix image beside a fly.toml in deploy/ is not what ships."""
    fly = repository(tmp_path / "app", fly_toml=NO_PROCESSES.replace('[build]\n  dockerfile = "Dockerfile"\n', ""))
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "fly.toml").write_text(fly.read_text())
    (tmp_path / "deploy" / "Dockerfile").write_text(
        DOCKERFILE.replace('"npm", "run", "docker-start"', '"npx", "remix-serve", "b"')
    )
    assert lint_fly_config(tmp_path / "deploy" / "fly.toml", HEALTH, source=tmp_path / "app").ok


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
