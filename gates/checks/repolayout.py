"""What a team's repository already says about releasing its app, read as data for `gates init`.

package.json (scripts, engines, dependencies, lockfile), fly.toml / fly.<env>.toml (apps, strategy,
the HTTP checks' paths), supabase/config.toml ([api] schemas), the migrations folder (Supabase's,
or drizzle's SQL), the routes of a React Router 7 app (app/routes.ts, else the file routes of
app/routes/), whether it is embedded in Shopify Admin (shopify.app.toml, a Shopify app package),
the workflows, and the tables its migrations open to anon on purpose. Pure readers: nothing is
written, nothing is run; what cannot be told is None, never a guess presented as a fact.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gates.checks.packagejson import LOCKFILES, Package, lockfiles, read_package
from gates.core.flyconfig import service_checks

SHOPIFY_PACKAGES = ("@shopify/shopify-app-react-router", "@shopify/shopify-app-remix", "@shopify/app-bridge-react")
_HEALTH = re.compile(r"(^|[/.-])(health|healthz|healthcheck|up|ready|readyz)$")
_NOT_A_PAGE = re.compile(r"^/(api|auth|webhooks|health|healthz|assets)(/|$)")
_MIGRATION = re.compile(r"^\d+_.+\.sql$")


@dataclasses.dataclass(frozen=True)
class NodeApp:
    """How a Node app builds and starts, from its package.json."""

    manager: str  # npm | pnpm | yarn
    build: str  # "" when it has no build script
    start: str
    engines_node: str | None
    dependencies: frozenset[str]


@dataclasses.dataclass(frozen=True)
class FlyApp:
    """One fly.toml: the environment it deploys, its app, strategy and the paths its checks ask."""

    env: str
    file: str  # relative to the repository
    app: str
    strategy: str
    check_paths: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Layout:
    root: Path
    name: str
    node: NodeApp | None
    fly: tuple[FlyApp, ...]
    exposed_schemas: tuple[str, ...]  # () when supabase/config.toml says nothing
    migrations: str  # relative folder; "" when none was found
    migrations_kind: str  # supabase | drizzle | sql | ""
    routes: tuple[str, ...] | None  # None: the app's routes cannot be read
    embedded: str  # why the app is embedded in Shopify Admin; "": it is not
    shopify_handle: str
    shopify_store: str
    workflows: tuple[str, ...]
    anon_tables: tuple[str, ...]  # tables a migration gives anon a `using (true)` SELECT policy on
    github_repository: str

    @property
    def health_paths(self) -> tuple[str, ...]:
        """The fly checks' paths, then the routes that look like health endpoints; () when none is known."""
        found = [p for fly in self.fly for p in fly.check_paths]
        routed = [r for r in self.routes or () if ":" not in r and _HEALTH.search(r)]
        found += sorted(
            routed, key=lambda r: (r.count("/"), r)
        )  # /health before /api/x/health: readiness asks the first
        return tuple(dict.fromkeys(found))

    @property
    def dashboard_path(self) -> str | None:
        """``/app`` when routed (Shopify's template), else the first page route that is not an API or health
        route, else ``/``; None when the routes cannot be read."""
        if self.routes is None:
            return None
        pages = [r for r in self.routes if ":" not in r and "*" not in r and not _NOT_A_PAGE.match(r)]
        if "/app" in pages:
            return "/app"
        return next((r for r in pages if r != "/"), "/")


def scan(root: Path) -> Layout:
    """Everything ``root`` (a team's repository) says about releasing its app."""
    package, _ = read_package(root / "package.json") if (root / "package.json").is_file() else (None, "")
    node = _node_app(root, package)
    deps = node.dependencies if node else frozenset()
    handle, store, why = _shopify(root, deps)
    migrations, kind = _migrations(root)
    name = str(package.data.get("name") or "") if package else ""
    return Layout(
        root=root,
        name=_slug(name.rpartition("/")[2] or root.name),
        node=node,
        fly=_fly_apps(root),
        exposed_schemas=_schemas(root),
        migrations=migrations,
        migrations_kind=kind,
        routes=routes_of(root),
        embedded=why,
        shopify_handle=handle,
        shopify_store=store,
        workflows=_workflows(root),
        anon_tables=anon_readable_tables(root / migrations) if migrations else (),
        github_repository=_github_repository(root),
    )


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "app"


