"""The config: typed, strict, and every error names file, key and expectation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gates import config as config_mod
from gates.core.errors import ConfigError, UsageError
from gates.gaterun.plugin import select_environment
from gates.target import open_config

REPO = Path(__file__).resolve().parents[2]

GOOD = """
[app]
name = "demo"
source = "app"
health_paths = ["/health"]

[environments.staging]
platform = "local"
url = "http://127.0.0.1:18081"

[environments.production]
platform = "local"
url = "http://127.0.0.1:18082"
database_url_env = "PROD_DB_URL_FOR_TEST"

[notify]
webhook_env = "NOTIFY_URL_FOR_TEST"
"""


def write(tmp_path: Path, text: str, name: str = "gates.toml") -> Path:
    """The config, and the app folder with migrations it names (`config check` wants them to exist)."""
    (tmp_path / "app" / "supabase" / "migrations").mkdir(parents=True, exist_ok=True)
    (tmp_path / "app" / "supabase" / "migrations" / "20250101000000_init.sql").write_text("select 1;\n")
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_repository_config_targets_the_demo_on_the_local_platform():
    """This repository's gates.toml releases the React Router app (examples/dashboard) locally, built by npm."""
    cfg = open_config(REPO / "gates.toml")
    assert cfg.app_source == REPO / "examples" / "dashboard"
    assert cfg.app.build.startswith("npm ci") and cfg.app.start == "npm start"
    assert [e.platform for e in cfg.environments.values()] == ["local", "local"]
    assert set(cfg.environments) == {"staging", "production"}


def test_a_good_config_parses_into_frozen_objects(tmp_path):
    """Values become typed, frozen attributes; defaults fill what the file leaves out."""
    cfg = config_mod.load(write(tmp_path, GOOD))
    staging = cfg.environment("staging")
    assert staging.instances == 2 and staging.rollout_strategy == "rolling"
    assert cfg.app.health_paths == ("/health",)
    with pytest.raises(AttributeError):
        staging.url = "http://elsewhere"  # type: ignore[misc]


def test_tool_gates_in_pyproject_is_read(tmp_path):
    """A [tool.gates] table in pyproject.toml is a config when there is no gates.toml."""
    text = GOOD.replace("[app]", "[tool.gates.app]").replace("[environments.", "[tool.gates.environments.")
    write(tmp_path, text, "pyproject.toml")
    cfg = config_mod.load(cwd=tmp_path)
    assert cfg.path.name == "pyproject.toml" and cfg.app.name == "demo"


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        (("health_paths", "helth_paths"), "app.helth_paths", "unknown key"),
        (('platform = "local"\nurl = "http://127.0.0.1:18081"', 'platform = "heroku"\nurl = "http://127.0.0.1:18081"'),
         "environments.staging.platform", "unknown platform 'heroku'"),
        (('url = "http://127.0.0.1:18081"', 'url = "ftp://x"'), "environments.staging.url", "expected an http(s) URL"),
        (('[app]', '[app]\ninstances = "two"'), "app.instances", "unknown key"),
        (('url = "http://127.0.0.1:18082"', 'url = "http://127.0.0.1:18082"\ninstances = "two"'),
         "environments.production.instances", "expected an integer"),
        (('[app]', '[aap]\nname="x"\n[app]'), "aap", "unknown section"),
    ],
)  # fmt: skip
def test_each_bad_config_names_file_key_and_expectation(tmp_path, edit, key, words):
    """A misspelt key, an unknown platform, a bad URL or a wrong type is a ConfigError naming all three."""
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(ConfigError) as info:
        open_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: ") and words in message
    assert "\n" not in message


def test_a_missing_secret_env_var_is_a_config_error(tmp_path, monkeypatch):
    """An environment whose database URL variable is unset cannot be used, and the error says which variable."""
    monkeypatch.delenv("PROD_DB_URL_FOR_TEST", raising=False)
    cfg = config_mod.load(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match=r"environments\.production\.database_url_env: environment variable PROD_DB_URL_FOR_TEST is not set"):
        cfg.check_secrets_present(cfg.environment("production"))


