"""The demo app: a small stand-in for a React Router 7 dashboard embedded in Shopify Admin.

Run from this folder (the local platform does, with the release's snapshot as the working directory):

    python -m uvicorn app:app --host 127.0.0.1 --port 8000

Environment:
    DATABASE_URL   the app's Postgres database (optional: without it the data routes answer errors)
    APP_RELEASE    the release number the platform deployed; every response carries it as ``X-Release``
    APP_INSTANCE   the id of this instance, reported by /health
    FRAME_ANCESTORS  space-separated origins allowed to embed the app (Shopify Admin); every response
                   carries ``Content-Security-Policy: frame-ancestors <them>`` ('none' when unset)
    ANALYTICS_REAL_DATA, FEATURE_*   feature flags ("1", "true", "yes", "on" mean on), served by /api/flags

Routes: ``/api/flags`` (the flags as booleans), ``POST /api/alerts`` (a Slack-webhook stand-in), ``/health`` (the instance itself), ``/api/ads/health``, ``/api/analytics/health`` (reads
the database), ``/app``, the dashboard page whose tiles come from ``public.dashboard_tiles``
and ``public.ad_campaigns``, and ``/signup``, a sign-up form (name, email) whose POST stores a row in
``public.signups`` and answers a page with a ``role="status"`` confirmation. Any other path answers 404 and is logged with its method and path, as a web
server logs it.

Faults, for tests that must see a gate fail. A faulty release is this folder copied with a
``faults.json`` next to this file; it is read once at start. Keys (all optional):

    "status":      {"<path>": <code>}   answer <code> with an error JSON body on that path
    "delay_ms":    {"<path>": <ms>}     wait <ms> before answering that path
    "fail_health": true                 /health answers 503, so the instance never becomes healthy
    "extra_html":  "<script>...</script>"  appended to the dashboard page (e.g. a console error)
    "empty_tiles": ["<name>"]           those tiles render with an empty value
    "stuck_loading": true               the dashboard shows its loading state forever, never a tile
    "frame_ancestors": "<sources>"      the CSP frame-ancestors sent instead of FRAME_ANCESTORS
    "x_frame_options": "<value>"        also send X-Frame-Options with that value (e.g. DENY)
    "flags_on":    ["<flag>"]           those flags read on whatever the environment says (a flag
                                        switched on in code: healthy, but it fails the production gate)
    "degraded_instances": ["<suffix>"]  an instance whose APP_INSTANCE ends with one of them answers
                                        /health 200 with {"status": "degraded"} (one sick instance of two)
    "log_env":     ["<VAR>"]            print each variable's value at start (an app that logs the
                                        secret it was given)
    "corrupt_signup_email": true        the sign-up form stores the email with the last character of
                                        its local part dropped (an off-by-one slice), yet confirms it
    "no_stylesheet": true               the dashboard page is served without its CSS (an unstyled page:
                                        every element there, no error)
    "leak_kb":     <kb>                 every request keeps <kb> KB more in a module-level list (memory
                                        that grows with requests, as a leak does)
    "slower":      {"<path>": <factor>} that path answers <factor> times slower than it would (its own
                                        time, waited again factor - 1 times)
    "banner":      "<text>"             a banner across the top of the dashboard (an intended visual change)

An unknown key stops the app at start, so a misspelt fault never passes silently as a healthy release.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import select
import threading
import time
from pathlib import Path
from typing import Any, LiteralString
from urllib.parse import parse_qs

import psycopg
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FAULT_KEYS = {
    "status",
    "delay_ms",
    "fail_health",
    "extra_html",
    "empty_tiles",
    "stuck_loading",
    "frame_ancestors",
    "x_frame_options",
    "flags_on",
    "degraded_instances",
    "log_env",
    "corrupt_signup_email",
    "no_stylesheet",
    "leak_kb",
    "slower",
    "banner",
}
RELEASE = int(os.environ.get("APP_RELEASE") or 0)
INSTANCE = os.environ.get("APP_INSTANCE", "")
# Seconds a new database connection may take: a health check must answer well within the gate's budget. Only
# a new connection pays it: queries reuse open ones (Idle below), so a busy machine, where forking a Postgres
# backend and its password exchange may take seconds, never turns "the database is reachable" into a 503.
DB_CONNECT_TIMEOUT = 2
DB_IDLE_MAX = 4  # open connections kept between requests, per process: a probe sends 4 at once


def load_faults(path: Path) -> dict[str, Any]:
    """The faults this release was built with (none when the file is absent)."""
    if not path.is_file():
        return {}
    faults = json.loads(path.read_text())
    unknown = set(faults) - FAULT_KEYS
    if unknown:
        raise SystemExit(f"{path}: unknown fault(s) {sorted(unknown)}; known: {sorted(FAULT_KEYS)}")
    return dict(faults)


FAULTS = load_faults(Path(__file__).with_name("faults.json"))
for _name in FAULTS.get("log_env", []):
    print(f"starting with {_name} set to {os.environ.get(_name, '')}", flush=True)
FRAME_ANCESTORS = FAULTS.get("frame_ancestors") or os.environ.get("FRAME_ANCESTORS", "").strip() or "'none'"
EMBEDDING_HEADERS = [("Content-Security-Policy", f"frame-ancestors {FRAME_ANCESTORS}")]
if FAULTS.get("x_frame_options"):
    EMBEDDING_HEADERS.append(("X-Frame-Options", FAULTS["x_frame_options"]))


LEAKED: list[bytearray] = []  # the leak_kb fault's memory, never let go


class FaultsAndRelease:
    """Apply the configured delay and status faults, and stamp every response with its release.

    Plain ASGI rather than BaseHTTPMiddleware: it adds nothing per request but a header, which
    keeps the app fast under the load a zero-downtime probe sends.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        started = time.perf_counter()
        if FAULTS.get("leak_kb"):
            LEAKED.append(bytearray(int(FAULTS["leak_kb"]) * 1024))
        delay = FAULTS.get("delay_ms", {}).get(path)
        if delay:
            await asyncio.sleep(delay / 1000)
        slower = FAULTS.get("slower", {}).get(path)

        async def send_with_release(message: Message) -> None:
            if message["type"] == "http.response.start":
                if slower:
                    await asyncio.sleep((slower - 1) * (time.perf_counter() - started))
                headers = MutableHeaders(scope=message)
                headers.append("X-Release", str(RELEASE))
                for name, value in EMBEDDING_HEADERS:
                    headers.append(name, value)
            await send(message)

        status = FAULTS.get("status", {}).get(path)
        if status:
            fault = JSONResponse({"status": "error", "error": "injected fault"}, status_code=status)
            await fault(scope, receive, send_with_release)
            return
        await self.app(scope, receive, send_with_release)


