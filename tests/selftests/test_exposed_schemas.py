"""One source for the exposed schemas: [app] exposed_schemas, else supabase/config.toml [api] schemas, else public."""

from __future__ import annotations

from pathlib import Path

import pytest

from gates import config as config_mod
from gates.core.errors import ConfigError
from gates.database.exposed import advisors_config_toml, exposed_schemas

CONFIG = '[app]\nname = "x"\nsource = "app"\n{extra}\n[environments.staging]\nplatform = "local"\nurl = "http://127.0.0.1:1"\n'


def _config(tmp_path: Path, supabase_toml: str | None, extra: str = "") -> config_mod.Config:
    (tmp_path / "app" / "supabase").mkdir(parents=True, exist_ok=True)
    if supabase_toml is not None:
        (tmp_path / "app" / "supabase" / "config.toml").write_text(supabase_toml)
    (tmp_path / "gates.toml").write_text(CONFIG.format(extra=extra))
    return config_mod.load(tmp_path / "gates.toml")


def test_supabase_config_toml_api_schemas_are_the_exposed_schemas(tmp_path: Path) -> None:
    """Without [app] exposed_schemas the app's supabase/config.toml [api] schemas count; without either, public."""
    assert exposed_schemas(_config(tmp_path, None)).schemas == ("public",)
    cfg = _config(tmp_path, '[api]\nschemas = ["public", "graphql_public", "api"]\n')
    found = exposed_schemas(cfg)
    assert found.schemas == ("public", "graphql_public", "api") and "config.toml [api] schemas" in found.source


def test_app_exposed_schemas_override_config_toml(tmp_path: Path) -> None:
    """[app] exposed_schemas wins over supabase/config.toml."""
    cfg = _config(tmp_path, '[api]\nschemas = ["api"]\n', 'exposed_schemas = ["public", "shop"]')
    assert exposed_schemas(cfg).schemas == ("public", "shop")


def test_a_bad_api_schemas_is_a_config_error_naming_file_and_key(tmp_path: Path) -> None:
    """[api] schemas that is not a list of names is a ConfigError naming supabase/config.toml and api.schemas."""
    with pytest.raises(ConfigError, match=r"supabase/config\.toml: api\.schemas: expected a list of schema names"):
        exposed_schemas(_config(tmp_path, '[api]\nschemas = "public"\n'))


def test_the_advisors_config_toml_names_the_schemas() -> None:
    """The advisors' workdir config.toml carries the schemas, quoted as TOML strings."""
    assert 'schemas = ["public", "we\\"ird"]' in advisors_config_toml(("public", 'we"ird'))


def test_database_keys_of_the_rls_checks_are_read_and_checked(tmp_path: Path) -> None:
    """[database] public_tables, select_true_fail and advisors_blind_ok are read; a public table that is not
    'table' or 'schema.table' is a ConfigError naming the key."""
    keys = '[database]\npublic_tables = ["tiles", "api.orders"]\nselect_true_fail = true\nadvisors_blind_ok = "no API"\n'
    (tmp_path / "app" / "supabase").mkdir(parents=True, exist_ok=True)
    (tmp_path / "gates.toml").write_text(CONFIG.format(extra="") + keys)
    database = config_mod.load(tmp_path / "gates.toml").database
    assert database.public_tables == ("tiles", "api.orders") and database.select_true_fail
    assert database.advisors_blind_ok == "no API"
    (tmp_path / "gates.toml").write_text(CONFIG.format(extra="") + keys.replace("api.orders", "a.b.c"))
    with pytest.raises(ConfigError, match=r"database\.public_tables\[1\]: expected 'table' or 'schema\.table'"):
        config_mod.load(tmp_path / "gates.toml")