def _node_app(root: Path, package: Package | None) -> NodeApp | None:
    if package is None:
        return None
    found = lockfiles(root)
    manager = package.declared_manager or next((m for m in LOCKFILES if m in found), "npm")
    scripts = package.scripts
    install = {
        "npm": "npm ci" if "npm" in found else "npm install",
        "pnpm": "pnpm install --frozen-lockfile",
        "yarn": "yarn install --immutable",
        "bun": "bun install --frozen-lockfile",
    }.get(manager, "npm install")
    run = "npm run" if manager == "npm" else manager
    build = f"{install} && {run} build" if "build" in scripts else install
    start = "npm start" if manager == "npm" else f"{manager} start"
    deps: set[str] = set()
    for key in ("dependencies", "devDependencies"):
        table = package.data.get(key)
        if isinstance(table, Mapping):
            deps.update(str(k) for k in table)
    return NodeApp(manager, build, start, package.engines_node, frozenset(deps))


def _fly_apps(root: Path) -> tuple[FlyApp, ...]:
    files = sorted(root.glob("fly.toml")) + sorted(root.glob("fly.*.toml"))
    named = {f.name.removeprefix("fly.").removesuffix(".toml") for f in files if f.name != "fly.toml"}
    apps: list[FlyApp] = []
    for f in files:
        data = _toml(f)
        if data is None:
            continue
        env = f.name.removeprefix("fly.").removesuffix(".toml") if f.name != "fly.toml" else ""
        # The plain fly.toml is production's unless a fly.production.toml says otherwise (then: staging's).
        env = env or ("staging" if "production" in named and "staging" not in named else "production")
        deploy = data.get("deploy") if isinstance(data.get("deploy"), Mapping) else {}
        paths = tuple(str(c.get("path")) for _, c in service_checks(data) if isinstance(c, Mapping) and c.get("path"))
        strategy = str(deploy.get("strategy") or "rolling") if isinstance(deploy, Mapping) else "rolling"
        apps.append(FlyApp(env, f.name, str(data.get("app") or ""), strategy, paths))
    return tuple(apps)


def _toml(path: Path) -> dict[str, Any] | None:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None


def _schemas(root: Path) -> tuple[str, ...]:
    data = _toml(root / "supabase" / "config.toml") or {}
    api = data.get("api")
    schemas = api.get("schemas") if isinstance(api, Mapping) else None
    if isinstance(schemas, list) and schemas and all(isinstance(s, str) and s for s in schemas):
        return tuple(schemas)
    return ()


def _migrations(root: Path) -> tuple[str, str]:
    """The migrations folder: Supabase's, else drizzle's (its config's ``out``), else a folder of numbered SQL."""
    if (root / "supabase" / "migrations").is_dir():
        return "supabase/migrations", "supabase"
    for config in sorted(root.glob("drizzle.config.*")):
        m = re.search(r"\bout\s*:\s*[\"'`]\.?/?([^\"'`]+?)/?[\"'`]", _text(config))
        if m and _has_sql(root / m.group(1)):
            return m.group(1), "drizzle"
    for folder in ("drizzle", "migrations", "db/migrations", "sql/migrations"):
        if _has_sql(root / folder):
            return folder, "drizzle" if folder == "drizzle" else "sql"
    return "", ""


def _has_sql(folder: Path) -> bool:
    return folder.is_dir() and any(_MIGRATION.match(p.name) for p in folder.iterdir())


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _shopify(root: Path, deps: frozenset[str]) -> tuple[str, str, str]:
    """(app handle, dev store handle, why it is embedded) -- ("", "", "") for an app Shopify does not embed."""
    files = sorted(root.glob("shopify.app*.toml"))
    data = (_toml(files[0]) or {}) if files else {}
    build = data.get("build") if isinstance(data.get("build"), Mapping) else {}
    store_url = str(build.get("dev_store_url") or "") if isinstance(build, Mapping) else ""
    store = store_url.removeprefix("https://").split(".myshopify.com")[0] if store_url else ""
    handle = _slug(str(data.get("handle") or data.get("name") or "")) if data else ""
    package = next((p for p in SHOPIFY_PACKAGES if p in deps), "")
    why = f"{files[0].name}" if files else (f"package.json depends on {package}" if package else "")
    if data.get("embedded") is False:  # a Shopify app that opens outside the Admin
        why = ""
    return (handle if handle != "app" else ""), store, why


def _workflows(root: Path) -> tuple[str, ...]:
    folder = root / ".github" / "workflows"
    if not folder.is_dir():
        return ()
    return tuple(f".github/workflows/{p.name}" for p in sorted(folder.iterdir()) if p.suffix in (".yml", ".yaml"))


