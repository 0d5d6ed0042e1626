"""DEVOPS-006: the migrations still pending for the target apply to a copy of it, build a schema that passes the
database checks, and are safe for a zero-downtime deploy (squawk)."""

from __future__ import annotations

import pytest

from gates.checks.migration_safety import (
    existing_tables,
    migration_rehearsal,
    migration_safety,
    pending_files,
    rehearsed_schema,
    schema_checks,
)
from gates.core.errors import GatesError
from gates.database.exposed import exposed_schemas

pytestmark = [pytest.mark.preflight, pytest.mark.database]


@pytest.fixture(scope="module")
def rehearsal(db_url, gates_config):
    """One rehearsal of the pending files on a scratch copy of the target (gates' local cluster), judged by the
    database checks before the copy is dropped; both rehearsal molecules read it."""
    # Imported here: they load psycopg (about 70 ms of CPU), which collecting this file (every gate does) need not pay.
    from gates.database.cluster import LocalCluster
    from gates.database.rehearsal import rehearse_pending

    try:
        schemas = exposed_schemas(gates_config).schemas
    except GatesError as exc:
        pytest.fail(str(exc), pytrace=False)
    inspect = schema_checks(schemas, gates_config.database)
    # The gate session's lock_timeout ([database]) bounds the rehearsal's reads of the target and its schema's dump.
    cluster = LocalCluster.for_config(gates_config)
    return rehearse_pending(db_url, gates_config.migrations_dir, cluster, inspect, waits=gates_config.database)


def test_pending_migrations_are_safe_for_zero_downtime(db, migration_files, gates_config, verdict):
    """squawk finds no statement that locks or rewrites a table the target already has, but for rules allow-listed
    with a reason; style rules and findings on tables the pending set creates are listed as advice."""
    pending, allow = pending_files(db, migration_files), gates_config.database.squawk_allow
    verdict(migration_safety(pending, allow, existing=existing_tables(db)))


def test_pending_migrations_apply_to_a_copy_of_the_target(rehearsal, gates_config, verdict):
    """Each pending file applies on its own to a scratch copy of the target's schema (gates' local cluster);
    every failing file, shared version, unnamed or out-of-order file is named, in one run."""
    verdict(migration_rehearsal(rehearsal, gates_config.migrations_dir))


def test_the_schema_the_migrations_would_build_passes_the_database_checks(rehearsal, verdict):
    """RLS, policies, SECURITY DEFINER functions and RLS behaviour hold on the rehearsal's scratch database after
    every pending file ran (those after a failing file too): the whole schema the migrations would build."""
    verdict(rehearsed_schema(rehearsal))
