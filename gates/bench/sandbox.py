"""A throw-away release target: a config releasing an app to local environments on free ports.

Used by the benchmark and the self-tests, so both build their sandboxes the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gates.core.ports import free_port, lasting_port

__all__ = ["free_port"]  # the sandboxes' ports, re-exported for the bench and the self-tests

# The checkout gates runs from (the benchmark and the self-tests run from one; an installed gates has no demo).
CHECKOUT = Path(__file__).resolve().parents[2]
DEMO = CHECKOUT / "examples" / "demo"
DEMO_HEALTH_PATHS = ["/health", "/api/ads/health", "/api/analytics/health"]
DEMO_TILES = ["revenue", "orders", "conversion", "campaigns"]
# The demo's tables anon reads by design (the dashboard's tiles): the RLS behaviour molecule allows them.
DEMO_PUBLIC_TABLES = ["public.dashboard_tiles", "public.ad_campaigns"]


def write_config(
    folder: Path,
    *,
    environments: dict[str, dict[str, Any]],
    source: Path = DEMO,
    app: dict[str, Any] | None = None,
    postgres_port: int | None = None,
    browser: dict[str, Any] | None = None,
    extra: str = "",
    database: dict[str, Any] | None = None,
) -> Path:
    """Write ``folder/gates.toml``: ``source`` released to local environments on free ports, state in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    app_table = {"name": "demo", "source": str(source), "health_paths": DEMO_HEALTH_PATHS, **(app or {})}
    lines = ["[app]", *(f"{k} = {json.dumps(v)}" for k, v in app_table.items())]
    for name, table in environments.items():
        # Each environment gets its Admin stand-in on a port of its own (see gates.platforms.admin).
        # Ports bound later by other processes: below the ephemeral range, where nothing else lands meanwhile.
        local = {"platform": "local", "url": f"http://127.0.0.1:{lasting_port()}"}
        table = {**local, "admin_url": f"http://127.0.0.1:{lasting_port()}/", **table}
        lines += ["", f"[environments.{name}]", *(f"{k} = {json.dumps(v)}" for k, v in table.items())]
    lines += [
        "",
        "[local]",
        f"state_dir = {json.dumps(str(folder / 'state'))}",
        f"postgres_port = {postgres_port or lasting_port()}",
    ]
    lines += ["", "[record]", f"dir = {json.dumps(str(folder / 'deploys'))}"]
    database_table = {"public_tables": DEMO_PUBLIC_TABLES, **(database or {})}
    lines += ["", "[database]", *(f"{k} = {json.dumps(v)}" for k, v in database_table.items())]
    # [browser] last: callers' ``extra`` may go on with more [browser] keys before its own tables.
    browser_table = {"tiles": DEMO_TILES, **(browser or {})}
    lines += ["", "[browser]", *(f"{k} = {json.dumps(v)}" for k, v in browser_table.items())]
    path = folder / "gates.toml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


# [notify] of a sandbox, pointed (by demo_webhook) at the staging app's Slack-webhook stand-in, as `make demo` does.
NOTIFY_ENV = "GATES_SANDBOX_WEBHOOK"
NOTIFY = f'\n[notify]\nwebhook_env = "{NOTIFY_ENV}"\n'


def demo_webhook(config: Path) -> dict[str, str]:
    """The environment variable of NOTIFY: the demo's ``POST /api/alerts`` on the sandbox's staging."""
    from gates import config as config_mod

    return {NOTIFY_ENV: config_mod.load(config).environment("staging").url.rstrip("/") + "/api/alerts"}


def release_cli() -> list[str]:
    """How the self-tests and the benchmark run a whole release: the gates CLI as a module of this interpreter."""
    return ["-m", "gates.cli"]
