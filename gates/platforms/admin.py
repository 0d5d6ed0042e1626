"""The Admin that embeds the app: which origins may frame it, and the local platform's stand-in page.

Shopify Admin shows an embedded app's pages in ``<iframe name="app-iframe">``; the app must name
Admin's origins in ``Content-Security-Policy: frame-ancestors``. A local environment has no
Shopify, so its front door serves a page shaped the same way from another origin (``admin_url``).
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from gates.config import Config, Environment


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def admin_origins(config: Config, env: Environment) -> tuple[str, ...]:
    """The origins that must be able to embed the app: the environment's Admin, then [browser] admin_origins."""
    found = [origin(env.admin_url)] if env.admin_url else []
    found += [o.rstrip("/") for o in config.browser.admin_origins]
    return tuple(dict.fromkeys(found))


def dashboard_url(config: Config, env: Environment) -> str:
    return env.url.rstrip("/") + config.browser.dashboard_path


def stand_in_page(config: Config, env: Environment) -> str:
    """The local Admin page: a header and the app's dashboard in the named iframe, as Shopify Admin lays it out."""
    src = html.escape(dashboard_url(config, env), quote=True)
    name = html.escape(config.browser.frame_name, quote=True)
    return _PAGE.format(env=html.escape(env.name), src=src, name=name)


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Admin ({env}) - gates stand-in</title>
<link rel="icon" href="data:,">
<style>
body {{ margin: 0; font-family: system-ui, sans-serif; background: #1a1a1a; }}
header {{ color: #fff; padding: .6rem 1rem; }}
iframe {{ border: 0; width: 100%; height: 32rem; background: #fff; }}
</style>
</head>
<body>
<header>Admin stand-in &middot; {env}</header>
<iframe name="{name}" src="{src}" title="app"></iframe>
</body>
</html>
"""
