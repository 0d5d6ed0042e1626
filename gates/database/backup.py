"""Backups: pg_dump -Fc, proven by restoring into a scratch database and comparing tables and row counts.

A dump is only trusted once restored: ``pg_restore --list`` reads the table of contents but proves no
data (and ``supabase db dump`` writes an empty file without Docker). The source's row counts are taken
in the very snapshot pg_dump exports, so a live database still compares exactly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from gates.config import Config, DatabaseConfig, Environment
from gates.core.errors import GatesError
from gates.core.procs import run
from gates.core.redact import redact
from gates.database.migrations import register_url_secrets
from gates.database.waits import held_locks, milliseconds, pg_options, step_session

DUMP_TIMEOUT = 1800.0
_WAITS = DatabaseConfig()  # [database]'s defaults, for callers without a config
_TABLES_SQL = """
select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_%' order by 1, 2
"""


@dataclasses.dataclass(frozen=True)
class Backup:
    """A dump that was restored and compared: what record.json keeps under ``backup``."""

    path: str
    bytes: int
    sha256: str
    server_version: str
    tables: int
    rows: int
    verified: bool

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def pg_tool(name: str, server_major: int) -> str:
    """The newest installed ``name`` (pg_dump/pg_restore); it must be at least the server's major version."""
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    best = str(candidates[-1]) if candidates else shutil.which(name)
    if not best:
        raise GatesError(f"{name} not found: install the PostgreSQL client tools")
    out = run([best, "--version"], timeout=30).stdout
    m = re.search(r"(\d+)(?:\.\d+)?", out)
    major = int(m.group(1)) if m else 0
    if major < server_major:
        raise GatesError(f"{best} is version {major}, older than the server ({server_major}): install a newer one")
    return best


