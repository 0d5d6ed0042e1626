"""DEVOPS-003/007: every migration applied, none unknown or edited, the tables exist, RLS holds, the advisors are quiet."""

from __future__ import annotations

from pathlib import Path

import pytest

from gates.checks.advisors import advisors, blind_spots
from gates.checks.database import (
    migrations_applied,
    migrations_unchanged,
    no_unknown_migrations,
    rls_enabled,
    tables_exist,
)
from gates.checks.rls_behaviour import rls_behaviour
from gates.checks.security import always_true_policies, definer_functions_pinned
from gates.core.errors import GatesError
from gates.database.exposed import exposed_schemas
from gates.database.migrations import created_tables

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.database]


@pytest.fixture(scope="module")
def exposed(gates_config):
    """The schemas the API exposes: [app] exposed_schemas, else supabase/config.toml [api] schemas, else public."""
    try:
        return exposed_schemas(gates_config).schemas
    except GatesError as exc:
        pytest.fail(str(exc), pytrace=False)


def test_every_migration_is_applied(db, migration_files, verdict):
    """Every migration file in the app is recorded as applied in the database."""
    verdict(migrations_applied(db, migration_files))


def test_no_unknown_migration_is_applied(db, migration_files, verdict):
    """The database records no migration the app does not have (drift)."""
    verdict(no_unknown_migrations(db, migration_files))


def test_tables_the_migrations_create_exist(db, migration_files, app, verdict):
    """Every table the migrations create, and every table the config lists, exists."""
    verdict(tables_exist(db, [*created_tables(migration_files), *app.tables]))


def test_no_applied_migration_was_edited(db, migration_files, verdict):
    """Every applied migration file still holds the statements the database recorded when it ran."""
    verdict(migrations_unchanged(db, migration_files))


def test_every_exposed_table_has_rls_enabled(db, exposed, verdict):
    """In the exposed schemas every table (partitioned parents too) has RLS and a policy, views are security_invoker
    and none exposes auth.users; in no schema does a policy sit on a table without RLS; extensions' objects are not the app's."""
    verdict(rls_enabled(db, exposed))


def test_security_definer_functions_the_api_can_call_pin_search_path(db, exposed, verdict):
    """Every SECURITY DEFINER function anon or authenticated can execute in an exposed schema pins search_path."""
    verdict(definer_functions_pinned(db, exposed))


def test_no_policy_opens_every_row_to_the_api(db, exposed, gates_config, verdict):
    """No policy for anon/authenticated/PUBLIC is always true on a write, nor lets them write rows its WITH CHECK
    does not tie to the caller (outside [database] public_tables); always-true reads are listed (and fail outside
    public_tables with [database] select_true_fail)."""
    database = gates_config.database
    verdict(
        always_true_policies(db, exposed, select_fails=database.select_true_fail, public_tables=database.public_tables)
    )


def test_anon_reads_and_writes_only_the_public_tables(db, exposed, gates_config, environment, verdict):
    """As anon and as a random signed-in user, with JWT claims set as PostgREST sets them, in transactions always
    rolled back and leaving no trace: anon reads rows of no table, materialized view or foreign table, and inserts
    into no table, outside [database] public_tables (production: reads only); only Postgres' refusal is a denial."""
    public = gates_config.database.public_tables
    verdict(rls_behaviour(db, exposed, public, writes=not environment.is_production))


def test_supabase_advisors_report_nothing_at_the_configured_level(
    request, db, db_url, gates_config, environment, exposed, verdict
):
    """`supabase db advisors` over the exposed schemas reports nothing at or above [database] advisors_level
    (default ERROR), and could see them: anon and authenticated hold USAGE on each (else fail, unless waived)."""
    prefetched, database = request.config.getoption("gates_advisors_report"), gates_config.database
    report = Path(prefetched) if prefetched else None
    verdict(
        advisors(
            db_url, database.advisors_level, read_only=environment.is_production, prefetched=report,
            schemas=exposed, blind=blind_spots(db, exposed), blind_ok=database.advisors_blind_ok,
        )
    )  # fmt: skip
