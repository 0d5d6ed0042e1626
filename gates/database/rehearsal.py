"""Migration rehearsal: the pending migrations applied to a scratch copy of the target's schema.

The target's current schema (``pg_dump --schema-only``) is restored into a scratch database of gates'
local cluster, Supabase's baseline fills in what the dump lacks, then each pending file runs on its
own, in its own session and transaction, as `supabase db push` runs them. A file that fails is rolled
back and the next one still runs, so one rehearsal names every file that fails, with its statement
and error, before anything real is touched. Before the scratch database is dropped (always), an
``inspect`` callable may judge the whole schema the migrations built there (the database checks:
files after a failing one are judged too). ``rehearse_pending`` adds the folder's own problems.

Every session on the target (its history read, its server version, the dump) waits at most ``[database]
lock_timeout`` for a lock: a preflight runs beside the build, and a history someone holds locked meanwhile
is a failed rehearsal naming the lock and its holder, never a release waiting on the holder.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from gates.config import DatabaseConfig
from gates.core.errors import GatesError
from gates.core.measurement import Measurement
from gates.core.procs import run
from gates.core.redact import redact
from gates.database import baseline
from gates.database.backup import DUMP_TIMEOUT, pg_tool, server_version_of
from gates.database.cluster import LocalCluster
from gates.database.migrations import (
    MigrationFile,
    applied_migrations,
    out_of_order,
    register_url_secrets,
    scan_migrations,
)
from gates.database.rehearsed import FileOutcome, Inspect, PendingRehearsal, Rehearsal
from gates.database.sqltext import split_statements
from gates.database.waits import connect_timeout, milliseconds, step_session

# A rehearsal must end: a statement that waits on a lock or loops is a failure, not a hang.
STATEMENT_TIMEOUT = "120s"
SESSION = "gates rehearsal"  # application_name of the rehearsal's sessions on the target
_RESTORE_NOISE = 5


def rehearse_pending(
    target_url: str,
    migrations: Path,
    cluster: LocalCluster,
    inspect: Inspect | None = None,
    log: Path | None = None,
    waits: DatabaseConfig | None = None,
    session: str = SESSION,
) -> PendingRehearsal:
    """Rehearse the files of ``migrations`` the target has not applied; never raises (``error`` says why not).
    ``waits`` bounds every session on the target (``lock_timeout``: a history or a table held locked ends the
    rehearsal naming the lock and its holder); ``session`` names them in pg_stat_activity."""
    waits = waits or DatabaseConfig()
    try:
        scan = scan_migrations(migrations)
        with _target(target_url, waits, session) as conn:
            applied = [m.version for m in applied_migrations(conn)]
    except (GatesError, psycopg.Error) as exc:
        return PendingRehearsal((), (), None, f"not rehearsed: {redact(_first_line(exc))}")
    pending = tuple(f for f in scan.files if f.version not in set(applied))
    problems = (*scan.problems, *out_of_order(scan.files, applied))
    if not pending:
        return PendingRehearsal(pending, problems, None)
    try:
        return PendingRehearsal(pending, problems, rehearse(target_url, cluster, pending, log, waits, inspect, session))
    except GatesError as exc:
        return PendingRehearsal(pending, problems, None, f"could not rehearse: {exc}")


def rehearse(
    target_url: str,
    cluster: LocalCluster,
    pending: Sequence[MigrationFile],
    log: Path | None = None,
    waits: DatabaseConfig | None = None,
    inspect: Inspect | None = None,
    session: str = SESSION,
) -> Rehearsal:
    """Apply ``pending`` to a scratch copy of ``target_url``'s schema in ``cluster``, then ``inspect`` it; raise
    GatesError only when the copy cannot be made (the target cannot be dumped, the cluster cannot be reached, a
    table of it stays locked past ``waits.lock_timeout``)."""
    waits = waits or DatabaseConfig()
    register_url_secrets(target_url)
    # A cluster the rehearsal had to start is stopped again: nothing is left running by a preflight.
    started_here = not cluster.running()
    cluster.start()
    try:
        return _rehearse(target_url, cluster, pending, log, waits, inspect, session)
    finally:
        if started_here:
            cluster.stop()


def _rehearse(
    target_url: str,
    cluster: LocalCluster,
    pending: Sequence[MigrationFile],
    log: Path | None,
    waits: DatabaseConfig,
    inspect: Inspect | None,
    session: str,
) -> Rehearsal:
    name = f"gates_rehearsal_{uuid.uuid4().hex[:12]}"
    admin_url, scratch_url = cluster.url("postgres"), cluster.url(name)
    with tempfile.TemporaryDirectory(prefix="gates-rehearsal-") as tmp:
        dump = Path(tmp) / "schema.dump"
        _dump_schema(target_url, dump, log, waits, session)
        with _connect(admin_url, waits) as admin:
            admin.execute(sql.SQL("create database {} template template0").format(sql.Identifier(name)))
        try:
            restore_errors = _restore(scratch_url, dump, log, waits)
            with _connect(scratch_url, waits) as conn:
                # The target's own objects come first; the baseline adds only what they lack.
                baseline.install(conn)
            outcomes = tuple(_apply(scratch_url, f, waits) for f in pending)
            inspected = _inspect(scratch_url, inspect, waits) if inspect is not None else ()
        finally:
            with _connect(admin_url, waits) as admin:
                admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
    return Rehearsal(outcomes, restore_errors, inspected)


def _inspect(url: str, inspect: Inspect, waits: DatabaseConfig) -> tuple[Measurement, ...]:
    """What ``inspect`` finds in the scratch database; a database error on the way is a failed Measurement
    saying so (fail closed), never an exception out of the rehearsal."""
    try:
        with _connect(url, waits) as conn:
            return tuple(inspect(conn))
    except (GatesError, psycopg.Error) as exc:
        problem = f"the scratch database could not be judged: {_first_line(exc)}"
        return (Measurement("scratch database", "the rehearsed schema can be judged", "not judged", "judged", False,
                            "the database checks on the rehearsal's scratch database", problems=[problem]),)  # fmt: skip


def _dump_schema(url: str, dest: Path, log: Path | None, waits: DatabaseConfig, session: str) -> None:
    with _target(url, waits, session) as conn:
        _, major = server_version_of(conn)
    # A table someone holds locked ends the dump after lock_timeout (naming the table), not the preflight's bound.
    lock_wait = milliseconds(waits.lock_timeout)
    args = [pg_tool("pg_dump", major), "-Fc", "--schema-only", "--no-owner", f"--lock-wait-timeout={lock_wait}"]
    args += ["-f", str(dest), url]
    result = run(args, timeout=DUMP_TIMEOUT, log=log, check=False)
    if result.returncode != 0:
        tail = " | ".join(result.output.strip().splitlines()[-2:]) or "no output"
        raise GatesError(redact(f"the target's schema could not be dumped (pg_dump exit {result.returncode}): {tail}"))


def _restore(url: str, dump: Path, log: Path | None, waits: DatabaseConfig) -> tuple[str, ...]:
    """Restore without stopping at errors: objects of the platform (roles, extensions this Postgres lacks)
    may not come back, and are not the app's; the errors are kept for the report."""
    with _connect(url, waits) as conn:
        _, major = server_version_of(conn)
    args = [pg_tool("pg_restore", major), "--no-owner", "-d", url, str(dump)]
    result = run(args, timeout=DUMP_TIMEOUT, log=log, check=False)
    errors = [line.strip() for line in result.output.splitlines() if "error:" in line.lower()]
    return tuple(redact(e) for e in errors if "errors ignored on restore" not in e)


