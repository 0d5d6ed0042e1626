"""Fixtures the molecules share: the target's migrations and status, read once per gate run."""

from __future__ import annotations

from typing import Any

import pytest

from gates.config import Config


@pytest.fixture(scope="session")
def migration_files(gates_config: Config) -> Any:
    """The app's migration files, in version order."""
    from gates.database.migrations import local_migrations

    return local_migrations(gates_config.migrations_dir)


@pytest.fixture(scope="session")
def db_url(gates_config: Config, environment: Any) -> str:
    """The URL of the target's database (for tools that connect themselves, like the Supabase CLI)."""
    from gates.database import database_url

    return database_url(gates_config, environment)
