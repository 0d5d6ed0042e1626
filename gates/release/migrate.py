"""The ``migrate`` step: pending migrations applied with the Supabase CLI, the history read back.

Production is migrated only with a proven backup of it and a rollback drill that passed (or was
waived) in this same release.
"""

from __future__ import annotations

from gates.config import Environment
from gates.core.errors import GatesError
from gates.database import has_database, prepare_database
from gates.evidence.state import StepRecord
from gates.release.context import Context
from gates.release.drill import require_drill
from gates.release.migrating import migrate, watch


def migrate_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Apply pending migrations with the Supabase CLI, then read the history back."""
    if env.is_production and ctx.state.proven_backup(env.name) is None:
        raise GatesError(f"refusing to migrate {env.name}: no proven backup of it was taken in this release")
    if env.is_production:
        require_drill(ctx, env, "migrate")
    if not has_database(env):
        rec.detail = f"no database configured for {env.name} (database_url_env): nothing to migrate"
        return
    url = prepare_database(ctx.config, env)
    log = ctx.record.log(f"migrate-{env.name}")
    rec.artifacts.append(ctx.record.relative(log))
    # A lock wait says on the progress line what it waits on and who holds it, until lock_timeout ends it.
    with ctx.reporter.waiting(f"migrate {env.name}", detail=watch(ctx.config, url).detail):
        rec.detail = migrate(ctx.config, url, log)