def _github_repository(root: Path) -> str:
    """owner/name of the ``origin`` remote when it is on github.com (read from .git/config, nothing run)."""
    text = _text(root / ".git" / "config")
    m = re.search(r'\[remote "origin"\][^\[]*?url\s*=\s*\S*github\.com[:/]([\w.-]+/[\w.-]+?)(?:\.git)?\s', text + "\n")
    return m.group(1) if m else ""


# ---------------------------------------------------------------------------
# Routes of a React Router 7 app


def routes_of(root: Path) -> tuple[str, ...] | None:
    """The URL paths the app routes (params as ``:name``, splats as ``*``); None when it is not a React
    Router 7 app whose routes can be read (app/routes.ts naming them, or file routes in app/routes/)."""
    app = root / "app"
    config = next((p for p in (app / "routes.ts", app / "routes.js", app / "routes.tsx") if p.is_file()), None)
    text = _text(config) if config else ""
    if config is not None and "flatRoutes(" not in text:
        return _configured_routes(text)
    folder = app / "routes"
    if not folder.is_dir():
        return None
    return tuple(sorted({_file_route(p, folder) for p in folder.rglob("*") if _is_route_file(p, folder)}))


def _configured_routes(text: str) -> tuple[str, ...]:
    found = ["/" for _ in re.finditer(r"\bindex\s*\(", text)]
    found += ["/" + m.group(1).strip("/") for m in re.finditer(r"\broute\s*\(\s*[\"'`]([^\"'`]*)[\"'`]", text)]
    return tuple(sorted(set(found)))


def _is_route_file(path: Path, folder: Path) -> bool:
    if path.suffix not in (".ts", ".tsx", ".js", ".jsx", ".mdx") or not path.is_file():
        return False
    depth = len(path.relative_to(folder).parts)
    return depth == 1 or (depth == 2 and path.stem == "route")


def _file_route(path: Path, folder: Path) -> str:
    """flatRoutes' convention: dots are slashes, ``_index`` the index, ``$x`` a param, ``_x`` a pathless
    layout, a trailing ``_`` opts out of its parent's layout; ``folder/route.tsx`` is ``folder``."""
    stem = path.relative_to(folder).parts[0]
    stem = stem if path.stem == "route" else stem.rsplit(".", 1)[0]
    parts: list[str] = []
    for segment in re.split(r"\.(?![^\[]*\])", stem):
        segment = segment.replace("[", "").replace("]", "").rstrip("_")
        if segment in ("_index", "index", "route") or segment.startswith("_") or not segment:
            continue
        parts.append("*" if segment == "$" else ":" + segment[1:] if segment.startswith("$") else segment)
    return "/" + "/".join(parts)


def routes_path(routes: Sequence[str], path: str) -> bool:
    """Whether ``path`` is served by one of ``routes`` (a ``:param`` matches a segment, ``*`` the rest)."""
    want = [s for s in path.split("?")[0].split("/") if s]
    for route in routes:
        have = [s for s in route.split("/") if s]
        if have and have[-1] == "*" and len(want) >= len(have) - 1:
            have, rest = have[:-1], want[: len(have) - 1]
        else:
            rest = want
        if len(have) == len(rest) and all(h.startswith(":") or h == w for h, w in zip(have, rest, strict=True)):
            return True
    return False


# ---------------------------------------------------------------------------
# Tables the migrations open to anon on purpose

_POLICY = re.compile(r"create\s+policy\s+(?:\"[^\"]+\"|\S+)\s+on\s+([\w.\"]+)(.*?);", re.IGNORECASE | re.DOTALL)


def anon_readable_tables(folder: Path) -> tuple[str, ...]:
    """``schema.table`` of every table a migration gives anon (or PUBLIC) a SELECT policy ``using (true)``."""
    if not folder.is_dir():
        return ()
    found: set[str] = set()
    for path in sorted(folder.glob("*.sql")):
        for m in _POLICY.finditer(_text(path)):
            table, rest = m.group(1).replace('"', ""), m.group(2).lower()
            if not re.search(r"\bfor\s+select\b", rest) or not re.search(r"using\s*\(\s*true\s*\)", rest):
                continue
            roles = re.search(r"\bto\s+(.*?)(?:\busing\b|\bwith\b|$)", rest, re.DOTALL)
            if roles is None or re.search(r"\b(anon|public)\b", roles.group(1)):
                found.add(table if "." in table else f"public.{table}")
    return tuple(sorted(found))
