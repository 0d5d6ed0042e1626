"""DEVOPS-006: the migrations still pending for the target apply to a copy of it, and are safe for a zero-downtime deploy (squawk)."""

from __future__ import annotations

import pytest

from gates.checks.migration_safety import existing_tables, migration_rehearsal, migration_safety, pending_files
from gates.database.cluster import LocalCluster

pytestmark = [pytest.mark.preflight, pytest.mark.database]


def test_pending_migrations_are_safe_for_zero_downtime(db, migration_files, gates_config, verdict):
    """squawk finds no statement that locks or rewrites a table the target already has, but for rules allow-listed
    with a reason; style rules and findings on tables the pending set creates are listed as advice."""
    pending, allow = pending_files(db, migration_files), gates_config.database.squawk_allow
    verdict(migration_safety(pending, allow, existing=existing_tables(db)))


def test_pending_migrations_apply_to_a_copy_of_the_target(db, db_url, gates_config, verdict):
    """Each pending file applies on its own to a scratch copy of the target's schema (gates' local cluster);
    every failing file, shared version, unnamed or out-of-order file is named, in one run."""
    verdict(migration_rehearsal(db, db_url, gates_config.migrations_dir, LocalCluster.for_config(gates_config)))