# ---------------------------------------------------------------------------
# Data


class DatabaseUnavailable(Exception):
    """The database is not configured, not reachable, or not migrated; the message is safe to show."""


class Idle:
    """Open database connections between requests, as an app's pool keeps them: one request uses one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conns: list[psycopg.Connection[Any]] = []

    def take(self) -> psycopg.Connection[Any] | None:
        with self._lock:
            while self._conns:
                conn = self._conns.pop()
                if not conn.closed and not conn.broken and not select.select([conn.fileno()], [], [], 0)[0]:
                    return conn
                # An idle connection the server has spoken on was ended by it (restarted, idle timeout, terminated):
                # it says nothing of the database now, a new connection does.
                conn.close()
        return None

    def give_back(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            if len(self._conns) < DB_IDLE_MAX and not conn.broken:
                self._conns.append(conn)
                return
        conn.close()


IDLE = Idle()


def connect(url: str) -> psycopg.Connection[Any]:
    # prepare_threshold=None: Supabase's transaction pooler does not keep prepared statements.
    conn = psycopg.connect(url, connect_timeout=DB_CONNECT_TIMEOUT, autocommit=True, prepare_threshold=None)
    conn.execute("set statement_timeout = '2s'")
    return conn


def run(conn: psycopg.Connection[Any], sql: LiteralString, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    cursor = conn.execute(sql, params)
    return cursor.fetchall() if cursor.description else []


def query(sql: LiteralString, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of one statement (none for a write: it commits); raise DatabaseUnavailable without ever revealing the URL."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise DatabaseUnavailable("database not configured")
    try:
        conn = IDLE.take() or connect(url)
        try:
            rows = run(conn, sql, params)
        finally:
            IDLE.give_back(conn)
        return rows
    except psycopg.OperationalError:
        raise DatabaseUnavailable("database unreachable") from None
    except psycopg.Error:
        raise DatabaseUnavailable("database query failed") from None


def tiles() -> list[tuple[str, str, str]]:
    """(name, label, value) of every dashboard tile; the campaigns tile counts active campaigns live."""
    rows = query(
        "select t.name, t.label,"
        " case when t.name = 'campaigns'"
        "  then (select count(*) from public.ad_campaigns where status = 'active')::text else t.value end"
        " from public.dashboard_tiles t order by t.position, t.name"
    )
    return [(str(name), str(label), str(value)) for name, label, value in rows]


# ---------------------------------------------------------------------------
# Routes


async def health(request: Request) -> Response:
    if FAULTS.get("fail_health"):
        return JSONResponse({"status": "error", "release": RELEASE, "instance": INSTANCE}, status_code=503)
    if any(INSTANCE.endswith(suffix) for suffix in FAULTS.get("degraded_instances", ())):
        return JSONResponse({"status": "degraded", "release": RELEASE, "instance": INSTANCE})
    return JSONResponse({"status": "ok", "release": RELEASE, "instance": INSTANCE})


FLAG_NAMES = ("ANALYTICS_REAL_DATA",)
FLAG_PREFIX = "FEATURE_"


async def flags(request: Request) -> Response:
    """What this instance believes its flags are: the named ones (off when unset) and every FEATURE_*."""
    names = {*FLAG_NAMES, *(k for k in os.environ if k.startswith(FLAG_PREFIX))}
    forced = set(FAULTS.get("flags_on", ()))
    names |= forced
    on = {n: n in forced or os.environ.get(n, "").strip().lower() in ("1", "true", "yes", "on") for n in sorted(names)}
    return JSONResponse({"flags": on, "release": RELEASE})


async def alerts(request: Request) -> Response:
    """A stand-in for a Slack incoming webhook, so the demo's alert channel can be proven: accepts JSON with text."""
    try:
        body: Any = await request.json()
    except ValueError:
        return JSONResponse({"error": "expected JSON"}, status_code=400)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return JSONResponse({"error": "expected an object with text"}, status_code=400)
    print(f"alert received: {body['text'][:300]}", flush=True)
    return Response(status_code=204)