def take_backup(
    url: str, dest: Path, scratch_admin_url: str, log: Path | None = None, waits: DatabaseConfig = _WAITS
) -> Backup:
    """Dump ``url`` to ``dest`` (custom format), then prove it against a scratch restore; raise GatesError if not.
    A table someone holds locked fails it within ``waits.lock_timeout``, naming the lock and its holder."""
    register_url_secrets(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        source, version = _dump(url, dest, waits, log)
    except psycopg.Error as exc:  # a lock_timeout names the lock and its holder (BoundedCursor)
        raise GatesError(redact(f"backup of the database: {exc}")) from None
    return verify_backup(dest, source, version, scratch_admin_url, log, waits)


def _dump(url: str, dest: Path, waits: DatabaseConfig, log: Path | None) -> tuple[dict[str, int], str]:
    """pg_dump ``url`` into ``dest``; the source's row counts and server version, read in the dump's snapshot."""
    with _connect(url, waits) as conn, conn.transaction():
        # One repeatable-read snapshot for both the counts and pg_dump (--snapshot).
        conn.execute("set transaction isolation level repeatable read, read only")
        version, major = server_version_of(conn)
        snapshot = conn.execute("select pg_export_snapshot()").fetchone()
        source = _counts(conn)
        assert snapshot is not None
        # pg_dump turns statement_timeout off for its COPYs; its lock waits are bounded by --lock-wait-timeout.
        dump = [pg_tool("pg_dump", major), "-Fc", "--no-owner", f"--snapshot={snapshot[0]}"]
        dumped = run(
            [*dump, f"--lock-wait-timeout={milliseconds(waits.lock_timeout)}", "-f", str(dest), url],
            timeout=DUMP_TIMEOUT,
            log=log,
            check=False,
        )
        if dumped.returncode != 0:
            tail = " | ".join(dumped.output.strip().splitlines()[-2:]) or "no output"
            held = held_locks(conn) if "lock" in tail else ""
            raise GatesError(
                redact(f"pg_dump failed (exit {dumped.returncode}): {tail}" + (f"; {held}" if held else ""))
            )
    return source, version


def verify_backup(
    path: Path,
    source: dict[str, int],
    server_version: str,
    scratch_admin_url: str,
    log: Path | None = None,
    waits: DatabaseConfig = _WAITS,
) -> Backup:
    """Restore ``path`` into a fresh scratch database and compare tables and row counts with ``source``."""
    size = path.stat().st_size if path.is_file() else 0
    if size == 0:
        raise GatesError(f"backup {path}: empty or missing file, not a backup")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    name = f"gates_scratch_{uuid.uuid4().hex[:12]}"
    scratch = _with_db(scratch_admin_url, name)
    with _connect(scratch_admin_url, waits) as admin:
        # template0: a clean database, without what a cluster may have added to template1.
        admin.execute(sql.SQL("create database {} template template0").format(sql.Identifier(name)))
    try:
        with _connect(scratch, waits) as conn:
            _, major = server_version_of(conn)
        restored = run(
            [pg_tool("pg_restore", major), "--exit-on-error", "--no-owner", "-d", scratch, str(path)],
            timeout=DUMP_TIMEOUT,
            log=log,
            check=False,
        )
        if restored.returncode != 0:
            tail = " | ".join(restored.output.strip().splitlines()[-2:]) or "no output"
            raise GatesError(redact(f"backup {path}: does not restore (pg_restore exit {restored.returncode}): {tail}"))
        with _connect(scratch, waits) as conn:
            copy = _counts(conn)
    finally:
        with _connect(scratch_admin_url, waits) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
    differences = [f"{t}: {source.get(t, 'missing')} rows in the source, {copy.get(t, 'missing')} restored"
                   for t in sorted(set(source) | set(copy)) if source.get(t) != copy.get(t)]  # fmt: skip
    if differences:
        raise GatesError(f"backup {path}: the restore differs from the source: {'; '.join(differences[:5])}")
    return Backup(str(path), size, digest, server_version, len(source), sum(source.values()), True)


def restore(url: str, path: Path, log: Path | None = None, waits: DatabaseConfig = _WAITS) -> str:
    """Replace the objects of ``url`` with those of the backup at ``path`` (one transaction: all or nothing);
    its lock waits and statements bounded by ``waits`` (PGOPTIONS, which pg_restore's libpq honours)."""
    register_url_secrets(url)
    if not path.is_file() or path.stat().st_size == 0:
        raise GatesError(f"backup {path}: empty or missing file")
    with _connect(url, waits) as conn:
        _, major = server_version_of(conn)
    args = [pg_tool("pg_restore", major), "--clean", "--if-exists", "--no-owner", "--exit-on-error"]
    result = run(
        [*args, "--single-transaction", "-d", url, str(path)],
        timeout=DUMP_TIMEOUT,
        env=pg_options(waits),
        log=log,
        check=False,
    )
    if result.returncode != 0:
        tail = " | ".join(result.output.strip().splitlines()[-2:]) or "no output"
        raise GatesError(redact(f"restore of {path} failed (pg_restore exit {result.returncode}): {tail}"))
    with _connect(url, waits) as conn:
        counts = _counts(conn)
    return f"restored {path}: {len(counts)} tables, {sum(counts.values())} rows"


def _counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for schema, table in conn.execute(_TABLES_SQL).fetchall():
        query = sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        row = conn.execute(query).fetchone()
        counts[f"{schema}.{table}"] = int(row[0]) if row else 0
    return counts


def server_version_of(conn: psycopg.Connection[Any]) -> tuple[str, int]:
    row = conn.execute("select current_setting('server_version'), current_setting('server_version_num')").fetchone()
    assert row is not None
    return str(row[0]), int(row[1]) // 10000


def _with_db(url: str, name: str) -> str:
    base, _, rest = url.rpartition("/")
    query = rest.partition("?")[2]
    return f"{base}/{name}" + (f"?{query}" if query else "")


def _connect(url: str, waits: DatabaseConfig) -> psycopg.Connection[Any]:
    try:
        return step_session(url, "gates backup", waits)
    except psycopg.Error as exc:
        raise GatesError(redact(f"cannot connect to the database: {exc}")) from None


def backup_environment(config: Config, env: Environment, dest: Path, log: Path | None = None) -> Backup:
    """Back up an environment's database to ``dest``, proven in a scratch database of gates' local cluster."""
    from gates.database import prepare_database
    from gates.database.cluster import LocalCluster

    url = prepare_database(config, env)
    cluster = LocalCluster.for_config(config)
    cluster.start()  # the scratch server: never the environment's own
    return take_backup(url, dest, cluster.url("postgres"), log, config.database)
