"""DEVOPS-006: the migrations still pending for the target are safe for a zero-downtime deploy (squawk)."""

from __future__ import annotations

import pytest

from gates.checks.migration_safety import migration_safety, pending_files

pytestmark = [pytest.mark.preflight, pytest.mark.database]


def test_pending_migrations_are_safe_for_zero_downtime(db, migration_files, gates_config, verdict):
    """squawk finds no unsafe statement in the pending migrations, but for rules allow-listed with a reason."""
    verdict(migration_safety(pending_files(db, migration_files), gates_config.database.squawk_allow))
