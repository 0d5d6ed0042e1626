"""A team's own molecule: the dashboard's revenue tile shows what the database holds.

It lives in the team's repository (here, the demo's), marked for the gates it belongs to and
a concern; `pytest -m staging` and `gates deploy` run it beside gates' built-in molecules, with
the same fixtures and the same evidence (see docs/writing-molecules.md). It asks the app through
``app_http``, the gate's client for team molecules, so an app that does not answer fails it in one line.
"""

from __future__ import annotations

import re

import pytest

from gates import Measurement

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.smoke]

TILE = "revenue"


def shown_on_page(page_html: str, tile: str) -> str | None:
    """The value a server-rendered tile shows, or None when the page has no such tile."""
    found = re.search(
        rf'data-tile="{re.escape(tile)}".*?class="tile__value">(?P<value>[^<]*)<', page_html, flags=re.DOTALL
    )
    return found.group("value").strip() if found else None


def test_the_revenue_tile_shows_what_the_database_holds(app_http, db, verdict):
    """The revenue tile on the dashboard shows the value of its row in public.dashboard_tiles."""
    (stored,) = db.execute("select value from public.dashboard_tiles where name = %s", (TILE,)).fetchone()
    # app_http: an app that does not answer fails this molecule in one line ("GET .../app: no answer within 5s").
    page = app_http.get("/app")
    shown = shown_on_page(page.text, TILE)
    verdict(
        Measurement(
            name="revenue tile",
            question="the revenue tile shows the value the database holds",
            observed=shown,
            expected=stored,
            ok=page.status_code == 200 and shown == stored,
            source=f"GET {page.url} (HTTP {page.status_code}) vs select value from public.dashboard_tiles",
        )
    )
