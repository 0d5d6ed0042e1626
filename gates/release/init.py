"""`gates init`: a team's first gates.toml, written from what its repository already says.

The layout (gates.checks.repolayout) becomes a commented config: each value says where it was read
from, or that it is a default to check. Fly apps become Fly environments; without any, staging
and production run on the local platform on ports free when init ran. The state and reports gates
writes are added to .gitignore (else every release names them as uncommitted changes). An existing
config is never overwritten: nothing is written at all then.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from gates.checks.repolayout import Layout, scan
from gates.core.errors import UsageError
from gates.core.ports import free_port

IGNORED = (".gates/", "reports/", "supabase/.temp/")
WEBHOOK_ENV = "SLACK_WEBHOOK_URL"
NEXT = ("gates doctor", "gates config check", "gates deploy --first-release")


def _q(value: str) -> str:
    return json.dumps(value)


def _list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def render(layout: Layout, port: Callable[[], int] = free_port) -> str:
    """The commented gates.toml of ``layout`` (``port`` picks the local platform's ports)."""
    out = [
        f"# gates.toml written by `gates init` from what {layout.root.name}/ holds; every path is relative to this",
        "# folder. Secrets are never written here: the config names the environment variables holding them.",
        "# `gates config check` says what a release would refuse; `gates --help` lists the commands.",
        "",
        "[app]",
        f"name = {_q(layout.name)}",
        'source = "."',
    ]
    out += _app_lines(layout)
    out.append("")
    out += _fly_environments(layout) if layout.fly else _local_environments(layout, port)
    out += _browser_lines(layout)
    out += _database_lines(layout)
    out += [
        "[notify]",
        "# Release notifications (a Slack-compatible incoming webhook). Production's sign-off refuses without a",
        '# delivered one ("notifications reachable"): set this variable where gates deploy runs.',
        f"webhook_env = {_q(WEBHOOK_ENV)}",
        "",
        "[monitor]",
        "# Alerts of the monitoring window go to the same channel.",
        f"webhook_env = {_q(WEBHOOK_ENV)}",
        '# window = "5m"                 # a monitoring window after the production gate (DEVOPS-005/012)',
        "",
    ]
    if layout.github_repository:
        out += ["[ci]", "# CI green on the commit released (preflight): read from .git/config's origin.",
                f"repository = {_q(layout.github_repository)}", "branch = \"main\"", ""]  # fmt: skip
    if layout.workflows:
        out.append("# The preflight validates these workflows (GitHub's schema, real fly commands):")
        out += [f"#   {w}" for w in layout.workflows]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _app_lines(layout: Layout) -> list[str]:
    out: list[str] = []
    if layout.migrations:
        out.append(f"migrations = {_q(layout.migrations)}          # {layout.migrations_kind} SQL migrations, found")
    else:
        out.append('migrations = "supabase/migrations"   # none found: created empty, add your SQL migrations here')
    health = layout.health_paths
    if health:
        out.append(f"health_paths = {_list(health)}   # from the fly.toml checks and the app's routes")
    else:
        out.append('health_paths = ["/health"]         # no health route found: the app must answer 2xx here')
    if layout.exposed_schemas:
        out.append(f"exposed_schemas = {_list(layout.exposed_schemas)}   # supabase/config.toml [api] schemas")
    node = layout.node
    if node is not None:
        engines = f", engines.node {node.engines_node}" if node.engines_node else ""
        out += [
            f"# How the local platform builds and starts it (package.json scripts, {node.manager}{engines}):",
            f"build = {_q(node.build)}",
            f"start = {_q(node.start)}",
        ]
    return out


def _local_environments(layout: Layout, port: Callable[[], int]) -> list[str]:
    out = ["# No fly.toml: staging and production run on this machine's local platform (HAProxy in front of the",
           "# app's processes, a local Postgres). The ports were free when gates init ran."]  # fmt: skip
    for name in ("staging", "production"):
        out += [f"[environments.{name}]", 'platform = "local"', f'url = "http://127.0.0.1:{port()}"']
        if layout.embedded:
            out.append(f'admin_url = "http://127.0.0.1:{port()}/"   # the local Admin stand-in embedding the app')
        out += ["instances = 2", 'strategy = "rolling"', ""]
    out += ["[local]", 'state_dir = ".gates"', f"postgres_port = {port()}", ""]
    return out


def _fly_environments(layout: Layout) -> list[str]:
    out: list[str] = []
    if not any(fly.env == "staging" for fly in layout.fly):
        out += ["# No fly.staging.toml: no staging environment, so no staging gate and no rollback drill before",
                "# production. Add one (fly.staging.toml, its own Fly app) and an [environments.staging] like this.", ""]  # fmt: skip
    for fly in layout.fly:
        out += [
            f"[environments.{fly.env}]   # {fly.file}",
            'platform = "fly"',
            f"app = {_q(fly.app or layout.name + '-' + fly.env)}",
            f"fly_config = {_q(fly.file)}",
            f'url = "https://{fly.app or layout.name}.fly.dev"   # Fly\'s hostname; your own domain if it has one',
            f"database_url_env = {_q(fly.env.upper().replace('-', '_') + '_DB_URL')}   # the variable holding its URL",
            f"strategy = {_q(fly.strategy)}",
            "instances = 2",
        ]
        if layout.embedded:
            out.append(f"store = {_q(layout.shopify_store or 'your-store')}   # the Shopify store's handle")
        out.append("")
    return out


def _browser_lines(layout: Layout) -> list[str]:
    out = ["[browser]"]
    path = layout.dashboard_path
    if path is None:
        out.append('dashboard_path = "/app"   # the routes could not be read: the page the browser gate opens')
    else:
        out.append(f"dashboard_path = {_q(path)}   # routed by the app")
    if layout.embedded and layout.fly:
        handle = layout.shopify_handle or layout.name
        out += [
            f"# Embedded in Shopify Admin ({layout.embedded}): the gate opens the dashboard inside the Admin.",
            f'admin_url = "https://admin.shopify.com/store/{{store}}/apps/{handle}"',
            'admin_origins = ["https://admin.shopify.com", "https://*.myshopify.com"]',
            'storage_state_env = "SHOPIFY_ADMIN_STATE"   # path of a logged-in Playwright storage state (a secret)',
        ]
    elif layout.embedded:
        out.append(f"# Embedded in Shopify Admin ({layout.embedded}): locally, in the Admin stand-in (admin_url).")
    else:
        out.append("# Not embedded in Shopify Admin (no shopify.app.toml or Shopify app package): visited directly.")
    out.append("# tiles = []   # the data-tile names the dashboard must show")
    return [*out, ""]


def _database_lines(layout: Layout) -> list[str]:
    if not layout.anon_tables:
        return []
    return [
        "[database]",
        "# Tables the migrations give anon a `using (true)` SELECT policy: readable by anyone with the anon key.",
        "# Keep only those meant to be public; anon reading any other table fails the database gate.",
        f"public_tables = {_list(layout.anon_tables)}",
        "",
    ]


def ignore_lines(gitignore: Path) -> list[str]:
    """Add what gates writes to ``gitignore`` (created when missing); the lines added (none already there)."""
    text = gitignore.read_text() if gitignore.is_file() else ""
    have = {line.strip().strip("/") for line in text.splitlines()}
    added = [entry for entry in IGNORED if entry.strip("/") not in have]
    if added:
        lead = "" if not text or text.endswith("\n") else "\n"
        gitignore.write_text(text + lead + "# gates: its local state and release records\n" + "\n".join(added) + "\n")
    return added


def init(root: Path, config_name: str = "gates.toml") -> list[str]:
    """Write ``root/config_name`` and the .gitignore lines; the lines to print. UsageError (nothing written)
    when a config is already there."""
    target = root / config_name
    if target.exists():
        raise UsageError(
            f"{target}: already exists; gates init never overwrites a config (check it: gates config check)"
        )
    existing = root / "pyproject.toml"
    if config_name == "gates.toml" and existing.is_file() and "[tool.gates]" in existing.read_text(errors="replace"):
        raise UsageError(f"{existing}: already holds [tool.gates]; gates init never overwrites a config")
    layout = scan(root)
    text = render(layout)
    said = []
    if not layout.migrations:
        (root / "supabase" / "migrations").mkdir(parents=True, exist_ok=True)
        said.append(
            "gates: created supabase/migrations/ (empty): add the app's first migration there before gates deploy "
            "(`supabase migration new <name>`); gates config check says so until then"
        )
    target.write_text(text)
    said.insert(0, f"gates: wrote {target} ({_found(layout)})")
    added = ignore_lines(root / ".gitignore")
    said.append(
        f"gates: .gitignore: added {', '.join(added)}"
        if added
        else "gates: .gitignore already ignores .gates/, reports/ and supabase/.temp/"
    )
    said += ["", "Next:", *(f"  {command}" for command in NEXT)]
    return said


def _found(layout: Layout) -> str:
    found = [f"Fly apps: {', '.join(f.app or f.file for f in layout.fly)}" if layout.fly else "local platform"]
    if layout.node:
        found.append(f"{layout.node.manager} build and start")
    if layout.migrations:
        found.append(f"migrations in {layout.migrations}")
    found.append(f"embedded ({layout.embedded})" if layout.embedded else "not embedded")
    if layout.workflows:
        found.append(f"{len(layout.workflows)} workflows")
    return "; ".join(found)
