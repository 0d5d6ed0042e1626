"""`gates init` in team repositories built here, `gates config check` on what it wrote, and `gates doctor`
with or without a config: the first ten minutes of a team that just installed pytest-gates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.selftests.demo import REPO

DRIZZLE_ROUTES = """import { type RouteConfig, index, route } from "@react-router/dev/routes";
export default [
  index("routes/home.tsx"),
  route("dashboard", "routes/dashboard.tsx"),
  route("healthz", "routes/healthz.ts"),
  route("api/orders/:id", "routes/api.orders.$id.ts"),
] satisfies RouteConfig;
"""
SEED_FLY = """app = "{app}"
primary_region = "iad"
[deploy]
  strategy = "rolling"
[http_service]
  internal_port = 3000
  min_machines_running = 2
  [[http_service.checks]]
    interval = "15s"
    timeout = "5s"
    path = "/health"
"""
SEED_WORKFLOW = """name: deploy
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: fly deploy --app hotdash-staging --config fly.staging.toml
"""
POLICY_SQL = """create table public.orders (id bigint primary key, total bigint);
alter table public.orders enable row level security;
create policy orders_read on public.orders for select to anon, authenticated using (true);
create table public.secrets (id bigint primary key);
alter table public.secrets enable row level security;
create policy secrets_own on public.secrets for select to authenticated using (auth.uid() is not null);
"""
WEBHOOK = {"SLACK_WEBHOOK_URL": "http://127.0.0.1:9/hook"}


def cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The gates command as a team runs it, in its repository (no GATES_* of this run leaking in)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATES_")}
    return subprocess.run(
        [sys.executable, "-m", "gates.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={**base, **(env or {})},
    )  # fmt: skip


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def drizzle_app(root: Path) -> Path:
    """A Node app on React Router 7 with drizzle's SQL migrations (drizzle.config.ts -> ./drizzle)."""
    package = {"name": "@team/orders", "scripts": {"build": "react-router build", "start": "react-router-serve ./build/server/index.js"},
               "engines": {"node": ">=20"}, "dependencies": {"drizzle-orm": "0.44.0", "react-router": "7.18.4"}}  # fmt: skip
    return write(root, {
        "package.json": json.dumps(package), "package-lock.json": "{}",
        "drizzle.config.ts": 'export default { schema: "./app/db/schema.ts", out: "./drizzle", dialect: "postgresql" };\n',
        "drizzle/0000_orders.sql": POLICY_SQL, "drizzle/meta/_journal.json": "{}",
        "app/routes.ts": DRIZZLE_ROUTES,
    })  # fmt: skip


def seed_app(root: Path) -> Path:
    """The seed's shape: a Shopify-embedded React Router 7 app on Fly (staging and production) with Supabase."""
    package = {"name": "hotdash", "scripts": {"build": "react-router build", "start": "react-router-serve ./build/server/index.js"},
               "dependencies": {"@shopify/shopify-app-react-router": "1.0.0", "react-router": "7.18.4"}}  # fmt: skip
    return write(root, {
        "package.json": json.dumps(package), "package-lock.json": "{}",
        "fly.toml": SEED_FLY.format(app="hotdash-app"), "fly.staging.toml": SEED_FLY.format(app="hotdash-staging"),
        "shopify.app.toml": 'name = "HotDash"\nhandle = "hotdash"\n[build]\ndev_store_url = "hotrodan.myshopify.com"\n',
        "supabase/config.toml": '[api]\nschemas = ["public", "analytics"]\n',
        "supabase/migrations/20250101000000_orders.sql": POLICY_SQL,
        "app/routes.ts": 'import { flatRoutes } from "@react-router/fs-routes";\nexport default flatRoutes();\n',
        "app/routes/app._index.tsx": "", "app/routes/app.settings.tsx": "", "app/routes/health.ts": "",
        "app/routes/auth.$.tsx": "", "app/routes/webhooks.app.uninstalled.tsx": "",
        ".github/workflows/deploy.yml": SEED_WORKFLOW, ".gitignore": "node_modules\n/.gates\n",
    })  # fmt: skip


def demo_app(root: Path) -> Path:
    """examples/dashboard, the demo this repository releases, as a repository of its own."""
    shutil.copytree(REPO / "examples" / "dashboard", root, ignore=shutil.ignore_patterns("node_modules", "build", ".react-router"))
    return root


