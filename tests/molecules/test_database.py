"""DEVOPS-003/007: every migration applied, none unknown, the tables exist, RLS on every exposed table."""

from __future__ import annotations

import pytest

from gates.checks.database import migrations_applied, no_unknown_migrations, rls_enabled, tables_exist
from gates.database.migrations import created_tables

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.database]


def test_every_migration_is_applied(db, migration_files, verdict):
    """Every migration file in the app is recorded as applied in the database."""
    verdict(migrations_applied(db, migration_files))


def test_no_unknown_migration_is_applied(db, migration_files, verdict):
    """The database records no migration the app does not have (drift)."""
    verdict(no_unknown_migrations(db, migration_files))


def test_tables_the_migrations_create_exist(db, migration_files, app, verdict):
    """Every table the migrations create, and every table the config lists, exists."""
    verdict(tables_exist(db, [*created_tables(migration_files), *app.tables]))


def test_every_exposed_table_has_rls_enabled(db, app, verdict):
    """Row level security is enabled on every table of the exposed schemas."""
    verdict(rls_enabled(db, app.exposed_schemas))
