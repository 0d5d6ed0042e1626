"""Which schemas the API exposes: one answer for every database molecule and for Supabase's advisors.

Supabase's PostgREST serves the schemas of ``supabase/config.toml [api] schemas``; ``[app]
exposed_schemas`` in gates' config overrides them; with neither, ``public``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gates.config import Config, read_toml
from gates.core.errors import ConfigError

DEFAULT = ("public",)


@dataclasses.dataclass(frozen=True)
class ExposedSchemas:
    """The schemas, and where they were read from (shown in the report)."""

    schemas: tuple[str, ...]
    source: str


def supabase_config(config: Config) -> Path:
    return config.app_source / "supabase" / "config.toml"


def exposed_schemas(config: Config) -> ExposedSchemas:
    """``[app] exposed_schemas`` when set, else ``supabase/config.toml [api] schemas`` of the app, else public."""
    if config.app.exposed_schemas:
        return ExposedSchemas(tuple(config.app.exposed_schemas), f"{config.path} [app] exposed_schemas")
    path = supabase_config(config)
    if not path.is_file():
        return ExposedSchemas(DEFAULT, f"default (no [app] exposed_schemas, no {path})")
    data = read_toml(path)
    api = data.get("api", {})
    schemas = api.get("schemas") if isinstance(api, dict) else None
    if schemas is None:
        return ExposedSchemas(DEFAULT, f"default (no [api] schemas in {path})")
    if not isinstance(schemas, list) or not all(isinstance(s, str) and s for s in schemas):
        raise ConfigError(path, "api.schemas", f"expected a list of schema names, got {schemas!r}")
    return ExposedSchemas(tuple(schemas), f"{path} [api] schemas")


def advisors_config_toml(schemas: tuple[str, ...]) -> str:
    """A config.toml for the advisors' workdir: the CLI sets ``pgrst.db_schemas`` from ``[api] schemas``."""
    quoted = ", ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in schemas)
    return f'project_id = "gates-advisors"\n\n[api]\nschemas = [{quoted}]\n'
