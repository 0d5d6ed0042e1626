"""Fixtures the molecules share: the target's migrations and status, read once per gate run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gates.config import Config


@pytest.fixture(scope="session")
def migration_files(gates_config: Config) -> Any:
    """The app's migration files, in version order."""
    from gates.database.migrations import local_migrations
    from gates.errors import GatesError

    try:
        return local_migrations(gates_config.migrations_dir)
    except GatesError as exc:  # two files sharing a version: one line, not a traceback
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def db_url(gates_config: Config, environment: Any) -> str:
    """The URL of the target's database (for tools that connect themselves, like the Supabase CLI)."""
    from gates.database import database_url

    return database_url(gates_config, environment)


@pytest.fixture(scope="session")
def probe_run(request: pytest.FixtureRequest, gates_config: Config, environment: Any, expected_release: Any) -> Any:
    """The traffic probe of the rollout: --probe-samples, else the newest record's probe of the release served now."""
    from gates import probe
    from gates.errors import GatesError

    explicit = request.config.getoption("gates_probe_samples")
    try:
        if explicit:
            return probe.load(Path(explicit))
        return probe.find(gates_config, environment, expected_release)
    except GatesError as exc:
        pytest.fail(str(exc), pytrace=False)