@pytest.mark.parametrize(
    ("explicit", "markexpr", "expected"),
    [(None, "staging", "staging"), (None, "production and health", "production"), ("production", "staging", "production"),
     (None, "staging and not production", "staging")],
)  # fmt: skip
def test_the_environment_comes_from_the_marker_or_env_option(tmp_path, explicit, markexpr, expected):
    """-m staging targets staging; --env (or GATES_ENV) overrides the marker."""
    cfg = config_mod.load(write(tmp_path, GOOD))
    assert select_environment(cfg, explicit, markexpr).name == expected


@pytest.mark.parametrize(
    ("explicit", "markexpr", "words"),
    [(None, "staging or production", "names several environments"), (None, "health", "no environment selected"),
     ("qa", "", "unknown environment 'qa'")],
)  # fmt: skip
def test_unknown_or_ambiguous_environments_list_the_known_ones(tmp_path, explicit, markexpr, words):
    """An ambiguous, missing or unknown environment is a usage error listing staging and production."""
    cfg = config_mod.load(write(tmp_path, GOOD))
    with pytest.raises(UsageError) as info:
        select_environment(cfg, explicit, markexpr)
    assert words in str(info.value) and "staging, production" in str(info.value)


def gates_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "gates.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "env", "words"),
    [
        (("health_paths", "helth_paths"), {}, "app.helth_paths: unknown key"),
        (('platform = "local"\nurl = "http://127.0.0.1:18081"', 'platform = "heroku"\nurl = "http://127.0.0.1:18081"'),
         {}, "environments.staging.platform: unknown platform 'heroku'"),
        (("", ""), {"PROD_DB_URL_FOR_TEST": ""}, "environment variable PROD_DB_URL_FOR_TEST is not set"),
        (('database_url_env = "PROD', 'keep_previous_for = "an hour"\ndatabase_url_env = "PROD'), {},
         "environments.production.keep_previous_for: expected a duration like 30s, 5m or 1h, or \"off\", got 'an hour'"),
    ],
)  # fmt: skip
def test_config_check_exits_2_with_one_line(tmp_path, edit, env, words):
    """`gates config check` on a misspelt key, an unknown platform, a warm window that is no duration or a missing
    env var exits 2 with one line naming the key and the value."""
    path = write(tmp_path, GOOD.replace(*edit) if edit[0] else GOOD)
    result = gates_cli("--config", str(path), "config", "check", cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and str(path) in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_config_check_passes_on_a_good_config(tmp_path):
    """A valid config with its secrets present checks out with exit 0, --config before or after the subcommand."""
    path = write(tmp_path, GOOD)
    env = {"PROD_DB_URL_FOR_TEST": "postgresql://x@h/db", "NOTIFY_URL_FOR_TEST": "http://127.0.0.1:9/hook"}
    for argv in (["--config", str(path), "config", "check"], ["config", "check", "--config", str(path)]):
        result = gates_cli(*argv, cwd=tmp_path.parent, env=env)
        assert result.returncode == 0, result.stderr
        assert "ok" in result.stdout


def test_config_check_names_a_missing_folder_with_exit_2(tmp_path):
    """A source folder that does not exist is one line naming app.source and the path it resolved to."""
    path = write(tmp_path, GOOD.replace('source = "app"', 'source = "nope"'))
    result = gates_cli("--config", str(path), "config", "check", cwd=tmp_path, env={"PROD_DB_URL_FOR_TEST": "x"})
    assert result.returncode == 2 and f"app.source: no such folder: {tmp_path / 'nope'}" in result.stderr


def test_a_missing_supabase_cli_is_one_line_with_exit_2_naming_the_install(tmp_path):
    """`gates migrate` without the Supabase CLI anywhere: exit 2, one line with the pinned install command."""
    path = write(tmp_path, GOOD)
    env = {"PROD_DB_URL_FOR_TEST": "postgresql://x@127.0.0.1:9/db", "PATH": "/usr/bin:/bin", "SUPABASE_BIN": ""}
    result = gates_cli("--config", str(path), "migrate", "--env", "production", cwd=tmp_path, env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "supabase not found" in lines[0] and "npm install --prefix ~/.gates/tools supabase@3.1.0" in lines[0]


@pytest.mark.parametrize("argv", [["deploy", "--workers", "x"], ["rollback"], ["nosuch"], ["status", "--env", "qa"]])
def test_bad_command_lines_exit_2_with_one_line(tmp_path, argv):
    """Bad arguments or an unknown environment exit 2 with one line and no traceback."""
    path = write(tmp_path, GOOD)
    result = gates_cli("--config", str(path), *argv, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_database_section_reads_level_and_allow_list_with_reasons(tmp_path):
    """[database] takes advisors_level and squawk_allow entries 'rule: reason'; a bad level or a missing reason is a ConfigError naming the key."""
    good = GOOD + '\n[database]\nadvisors_level = "warn"\nsquawk_allow = ["ban-drop-column: unused since v12"]\n'
    cfg = config_mod.load(write(tmp_path, good))
    assert cfg.database.advisors_level == "warn"
    assert cfg.database.squawk_allow == ("ban-drop-column: unused since v12",)
    with pytest.raises(ConfigError, match=r"database\.advisors_level.*expected error, warn or info"):
        config_mod.load(write(tmp_path, GOOD + '\n[database]\nadvisors_level = "loud"\n'))
    with pytest.raises(ConfigError, match=r"database\.squawk_allow\[0\].*expected 'rule: reason'"):
        config_mod.load(write(tmp_path, GOOD + '\n[database]\nsquawk_allow = ["ban-drop-column"]\n'))


FLY_ENVS = """
[app]
name = "hotdash"

[environments.staging]
platform = "fly"
app = "hotdash-staging"
url = "https://hotdash-staging.fly.dev"
database_url_env = "STAGING_DB_URL_FOR_TEST"
store = "hotrodan-dev"

[environments.production]
platform = "fly"
app = "hotdash-app"
url = "https://hotdash-app.fly.dev"
store = "hotrodan"
admin_url = "https://admin.shopify.com/store/hotrodan/apps/hotdash-own"
database_url_env = "PROD_DB_URL_FOR_TEST"
"""


@pytest.fixture
def fly_db_urls(monkeypatch):
    monkeypatch.setenv("STAGING_DB_URL_FOR_TEST", "postgresql://u@db.example/s")
    monkeypatch.setenv("PROD_DB_URL_FOR_TEST", "postgresql://u@db.example/p")


@pytest.mark.usefixtures("fly_db_urls")
def test_the_admin_url_is_a_template_filled_per_environment(tmp_path):
    """[browser] admin_url fills {store}, {app} (the environment's app, else [app] name) and {env}; an
    environment's own admin_url wins."""
    text = FLY_ENVS + '\n[browser]\nadmin_url = "https://admin.shopify.com/store/{store}/apps/{app}?e={env}"\n'
    config = config_mod.load(write(tmp_path, text))
    staging = config.environment("staging").admin_url
    assert staging == "https://admin.shopify.com/store/hotrodan-dev/apps/hotdash-staging?e=staging"
    assert config.environment("production").admin_url == "https://admin.shopify.com/store/hotrodan/apps/hotdash-own"


@pytest.mark.parametrize(
    ("template", "drop_store", "key", "words"),
    [
        ("https://admin.shopify.com/store/{shop}/apps/{app}", False, "browser.admin_url", "unknown field {shop}"),
        ("https://admin.shopify.com/store/{store/apps", False, "browser.admin_url", "not a valid template"),
        ("https://admin.shopify.com/store/{store}/apps/{app}", True, "environments.staging.store", "needs"),
    ],
)
@pytest.mark.usefixtures("fly_db_urls")
def test_a_bad_admin_url_template_names_the_key(tmp_path, template, drop_store, key, words):
    """An unknown field, a broken template or a missing store is a config error naming the key."""
    text = FLY_ENVS.replace('store = "hotrodan-dev"\n', "") if drop_store else FLY_ENVS
    path = write(tmp_path, text + f'\n[browser]\nadmin_url = "{template}"\n')
    with pytest.raises(ConfigError) as err:
        config_mod.load(path)
    assert key in str(err.value) and words in str(err.value)
