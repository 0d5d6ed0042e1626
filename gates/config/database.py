"""``[database]``: the database gate (advisors, migration safety, backups) and the bounds of its sessions."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gates.config.reader import bounded
from gates.core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class DatabaseConfig:
    """The database gate: advisors, migration safety, backups."""

    # Lowest advisor level that fails the gate: error | warn | info.
    advisors_level: str = "error"
    # Squawk rules accepted anyway, each "rule: reason" (the reason is shown in the report).
    squawk_allow: tuple[str, ...] = ()
    # Tables anon may read (and, on staging, write) by design, "schema.table" (default schema public):
    # the RLS behaviour molecule fails on any other table anon can read rows of or write.
    public_tables: tuple[str, ...] = ()
    # Whether a SELECT policy `using (true)` for anon/authenticated/PUBLIC on a table outside
    # public_tables fails (default: it is listed in the report only).
    select_true_fail: bool = False
    # Why the advisors may run without seeing an exposed schema (anon/authenticated hold no privilege
    # on it, unlike on Supabase); empty: that fails the advisors molecule (fail closed).
    advisors_blind_ok: str = ""
    # Bounds of every statement of the gate's own session, in seconds: a locked table is a verdict, not a hang.
    # lock_timeout bounds every lock wait of the release steps' sessions too (migrate, the Supabase CLI's push, the
    # migration rehearsal, backup, restore, ledger, release lock): a held lock ends the step as failed, naming it
    # and its holder.
    statement_timeout: float = 10.0
    lock_timeout: float = 5.0
    # Each statement of a release step's own sessions: longer than a gate's, a migration may rewrite a table.
    step_statement_timeout: float = 300.0


def validate_database(db: DatabaseConfig, path: Path, key: str) -> None:
    if db.advisors_level not in ("error", "warn", "info"):
        raise ConfigError(path, f"{key}.advisors_level", f"expected error, warn or info, got {db.advisors_level!r}")
    for i, entry in enumerate(db.squawk_allow):
        rule, _, reason = entry.partition(":")
        if not rule.strip() or not reason.strip():
            raise ConfigError(path, f"{key}.squawk_allow[{i}]", f"expected 'rule: reason', got {entry!r}")
    for i, table in enumerate(db.public_tables):
        if not table or table.count(".") > 1 or table.startswith(".") or table.endswith("."):
            raise ConfigError(path, f"{key}.public_tables[{i}]", f"expected 'table' or 'schema.table', got {table!r}")


def validate_database_waits(db: DatabaseConfig, path: Path, key: str) -> None:
    for name in ("statement_timeout", "lock_timeout", "step_statement_timeout"):
        bounded(getattr(db, name), path, f"{key}.{name}")