def test_a_node_app_with_drizzle_migrations_gets_a_local_config_that_checks_out(tmp_path):
    """drizzle's folder, the healthz route, /dashboard, npm's build and start, the anon-readable table: then config check passes."""
    repo = drizzle_app(tmp_path / "orders")
    done = cli(repo, "init")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-3:] == ["  gates doctor", "  gates config check", "  gates deploy --first-release"]
    cfg = tomllib.loads((repo / "gates.toml").read_text())
    assert cfg["app"]["name"] == "orders" and cfg["app"]["migrations"] == "drizzle"
    assert cfg["app"]["health_paths"] == ["/healthz"] and cfg["browser"]["dashboard_path"] == "/dashboard"
    assert cfg["app"]["build"] == "npm ci && npm run build" and cfg["app"]["start"] == "npm start"
    assert {e["platform"] for e in cfg["environments"].values()} == {"local"} and "admin_url" not in cfg["environments"]["staging"]
    assert cfg["database"]["public_tables"] == ["public.orders"]  # secrets' policy is not `using (true)` for anon
    assert (repo / ".gitignore").read_text().splitlines()[-3:] == [".gates/", "reports/", "supabase/.temp/"]
    checked = cli(repo, "config", "check", env=WEBHOOK)
    assert checked.returncode == 0, checked.stderr


def test_a_fly_supabase_shopify_app_like_the_seeds_gets_fly_environments_that_check_out(tmp_path):
    """fly.toml -> production, fly.staging.toml -> staging, [api] schemas, the Admin URL of the Shopify app, /app and /health."""
    repo = seed_app(tmp_path / "hotdash")
    done = cli(repo, "init")
    assert done.returncode == 0, done.stderr
    cfg = tomllib.loads((repo / "gates.toml").read_text())
    production, staging = cfg["environments"]["production"], cfg["environments"]["staging"]
    assert (production["app"], production["fly_config"], production["database_url_env"]) == ("hotdash-app", "fly.toml", "PRODUCTION_DB_URL")
    assert (staging["app"], staging["fly_config"], staging["store"]) == ("hotdash-staging", "fly.staging.toml", "hotrodan")
    assert cfg["app"]["exposed_schemas"] == ["public", "analytics"] and cfg["app"]["health_paths"] == ["/health"]
    assert cfg["browser"]["dashboard_path"] == "/app"
    assert cfg["browser"]["admin_url"] == "https://admin.shopify.com/store/{store}/apps/hotdash"
    assert ".github/workflows/deploy.yml" in (repo / "gates.toml").read_text()
    assert (repo / ".gitignore").read_text().count(".gates") == 1  # "/.gates" was already there
    secrets = {**WEBHOOK, "STAGING_DB_URL": "postgresql://x@h/s", "PRODUCTION_DB_URL": "postgresql://x@h/p", "FLY_API_TOKEN": "t"}
    checked = cli(repo, "config", "check", env=secrets)
    assert checked.returncode == 0, checked.stderr
    unset = cli(repo, "config", "check", env={**secrets, "FLY_API_TOKEN": "", "SLACK_WEBHOOK_URL": ""})
    lines = unset.stderr.splitlines()
    assert unset.returncode == 2 and len(lines) == 2, unset.stderr
    assert "notify.webhook_env: environment variable SLACK_WEBHOOK_URL is not set" in lines[0]
    assert "fly needs a Fly.io token: set FLY_API_TOKEN" in lines[1]


def test_the_demo_itself_gets_its_health_paths_dashboard_and_public_tables(tmp_path):
    """examples/dashboard: /health first (readiness asks the first), /app, npm, its two public tables; config check passes."""
    repo = demo_app(tmp_path / "dashboard")
    assert cli(repo, "init").returncode == 0
    cfg = tomllib.loads((repo / "gates.toml").read_text())
    assert cfg["app"]["health_paths"] == ["/health", "/api/ads/health", "/api/analytics/health"]
    assert cfg["database"]["public_tables"] == ["public.ad_campaigns", "public.dashboard_tiles"]
    checked = cli(repo, "config", "check", env=WEBHOOK)
    assert checked.returncode == 0, checked.stderr


def test_init_never_overwrites_a_config_and_changes_nothing(tmp_path):
    """A second init exits 2 naming the config; the config and .gitignore stay as they were."""
    repo = drizzle_app(tmp_path / "orders")
    assert cli(repo, "init").returncode == 0
    before = {p: (repo / p).read_text() for p in ("gates.toml", ".gitignore")}
    again = cli(repo, "init")
    assert again.returncode == 2 and again.stderr.strip().splitlines() == [
        f"gates: error: {repo / 'gates.toml'}: already exists; gates init never overwrites a config (check it: gates config check)"
    ]
    assert {p: (repo / p).read_text() for p in before} == before


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (('dashboard_path = "/dashboard"', 'dashboard_path = "/admin"'),
         "browser.dashboard_path: the app routes no '/admin' (its routes: /, /api/orders/:id, /dashboard, /healthz)"),
        (('webhook_env = "SLACK_WEBHOOK_URL"\n\n[monitor]', 'webhook_env = ""\n\n[monitor]'),
         "notify.webhook_env: empty: the sign-off of production refuses without a notification channel"),
    ],
)  # fmt: skip
def test_config_check_says_what_the_release_would_refuse(tmp_path, edit, words):
    """A dashboard path the app does not route, production without a channel: exit 2 naming the key."""
    repo = drizzle_app(tmp_path / "orders")
    assert cli(repo, "init").returncode == 0
    text = (repo / "gates.toml").read_text()
    assert edit[0] in text
    (repo / "gates.toml").write_text(text.replace(*edit))
    checked = cli(repo, "config", "check", env=WEBHOOK)
    assert checked.returncode == 2 and words in checked.stderr, checked.stderr
    assert "Traceback" not in checked.stderr


