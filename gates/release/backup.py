"""The ``backup`` step: pg_dump of the environment's database into the record, proven by a scratch restore.

It only reads the environment's database (in one snapshot, the row counts compared in the same), so it runs
beside the gate and the rollback drill of the environment before production (gates.release.runner.plan):
those change no database, and nothing migrates production before the sign-off, which waits on this backup
and on the drill.
"""

from __future__ import annotations

from pathlib import Path

from gates.config import Environment
from gates.database import prepare_database
from gates.database.backup import backup_environment
from gates.database.waits import LockWatch
from gates.evidence.state import Backup, StepRecord
from gates.release.context import Context


def backup_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """pg_dump the environment's database into the record and prove it by a scratch restore."""
    log = ctx.record.log(f"backup-{env.name}")
    rec.artifacts.append(ctx.record.relative(log))
    # A lock wait of the dump says on the progress line what it waits on and who holds it.
    watch = LockWatch(prepare_database(ctx.config, env), ("gates backup%", "pg_dump%"), ctx.config.database)
    with ctx.reporter.waiting(f"backup {env.name}", detail=watch.detail):
        taken = backup_environment(ctx.config, env, ctx.record.dir / "backups" / f"{env.name}.dump", log)
    path = ctx.record.relative(Path(taken.path))
    with ctx.record.lock:  # the record is written by the steps beside this one
        ctx.state.backups[env.name] = Backup(
            env=env.name, path=path, bytes=taken.bytes, sha256=taken.sha256, verified=taken.verified,
            tables=taken.tables, rows=taken.rows, server_version=taken.server_version,
        )  # fmt: skip
    rec.artifacts.append(path)
    rec.detail = f"{taken.bytes} bytes, sha256 {taken.sha256[:12]}, {taken.tables} tables / {taken.rows} rows restored"
