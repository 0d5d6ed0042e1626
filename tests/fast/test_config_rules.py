"""Config rules that need no process: waivers name real molecules, [tools], files checked, parse stays pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from gates.config import parse
from gates.core.errors import ConfigError
from gates.core.markers import builtin_names

APP = {"name": "x", "source": "."}
STAGING = {"staging": {"platform": "local", "url": "http://127.0.0.1:8081"}}


def test_the_builtin_molecules_are_known_by_name_without_importing_them() -> None:
    """The catalogue lists the shipped molecules (read as text), so a waiver can be checked at load time."""
    names = builtin_names()
    assert "test_every_health_path_answers_200" in names and "test_every_tile_shows_data" in names


def test_a_waiver_of_an_unknown_molecule_is_a_config_error_naming_it(tmp_path: Path) -> None:
    """[gate] waive of a name no built-in molecule has fails, naming the key; an empty reason too."""
    path = tmp_path / "gates.toml"
    with pytest.raises(ConfigError, match=r"gate\.waive\.test_nothing: no built-in molecule of that name"):
        parse({"app": APP, "environments": STAGING, "gate": {"waive": {"test_nothing": "why"}}}, path)
    with pytest.raises(ConfigError, match=r"gate\.waive\.test_every_tile_shows_data: a waiver needs its reason"):
        parse({"app": APP, "environments": STAGING, "gate": {"waive": {"test_every_tile_shows_data": " "}}}, path)
    ok = parse({"app": APP, "environments": STAGING, "gate": {"waive": {"test_every_tile_shows_data": "ours"}}}, path)
    assert ok.gate.waive == {"test_every_tile_shows_data": "ours"}


def test_parse_is_pure_the_state_folder_override_is_read_by_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """parse ignores $GATES_STATE_DIR; only load (the boundary) reads it."""
    monkeypatch.setenv("GATES_STATE_DIR", str(tmp_path / "elsewhere"))
    cfg = parse({"app": APP, "environments": STAGING}, tmp_path / "gates.toml")
    assert cfg.state_dir == tmp_path / ".gates"


def test_files_the_config_names_must_exist_relative_to_its_folder(tmp_path: Path) -> None:
    """A missing source, migrations folder or fly config is named by its key, with the path it resolved to."""
    cfg = parse({"app": {**APP, "source": "app"}, "environments": STAGING}, tmp_path / "gates.toml")
    with pytest.raises(ConfigError, match=r"app\.source: no such folder: .*/app \(paths are relative"):
        cfg.check_files()
    (tmp_path / "app" / "supabase" / "migrations").mkdir(parents=True)
    cfg.check_files()
    fly = {
        "staging": {"platform": "fly", "url": "https://x.fly.dev", "database_url_env": "DB", "fly_config": "fly.toml"}
    }
    cfg = parse({"app": {**APP, "source": "app"}, "environments": fly}, tmp_path / "gates.toml")
    with pytest.raises(ConfigError, match=r"environments\.staging\.fly_config: no such file"):
        cfg.check_files()


def test_an_external_environment_needs_only_a_url() -> None:
    """platform = "external": a URL is enough; a database is optional."""
    cfg = parse(
        {"app": APP, "environments": {"staging": {"platform": "external", "url": "https://x.example"}}}, Path("g.toml")
    )
    assert cfg.environments["staging"].platform == "external"


@pytest.mark.parametrize("where", ["gates.toml", "pyproject.toml"])
def test_an_external_environment_refuses_flags_read_from_platform_secrets(where: str) -> None:
    """Flags configured with the default source (platform secrets) on an external environment: a ConfigError naming
    flags.source (under tool.gates. in pyproject.toml); the endpoint source, or no flags at all, is accepted."""
    from gates.platforms.registry import validate

    prefix = "tool.gates." if where == "pyproject.toml" else ""
    external = {"production": {"platform": "external", "url": "https://x.example"}}
    flagged = parse({"app": APP, "environments": external, "flags": {"names": ["A"]}}, Path(where))
    with pytest.raises(ConfigError, match=rf"^{where}: {prefix}flags\.source: 'platform' reads the local platform's"):
        validate(flagged)
    validate(parse({"app": APP, "environments": external, "flags": {"names": ["A"], "source": "endpoint"}}, Path(where)))
    validate(parse({"app": APP, "environments": external}, Path(where)))


def _env(url: str = "http://127.0.0.1:8081", **more: object) -> dict[str, object]:
    return {"platform": "local", "url": url, **more}


@pytest.mark.parametrize(
    ("app", "environments", "extra", "key", "words"),
    [
        ({"health_paths": ["health"]}, None, {}, "app.health_paths[0]", "expected a path starting with /"),
        ({"health_timeout": -5}, None, {}, "app.health_timeout", "expected seconds in (0, 600]"),
        ({"health_timeout": 0}, None, {}, "app.health_timeout", "expected seconds in (0, 600]"),
        ({}, None, {"browser": {"load_timeout": -1}}, "browser.load_timeout", "expected seconds in (0, 600]"),
        ({}, {"staging": _env("http://127.0.0.1:8081/a b")}, {}, "environments.staging.url", "no spaces"),
        ({}, {"staging": _env(), "production": _env("http://127.0.0.1:8081/")}, {}, "environments.production.url",
         "the same URL as environments.staging"),
        ({}, {"staging": _env(), "Staging": _env("http://127.0.0.1:8082")}, {}, "environments.Staging",
         "the same name as environments.staging but for case"),
        ({}, {"staging ": _env()}, {}, "environments.staging ", "no spaces"),
        ({}, None, {"monitor": {"window": "99999h"}}, "monitor.window", "longer than the 7d"),
        ({}, None, {"local": {"postgres_port": 99999}}, "local.postgres_port", "expected a port in 1-65535, got 99999"),
        ({}, None, {"local": {"postgres_port": 0}}, "local.postgres_port", "expected a port in 1-65535, got 0"),
        ({}, {"staging": _env("http://127.0.0.1:99999")}, {}, "environments.staging.url", "expected a port in 1-65535"),
        ({}, {"staging": _env(admin_url="http://127.0.0.1:0/")}, {}, "environments.staging.admin_url",
         "expected a port in 1-65535"),
        ({}, {"staging": _env("http://localhost:8081"), "production": _env()}, {}, "environments.production.url",
         "the same URL as environments.staging"),
        ({}, {"staging": _env("http://[::1]:8081/"), "production": _env("http://LOCALHOST:8081")}, {},
         "environments.production.url", "the same URL as environments.staging"),
        ({}, {"staging": _env(keep_previous_for="1 hour")}, {}, "environments.staging.keep_previous_for",
         "expected a duration like 30s, 5m or 1h, or \"off\", got '1 hour'"),
        ({}, {"staging": _env(keep_previous_for="0s")}, {}, "environments.staging.keep_previous_for", "got '0s'"),
        ({}, {"staging": _env(keep_previous_for="999h")}, {}, "environments.staging.keep_previous_for",
         "longer than the 7d"),
        ({}, {"staging": _env(keep_previous_for=3600)}, {}, "environments.staging.keep_previous_for",
         "expected a string, got 3600"),
        ({}, {"staging": _env(keep_previous=False, keep_previous_for="1h")}, {},
         "environments.staging.keep_previous_for", "keeps nothing: keep_previous is false"),
    ],
)  # fmt: skip
def test_config_check_catches_what_run_time_would_trip_on(
    app: dict[str, object], environments: dict[str, object] | None, extra: dict[str, object], key: str, words: str
) -> None:
    """Each value is checked for its meaning when the config is read: one error naming the key and what was expected."""
    data = {"app": {**APP, **app}, "environments": environments or STAGING, **extra}
    with pytest.raises(ConfigError) as caught:
        parse(data, Path("gates.toml"))
    assert caught.value.key == key and words in str(caught.value)


def test_the_feedback_log_takes_only_the_date_placeholder(tmp_path: Path) -> None:
    """[record] feedback may say {date}; any other brace is a config error naming the key."""
    path = tmp_path / "gates.toml"
    with pytest.raises(ConfigError, match=r"record\.feedback: expected a path where only \{date\} is replaced"):
        parse({"app": APP, "environments": STAGING, "record": {"feedback": "feedback/{when}.md"}}, path)
    ok = parse({"app": APP, "environments": STAGING, "record": {"feedback": "feedback/devops/{date}.md"}}, path)
    assert ok.record.feedback == "feedback/devops/{date}.md"


def test_loopback_spellings_are_one_host_and_other_hosts_stay_apart() -> None:
    """localhost, 127.0.0.1 and ::1 name one listener; another host, port, scheme or path is another place."""
    from gates.core.ports import url_identity

    same = {url_identity(u) for u in ("http://localhost:8081", "http://127.0.0.1:8081/", "http://[::1]:8081")}
    assert len(same) == 1
    others = ("http://10.0.0.1:8081", "http://localhost:8082", "https://localhost:8081", "http://localhost:8081/app")
    assert len({url_identity(u) for u in others} | same) == 5
    assert url_identity("https://App.Example") == url_identity("https://app.example:443/")


def test_the_warm_window_defaults_to_an_hour_on_production_and_off_elsewhere() -> None:
    """keep_previous_for unset: 1h on production, off on staging (nothing kept warm there); set, it is the window,
    and a window on staging keeps the previous release warm there too; "off" keeps it only until confirmation."""
    envs = {
        "staging": _env(),
        "production": _env("http://127.0.0.1:8082"),
        "preview": _env("http://127.0.0.1:8083", keep_previous_for="20s"),
        "canary": _env("http://127.0.0.1:8084", keep_previous_for="off", protected=True),
    }
    cfg = parse({"app": APP, "environments": envs}, Path("gates.toml"))
    seconds = {name: (e.keeps_previous, e.keep_previous_seconds) for name, e in cfg.environments.items()}
    assert seconds == {
        "staging": (False, 0.0),
        "production": (True, 3600.0),
        "preview": (True, 20.0),
        "canary": (True, 0.0),
    }
