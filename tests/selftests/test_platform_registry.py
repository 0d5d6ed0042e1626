"""The registry of platform drivers: a name picks a driver, each driver checks its own keys, loaded lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gates import config as config_mod
from gates.core.errors import ConfigError
from gates.platforms import registry
from gates.platforms.fly import FlyPlatform
from gates.platforms.local import LocalPlatform
from gates.target import open_config

LOCAL = '[environments.staging]\nplatform = "local"\nurl = "http://127.0.0.1:18081"\n'
FLY = (
    '[environments.staging]\nplatform = "fly"\napp = "a-staging"\nurl = "https://a.example"\ndatabase_url_env = "DB"\n'
)


def load(tmp_path: Path, text: str, app: str = "") -> config_mod.Config:
    path = tmp_path / "gates.toml"
    path.write_text(f'[app]\nname = "a"\n{app}\n{text}')
    return open_config(path)


def test_each_platform_name_picks_its_driver(tmp_path: Path) -> None:
    """platform = "local" is the local driver, "fly" the flyctl driver; only the local one runs on this machine."""
    local, fly = load(tmp_path, LOCAL), load(tmp_path, FLY)
    assert registry.driver(local, local.environment("staging")) is LocalPlatform
    assert registry.driver(fly, fly.environment("staging")) is FlyPlatform
    assert registry.local_drivers(local) == [LocalPlatform] and registry.local_drivers(fly) == []
    assert registry.build(fly, fly.environment("staging")) is None, "Fly builds during its deploy"


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (LOCAL.replace('"local"', '"heroku"'), "environments.staging.platform",
         "unknown platform 'heroku' (expected one of: external, fly, local)"),
        (FLY.replace('app = "a-staging"\n', ""), "environments.staging.app", "required for platform 'fly'"),
        (FLY.replace('database_url_env = "DB"\n', ""), "environments.staging.database_url_env", "required for platform 'fly'"),
        (LOCAL.replace(":18081", ""), "environments.staging.url", "the local platform needs an explicit port"),
        (LOCAL + 'admin_url = "http://127.0.0.1:18081/"\n', "environments.staging.admin_url", "the local platform serves the Admin on its own port"),
    ],
)  # fmt: skip
def test_each_driver_checks_its_own_keys(tmp_path: Path, text: str, key: str, words: str) -> None:
    """An unknown platform, or a key its driver needs missing or wrong, is a ConfigError naming file and key."""
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text)
    assert f"gates.toml: {key}: {words}" in str(err.value)


@pytest.mark.parametrize(
    ("app", "key", "words"),
    [
        ('build = "npm ci"', "app.start", "a build needs a start command"),
        ('env = { NODE_ENV = 1 }', "app.env.NODE_ENV", "expected a string"),
        ('env = "NODE_ENV=production"', "app.env", "expected a table"),
        ('health_path = "health"', "app.health_path", "expected a path starting with /"),
    ],
)  # fmt: skip
def test_bad_app_commands_name_the_key(tmp_path: Path, app: str, key: str, words: str) -> None:
    """A build without a start command, a variable that is not a string or a relative health path is a ConfigError."""
    with pytest.raises(ConfigError) as err:
        load(tmp_path, LOCAL, app)
    assert f"{key}: {words}" in str(err.value)


def test_the_app_commands_are_read_with_the_first_health_path_as_readiness(tmp_path: Path) -> None:
    """build, start and env are read as written; readiness is health_path, else the first of health_paths."""
    cfg = load(tmp_path, LOCAL, 'build = "npm ci"\nstart = "npm start"\nenv = { NODE_ENV = "production" }')
    assert (cfg.app.build, cfg.app.start, dict(cfg.app.env)) == ("npm ci", "npm start", {"NODE_ENV": "production"})
    assert cfg.app.readiness_path == "/health"


def test_loading_the_platform_protocol_loads_no_driver() -> None:
    """gates.platforms (the protocol and the registry) imports no driver: each is loaded when an environment names it."""
    code = "import sys, gates.platforms; print(sorted(m for m in sys.modules if m.startswith('gates.platforms.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "gates.platforms.fly" not in out and "gates.platforms.local" not in out, out
