"""The markers gates registers: gates (which run a test belongs to) and concerns (what it checks)."""

from __future__ import annotations

GATES = {
    "preflight": "before anything is deployed: CI, config lint, migration safety, procedures",
    "staging": "the staging gate, after a staging deploy",
    "production": "the promotion gate, before and after production",
    "monitor": "the monitoring window after production",
    "drill": "the rollback drill on staging",
}
CONCERNS = {
    "ci": "CI checks of the commit being deployed",
    "health": "health paths and the release served",
    "database": "migrations, tables, RLS, advisors",
    "browser": "runs a real browser",
    "smoke": "the dashboard works for a user",
    "flags": "feature flags in production",
    "monitoring": "health checks, alerts, error rate and latency",
    "zero_downtime": "no failed request during a rollout",
}
# Gates that target one environment take it from the marker expression; the others need --env.
ENVIRONMENT_GATES = ("staging", "production")
