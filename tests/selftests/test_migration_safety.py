"""squawk over the migrations pending for a database: unsafe statements named file:line and rule, allow-list with reasons."""

from __future__ import annotations

from pathlib import Path

import psycopg

from gates.checks.migration_safety import migration_safety, pending_files
from gates.database.migrations import local_migrations, push
from tests.selftests.pgfixtures import write_migrations

SAFE = {
    "20250101000000_notes.sql": "set lock_timeout = '5s';\nset statement_timeout = '30s';\n"
    "create table public.notes (id bigint primary key, body text);\n",
}
# Applied already: unsafe, but history is not linted.
OLD_UNSAFE = {"20250102000000_old_index.sql": "create index notes_body on public.notes (body);\n"}
UNSAFE = {
    "20250103000000_required.sql": "set lock_timeout = '5s';\nset statement_timeout = '30s';\n"
    "alter table public.notes add column owner text not null;\n",
}


def test_an_unsafe_pending_migration_fails_naming_file_line_and_rule(pg_database: str, tmp_path: Path) -> None:
    """A pending NOT NULL column without default fails, named file:line and rule; applied files are not linted."""
    app = tmp_path / "app"
    folder = write_migrations(app, {**SAFE, **OLD_UNSAFE})
    push(pg_database, app, None)
    write_migrations(app, UNSAFE)
    with psycopg.connect(pg_database) as conn:
        pending = pending_files(conn, local_migrations(folder))
    assert [f.filename for f in pending] == ["20250103000000_required.sql"]
    m = migration_safety(pending, [])
    assert not m.ok
    (problem,) = m.problems
    assert problem.startswith("20250103000000_required.sql:3 adding-required-field: ")


def test_an_allow_listed_rule_passes_and_shows_its_reason(tmp_path: Path) -> None:
    """With the rule allow-listed as 'rule: reason', the finding passes and the reason is in the report's details."""
    files = local_migrations(write_migrations(tmp_path, UNSAFE))
    m = migration_safety(files, ["adding-required-field: the table is empty in every environment"])
    assert m.ok, m.explain()
    assert {"allowed rule": "adding-required-field", "reason": "the table is empty in every environment"} in m.details
    assert any(d.get("allowed") == "the table is empty in every environment" for d in m.details)


def test_nothing_pending_passes_and_safe_files_pass(tmp_path: Path) -> None:
    """No pending file passes; a file with lock and statement timeouts creating a table passes."""
    assert migration_safety([], []).ok
    assert migration_safety(local_migrations(write_migrations(tmp_path, SAFE)), []).ok
