"""What a release of a valid config would still refuse, said by `gates config check` before anything runs.

Each is found today only once a release reaches it: production's sign-off without a notification
channel ("unchecked: notifications reachable"), a database environment whose migrations folder holds
no migration (the migrate step fails closed), a Fly environment without a Fly token, a browser
gate opening a dashboard path the app does not route (judged only where the routes can be read:
React Router 7's app/routes.ts or file routes), and a Shopify Admin URL for an app Shopify does not
embed (no shopify.app.toml, no Shopify app package). Each line names the file, the key and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from gates.checks.repolayout import routes_of, routes_path, scan
from gates.config import Config
from gates.database.migrations import local_migrations

FLY_TOKENS = ("FLY_API_TOKEN", "FLY_ACCESS_TOKEN")
_SHOPIFY_ADMIN_HOSTS = ("admin.shopify.com", ".myshopify.com")


def refusals(cfg: Config, environ: Mapping[str, str]) -> list[str]:
    """One line per thing a release of ``cfg`` would refuse before it is done, given the variables ``environ``."""
    where = f"{cfg.path}"
    found: list[str] = []
    production = [e.name for e in cfg.environments.values() if e.is_production]
    if production and not cfg.notify.webhook_env:
        found.append(
            f"{where}: notify.webhook_env: empty: the sign-off of {production[0]} refuses without a notification "
            "channel (unchecked: notifications reachable); name the variable holding a Slack-compatible webhook URL"
        )
    elif production and not environ.get(cfg.notify.webhook_env):
        found.append(
            f"{where}: notify.webhook_env: environment variable {cfg.notify.webhook_env} is not set: the sign-off "
            f"of {production[0]} refuses without a delivered notification (unchecked: notifications reachable)"
        )
    databases = [e.name for e in cfg.environments.values() if e.has_database]
    if databases and cfg.migrations_dir.is_dir() and not local_migrations(cfg.migrations_dir):
        found.append(
            f"{where}: app.migrations: no migration files in {cfg.migrations_dir}: the migrate step of {databases[0]} "
            "fails closed (nothing applied, nothing to verify); add the first one (`supabase migration new <name>`)"
        )
    fly = [e.name for e in cfg.environments.values() if e.platform == "fly"]
    if fly and not any(environ.get(t) for t in FLY_TOKENS):
        found.append(
            f"{where}: environments.{fly[0]}.platform: fly needs a Fly.io token: set FLY_API_TOKEN "
            "(`fly tokens create deploy`)"
        )
    routes = routes_of(cfg.app_source)
    path = cfg.browser.dashboard_path
    if routes is not None and not routes_path(routes, path):
        shown = ", ".join(routes[:8]) + (", ..." if len(routes) > 8 else "")
        found.append(
            f"{where}: browser.dashboard_path: the app routes no {path!r} (its routes: {shown}); the browser gate "
            "would open a 404 page"
        )
    shopify = [e for e in cfg.environments.values() if _is_shopify_admin(e.admin_url)]
    if shopify:
        layout = scan(cfg.app_source)
        if not layout.embedded:
            env = shopify[0]
            found.append(
                f"{where}: environments.{env.name}.admin_url: {env.admin_url} is a Shopify Admin page, but the app "
                f"in {cfg.app_source} is not embedded (no shopify.app.toml, no Shopify app package): the dashboard "
                "would never load in its frame; drop admin_url (the gate then visits the app directly)"
            )
    return found


def _is_shopify_admin(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h.lstrip(".") or host.endswith(h) for h in _SHOPIFY_ADMIN_HOSTS)