def _apply(url: str, f: MigrationFile, waits: DatabaseConfig) -> FileOutcome:
    """Run one file in a session of its own (the CLI resets settings between files) and one transaction."""
    statements = split_statements(f.path.read_text(errors="replace"))
    outcome = FileOutcome(f, len(statements))
    with _connect(url, waits) as conn:
        conn.execute(f"set statement_timeout = '{STATEMENT_TIMEOUT}'".encode())
        try:
            with conn.transaction():
                for i, statement in enumerate(statements, start=1):
                    try:
                        conn.execute(statement.text.encode(), prepare=False)
                    except psycopg.Error as exc:
                        outcome = FileOutcome(f, len(statements), i, statement.first_line(), _first_line(exc))
                        raise psycopg.Rollback() from None
        except psycopg.Error as exc:  # the commit itself (a deferred constraint)
            outcome = FileOutcome(f, len(statements), len(statements), "COMMIT", _first_line(exc))
    return outcome


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _target(url: str, waits: DatabaseConfig, session: str) -> psycopg.Connection[Any]:
    """A session on the target, bounded by ``waits`` (a cancelled statement names the lock and its holder)."""
    try:
        return step_session(url, session, waits)
    except psycopg.Error as exc:
        raise GatesError(redact(f"cannot connect to the database: {exc}")) from None


def _connect(url: str, waits: DatabaseConfig) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout(waits))
    except psycopg.Error as exc:
        raise GatesError(redact(f"cannot connect to the database: {exc}")) from None