def test_config_check_refuses_a_shopify_admin_for_an_app_shopify_does_not_embed(tmp_path):
    """The seed's config with its Shopify app gone (no shopify.app.toml, no Shopify package): admin_url is named, exit 2."""
    repo = seed_app(tmp_path / "hotdash")
    assert cli(repo, "init").returncode == 0
    (repo / "shopify.app.toml").unlink()
    write(repo, {"package.json": json.dumps({"name": "hotdash", "scripts": {"start": "react-router-serve"}})})
    secrets = {**WEBHOOK, "STAGING_DB_URL": "postgresql://x@h/s", "PRODUCTION_DB_URL": "postgresql://x@h/p", "FLY_API_TOKEN": "t"}
    checked = cli(repo, "config", "check", env=secrets)
    assert checked.returncode == 2, checked.stderr
    assert (
        "environments.production.admin_url: https://admin.shopify.com/store/hotrodan/apps/hotdash is a Shopify Admin "
        "page, but the app" in checked.stderr
    )


def test_doctor_before_any_config_names_each_tool_and_how_to_install_a_missing_one(tmp_path):
    """No config: Postgres, HAProxy, Chromium, the Supabase CLI, squawk; supabase missing says the install that
    leaves package.json alone and exits 2; no search path is named twice."""
    empty = tmp_path / "team"
    empty.mkdir()
    env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin", "/usr/sbin"]),
           "HOME": str(tmp_path / "home"), "SUPABASE_BIN": ""}  # fmt: skip
    said = cli(empty, "doctor", env=env)
    assert said.returncode == 2, said.stdout + said.stderr
    tools = [line.split(":")[0] for line in said.stdout.splitlines()[1:]]
    assert tools == ["postgres", "haproxy", "chromium", "supabase", "squawk"], said.stdout
    (missing,) = [line for line in said.stdout.splitlines() if "MISSING" in line]
    assert "npm install --prefix ~/.gates/tools supabase@3.1.0" in missing
    searched = missing.split("searched ")[1].split(")")[0].split(", ")
    assert len(searched) == len(set(searched)) == 3, searched
    installed = write(tmp_path / "home" / ".gates" / "tools" / "node_modules" / ".bin", {"supabase": "#!/bin/sh\necho 3.1.0\n"})
    (installed / "supabase").chmod(0o755)
    assert cli(empty, "doctor", env=env).returncode == 0


def test_doctor_with_a_fly_config_asks_for_flyctl_and_hadolint(tmp_path):
    """A Fly environment adds flyctl (missing here: exit 2 with Fly's installer) and hadolint."""
    repo = seed_app(tmp_path / "hotdash")
    assert cli(repo, "init").returncode == 0
    said = cli(repo, "doctor", env={"FLY_BIN": ""})
    lines = said.stdout.splitlines()
    assert said.returncode == 2 and any(line.startswith("hadolint: ") and "MISSING" not in line for line in lines), said.stdout
    assert [line for line in lines if line.startswith("flyctl: MISSING: not found: install it with `curl -L https://fly.io/install.sh")]


def test_an_app_without_migrations_gets_an_empty_folder_and_config_check_says_the_release_would_fail(tmp_path):
    """No migrations anywhere: init creates supabase/migrations and says to add one; config check names app.migrations
    (the migrate step fails closed on a folder with nothing to apply), exit 2."""
    repo = write(tmp_path / "bare", {"package.json": json.dumps({"name": "bare", "scripts": {"start": "node server.js"}})})
    done = cli(repo, "init")
    assert done.returncode == 0 and "created supabase/migrations/ (empty): add the app's first migration" in done.stdout
    checked = cli(repo, "config", "check", env=WEBHOOK)
    assert checked.returncode == 2 and "app.migrations: no migration files in " in checked.stderr, checked.stderr
    write(repo, {"supabase/migrations/20250101000000_init.sql": "create table t (id int);\n"})
    assert cli(repo, "config", "check", env=WEBHOOK).returncode == 0
