"""What gates init reads from a team's repository: React Router 7 routes, anon-readable tables, .gitignore lines."""

from __future__ import annotations

from pathlib import Path

from gates.checks.repolayout import anon_readable_tables, routes_of, routes_path
from gates.release.init import ignore_lines


def _touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")


def test_file_routes_follow_flat_routes_conventions(tmp_path: Path) -> None:
    """Dots are slashes, _index is the index, $x a param, $ a splat, _x a pathless layout, folder/route.tsx its folder."""
    _touch(
        tmp_path / "app" / "routes",
        "_index.tsx", "app._index.tsx", "app.orders.$id.tsx", "auth.$.tsx", "_auth.login.tsx",
        "api.health[.]json.ts", "settings/route.tsx", "settings/form.tsx", "README.md",
    )  # fmt: skip
    assert routes_of(tmp_path) == ("/", "/api/health.json", "/app", "/app/orders/:id", "/auth/*", "/login", "/settings")


def test_configured_routes_and_no_routes_at_all(tmp_path: Path) -> None:
    """app/routes.ts names its routes; an app without either form says nothing (None), never a guess."""
    assert routes_of(tmp_path) is None
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "routes.ts").write_text('export default [index("a.tsx"), route("app/:shop", "b.tsx")];\n')
    assert routes_of(tmp_path) == ("/", "/app/:shop")


def test_a_path_is_routed_through_params_and_splats() -> None:
    """:param matches one segment, * the rest; a query string is not part of the path."""
    routes = ("/", "/app/:shop", "/docs/*")
    assert routes_path(routes, "/app/acme?tab=1") and routes_path(routes, "/docs/a/b") and routes_path(routes, "/")
    assert not routes_path(routes, "/app") and not routes_path(routes, "/dashboard")


def test_only_select_policies_using_true_for_anon_or_public_count(tmp_path: Path) -> None:
    """A `using (true)` SELECT for anon (or no role: PUBLIC) counts; authenticated only, or a real condition, does not."""
    (tmp_path / "1_init.sql").write_text(
        "create policy a on tiles for select to anon using (true);\n"
        'create policy "b c" on app.ads for select using ( true );\n'
        "create policy d on public.own for select to authenticated using (true);\n"
        "create policy e on public.rows for select to anon using (owner = auth.uid());\n"
        "create policy f on public.writes for insert to anon with check (true);\n"
    )
    assert anon_readable_tables(tmp_path) == ("app.ads", "public.tiles")


def test_gitignore_lines_are_added_once(tmp_path: Path) -> None:
    """Missing lines are appended (the file created if need be); a line already there, with or without slashes, is not."""
    gitignore = tmp_path / ".gitignore"
    gitignore.write_text("node_modules\n/.gates")
    assert ignore_lines(gitignore) == ["reports/", "supabase/.temp/"]
    assert ignore_lines(gitignore) == []
    assert gitignore.read_text().splitlines() == [
        "node_modules", "/.gates", "# gates: its local state and release records", "reports/", "supabase/.temp/"
    ]  # fmt: skip
    fresh = tmp_path / "new" / ".gitignore"
    fresh.parent.mkdir()
    assert ignore_lines(fresh) == [".gates/", "reports/", "supabase/.temp/"]