async def ads_health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "service": "ads", "release": RELEASE})


def analytics_health(request: Request) -> Response:
    # A plain def: Starlette runs it in a thread, so a slow database never blocks the event loop.
    try:
        ((up, count),) = query("select 1, (select count(*) from public.dashboard_tiles)")
    except DatabaseUnavailable as exc:
        return JSONResponse({"status": "error", "error": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok" if up == 1 else "error", "service": "analytics", "tiles": count})


def dashboard(request: Request) -> Response:
    if FAULTS.get("stuck_loading"):
        # What a client-rendered dashboard looks like when its data call never settles: a spinner, no tile.
        return HTMLResponse(PAGE.format(release=RELEASE, tiles='<p class="loading">Loading...</p>', extra=""))
    try:
        rows = tiles()
        empty = set(FAULTS.get("empty_tiles", ()))
        body = "".join(
            tile_html(name, label, "" if name in empty else value) for name, label, value in rows
        ) or error_tile("no tiles")
    except DatabaseUnavailable as exc:
        body = error_tile(str(exc))
    page = PAGE.format(release=RELEASE, tiles=body, extra=FAULTS.get("extra_html", ""))
    if FAULTS.get("banner"):
        shown = f'<p class="banner">{html.escape(str(FAULTS["banner"]))}</p>'
        page = page.replace("<h1>Hot Dash</h1>", shown + "<h1>Hot Dash</h1>")
    if FAULTS.get("no_stylesheet"):
        page = page[: page.index("<style>")] + page[page.index("</style>") + len("</style>") :]
    return HTMLResponse(page)


def tile_html(name: str, label: str, value: str) -> str:
    return (
        f'<section class="tile" data-tile="{html.escape(name)}">'
        f'<h2 class="tile__label">{html.escape(label)}</h2>'
        f'<p class="tile__value">{html.escape(value)}</p></section>'
    )


def error_tile(reason: str) -> str:
    return (
        '<section class="tile tile--error" data-tile="dashboard">'
        '<h2 class="tile__label">Data unavailable</h2>'
        f'<p class="tile__value">{html.escape(reason)}</p></section>'
    )


async def signup(request: Request) -> Response:
    """The sign-up form; its POST stores (email, name) in public.signups and confirms with what was typed."""
    if request.method != "POST":
        return HTMLResponse(SIGNUP_PAGE.format(body=SIGNUP_FORM.format(error="")))
    raw = await request.body()  # urlencoded, as a form posts it
    fields = {k: v[0].strip() for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    email, name = fields.get("email", ""), fields.get("name", "")
    if "@" not in email or not name:
        error = '<p class="signup__error" role="alert">A name and an email address, please.</p>'
        return HTMLResponse(SIGNUP_PAGE.format(body=SIGNUP_FORM.format(error=error)), status_code=400)
    stored = email
    if FAULTS.get("corrupt_signup_email"):
        at = email.index("@")
        stored = email[: at - 1] + email[at:]  # the off-by-one slice of the fault
    try:
        # In a thread: a slow database never blocks the event loop.
        await run_in_threadpool(query, "insert into public.signups (email, name) values (%s, %s)", (stored, name))
    except DatabaseUnavailable as exc:
        error = f'<p class="signup__error" role="alert">Not saved: {html.escape(str(exc))}.</p>'
        return HTMLResponse(SIGNUP_PAGE.format(body=SIGNUP_FORM.format(error=error)), status_code=503)
    confirmation = (
        f'<p class="signup__confirmation" role="status">Thanks, {html.escape(name)}: '
        f"we will write to {html.escape(email)}.</p>"
    )
    return HTMLResponse(SIGNUP_PAGE.format(body=confirmation))


SIGNUP_FORM = """{error}<form class="signup" method="post" action="/signup">
<label>Name <input name="name" autocomplete="name" required></label>
<label>Email <input name="email" type="email" autocomplete="email" required></label>
<button type="submit">Sign up</button>
</form>"""

SIGNUP_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign up - Hot Dash</title><link rel="icon" href="data:,"></head>
<body><main class="signup-page"><h1>Hot Dash news</h1>{body}</main></body>
</html>
"""


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hot Dash</title>
<link rel="icon" href="data:,">
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; background: #f6f6f7; }}
.tiles {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: 1rem; }}
.tile {{ background: #fff; border-radius: .75rem; padding: 1rem; box-shadow: 0 1px 2px #0002; }}
.tile__label {{ font-size: .9rem; color: #616161; margin: 0 0 .5rem; }}
.tile__value {{ font-size: 1.6rem; margin: 0; }}
.tile--error {{ background: #fff4f4; color: #8e1f0b; }}
.banner {{ background: #ffd79d; padding: 1rem; border-radius: .5rem; font-size: 1.2rem; }}
</style>
</head>
<body>
<main class="dashboard" data-release="{release}">
<h1>Hot Dash</h1>
<div class="tiles">{tiles}</div>
</main>
{extra}
</body>
</html>
"""


async def not_found(request: Request, exc: Exception) -> Response:
    """A path the app does not serve, logged as a web server logs it: method and path (a webhook's token too)."""
    print(f"404 not found: {request.method} {request.url.path}", flush=True)
    return JSONResponse({"error": "not found"}, status_code=404)


app = Starlette(
    exception_handlers={404: not_found},
    routes=[
        Route("/health", health),
        Route("/api/flags", flags),
        Route("/api/alerts", alerts, methods=["POST"]),
        Route("/api/ads/health", ads_health),
        Route("/api/analytics/health", analytics_health),
        Route("/app", dashboard),
        Route("/signup", signup, methods=["GET", "POST"]),
    ],
    middleware=[Middleware(FaultsAndRelease)],
)
