"""What a migration rehearsal found, as plain data: each pending file's outcome, the folder's problems, and the
measurements of the schema the files built.

The rehearsal itself (gates.database.rehearsal) starts a scratch database in gates' local cluster; it runs in
the gate's fixture or the migrate step, and hands this to the checks (gates.checks.migration_safety), which
import only this: a check starts no server.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from gates.core.measurement import Measurement
from gates.database.migrations import MigrationFile

# Only for the annotation: a gate's collection imports this module (through gates' molecules), and psycopg is about
# 70 ms of CPU, paid by every gate that asks no database.
if TYPE_CHECKING:
    import psycopg


@dataclasses.dataclass(frozen=True)
class FileOutcome:
    """How one pending file fared: ``error`` is empty when it applied."""

    file: MigrationFile
    statements: int
    failed_statement: int = 0
    statement: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


# Judges the scratch database once every pending file ran: the measurements go into the Rehearsal.
Inspect: TypeAlias = "Callable[[psycopg.Connection[Any]], Sequence[Measurement]]"


@dataclasses.dataclass(frozen=True)
class Rehearsal:
    """The outcome of each pending file, what the schema restore could not recreate (not the app's), and what
    ``inspect`` found in the schema the files built."""

    outcomes: tuple[FileOutcome, ...]
    restore_errors: tuple[str, ...]
    inspected: tuple[Measurement, ...] = ()

    @property
    def failing(self) -> tuple[FileOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.ok)


@dataclasses.dataclass(frozen=True)
class PendingRehearsal:
    """A folder rehearsed against a target: its files pending there, the folder's problems (names the CLI skips,
    shared versions, pending files older than the newest applied one), and the rehearsal or why there is none."""

    pending: tuple[MigrationFile, ...]
    folder_problems: tuple[str, ...]
    rehearsal: Rehearsal | None
    error: str = ""
