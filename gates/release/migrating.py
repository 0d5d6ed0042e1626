"""Migrating an environment: apply pending migrations with the Supabase CLI, then prove the history matches the files.

Above the database package and the checks: it applies with one and proves with the other. Every session
it opens, the CLI's included, is bounded by ``[database] lock_timeout`` and ``step_statement_timeout``:
a held lock fails the migration naming the lock and its holder (gates.database.waits).

The CLI runs each file in its own transaction and stops at the first that fails, leaving the earlier
ones applied and the later ones never created (nor judged). So the pending set is first rehearsed on
a scratch copy of the target's schema (gates' local cluster), and a set that cannot apply whole is
refused before anything is pushed, naming every failing file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from gates.checks.database import migrations_applied, no_unknown_migrations
from gates.config import Config
from gates.core.errors import GatesError
from gates.core.redact import redact
from gates.database.cluster import LocalCluster
from gates.database.migrations import applied_migrations, local_migrations, push
from gates.database.rehearsal import rehearse_pending
from gates.database.waits import (
    SUPABASE_CLI_SESSION,
    LockWatch,
    held_locks_at,
    step_session,
    with_bounds,
)

SESSION = "gates migrate"  # application_name of migrate's own sessions
# The sessions a migration's progress line watches: its own, and the Supabase CLI's.
WATCHED = (f"{SESSION}%", SUPABASE_CLI_SESSION)


def watch(config: Config, url: str) -> LockWatch:
    """What a migration of the database at ``url`` waits on, for its progress line."""
    return LockWatch(url, WATCHED, config.database)


def pending(config: Config, url: str) -> list[str]:
    """Names of the migration files not yet recorded as applied."""
    files = local_migrations(config.migrations_dir)
    with _session(config, url) as conn:
        applied = {m.version for m in applied_migrations(conn)}
    return [f.path.name for f in files if f.version not in applied]


def migrate(config: Config, url: str, log: Path | None) -> str:
    """Apply what is pending; raise GatesError unless the database then records exactly the app's files."""
    files = local_migrations(config.migrations_dir)
    todo = pending(config, url)
    if todo:
        _refuse_unless_whole(config, url, log)
        try:
            push(with_bounds(url, config.database), config.app_source, log, migrations_dir=config.migrations_dir)
        except GatesError as exc:
            raise GatesError(f"{exc}{_holder(url, str(exc))}; {_what_stayed(config, url, todo)}") from None
    with _session(config, url) as conn:
        for measurement in (migrations_applied(conn, files), no_unknown_migrations(conn, files)):
            if not measurement.ok:
                raise GatesError(measurement.explain())
    return f"applied {len(todo)} migration(s): {', '.join(todo)}" if todo else f"up to date ({len(files)} migrations)"


def _holder(url: str, error: str) -> str:
    """For a push the bound cancelled: the lock it waited on and its holder (the CLI's message names neither)."""
    if "lock timeout" not in error and "statement timeout" not in error:
        return ""
    held = held_locks_at(url, "supabase_migrations.schema_migrations")
    return f"; {held}" if held else "; the lock's holder has let go since"


def _refuse_unless_whole(config: Config, url: str, log: Path | None) -> None:
    """Raise GatesError naming every failing file (and folder problem) when the pending set does not apply whole
    to a copy of the target's schema; nothing has been pushed then. A data-dependent failure is not seen here
    (the copy has no rows): ``migrate`` then says which files stayed."""
    cluster = LocalCluster.for_config(config)
    # Named like migrate's own sessions: the progress line tells a wait of the rehearsal's reads too.
    run = rehearse_pending(
        url, config.migrations_dir, cluster, log=log, waits=config.database, session=f"{SESSION} rehearsal"
    )
    failing = run.rehearsal.failing if run.rehearsal else ()
    reasons = [*run.folder_problems, *([run.error] if run.error else [])]
    reasons += [f"{o.file.filename}: statement {o.failed_statement} of {o.statements} failed: {o.statement}: {o.error}"
                for o in failing]  # fmt: skip
    if reasons:
        what = f"{len(failing)} of {len(run.pending)} pending file(s) fail on a copy of its schema" if failing else (
            "the pending set could not be proven to apply whole")  # fmt: skip
        raise GatesError(f"refusing to migrate: {what}; nothing was applied: " + "; ".join(reasons))


def _what_stayed(config: Config, url: str, todo: list[str]) -> str:
    """Which of this run's files the database now records, and which it does not (read back, not assumed)."""
    try:
        still = set(pending(config, url))
    except GatesError as exc:
        return f"could not read the history back: {exc}"
    applied = [name for name in todo if name not in still]
    missing = [name for name in todo if name in still]
    return f"applied in this run and kept: {', '.join(applied) or 'none'}; not applied: {', '.join(missing) or 'none'}"


@contextlib.contextmanager
def _session(config: Config, url: str) -> Iterator[psycopg.Connection[Any]]:
    """A bounded session reading the history; a database error (a lock_timeout naming its holder) is a GatesError."""
    try:
        conn = step_session(url, SESSION, config.database)
    except psycopg.Error as exc:
        raise GatesError(redact(f"cannot connect to the database: {exc}")) from None
    with conn:
        try:
            yield conn
        except psycopg.Error as exc:
            raise GatesError(redact(f"reading the migration history: {exc}")) from None
