"""Migrating an environment: apply pending migrations with the Supabase CLI, then prove the history matches the files.

Above the database package and the checks: it applies with one and proves with the other.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from gates.checks.database import migrations_applied, no_unknown_migrations
from gates.config import Config
from gates.database.migrations import applied_migrations, local_migrations, push
from gates.errors import GatesError
from gates.redact import redact


def pending(config: Config, url: str) -> list[str]:
    """Names of the migration files not yet recorded as applied."""
    files = local_migrations(config.migrations_dir)
    with _connect(url) as conn:
        applied = {m.version for m in applied_migrations(conn)}
    return [f.path.name for f in files if f.version not in applied]


def migrate(config: Config, url: str, log: Path | None) -> str:
    """Apply what is pending; raise GatesError unless the database then records exactly the app's files."""
    files = local_migrations(config.migrations_dir)
    todo = pending(config, url)
    if todo:
        try:
            push(url, config.app_source, log, migrations_dir=config.migrations_dir)
        except GatesError as exc:
            raise GatesError(f"{exc}; {_what_stayed(config, url, todo)}") from None
    with _connect(url) as conn:
        for measurement in (migrations_applied(conn, files), no_unknown_migrations(conn, files)):
            if not measurement.ok:
                raise GatesError(measurement.explain())
    return f"applied {len(todo)} migration(s): {', '.join(todo)}" if todo else f"up to date ({len(files)} migrations)"


def _what_stayed(config: Config, url: str, todo: list[str]) -> str:
    """Which of this run's files the database now records, and which it does not (read back, not assumed)."""
    try:
        still = set(pending(config, url))
    except GatesError as exc:
        return f"could not read the history back: {exc}"
    applied = [name for name in todo if name not in still]
    missing = [name for name in todo if name in still]
    return f"applied in this run and kept: {', '.join(applied) or 'none'}; not applied: {', '.join(missing) or 'none'}"


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise GatesError(redact(f"cannot connect to the database: {exc}")) from None
