"""A page that lost its stylesheet, seen by Chromium: the screenshot comparison and the layout probe both call it
out, and two visits of the healthy page pass against each other (no false alarm)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from gates.checks.layout import LAYOUT_PROBE, LayoutProbe, layout_collapsed
from gates.checks.visual import annotate, compare, screenshots_match
from tests.selftests.httpfixtures import answering

LOAD_TIMEOUT = 30.0  # seconds: a loaded machine's Chromium opens a local page well within this
WAIT_MS = 3000  # the probe's own bound on stylesheets still loading

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Dashboard</title>
<link rel="stylesheet" href="app.css"></head>
<body><header><h1>Hot Rod AN <a href="#">dashboard</a></h1></header>
<main><nav><ul><li><a href="#">Overview</a></li><li><a href="#">Orders</a></li><li><a href="#">Settings</a></li></ul></nav>
<section class="tiles">
<div class="tile" data-tile="revenue"><h2>Revenue</h2><p class="value">$48,210</p></div>
<div class="tile" data-tile="orders"><h2>Orders</h2><p class="value">1,204</p></div>
<div class="tile" data-tile="campaigns"><h2>Campaigns</h2><p class="value">7 running</p></div></section>
<section class="log"><h2>Activity</h2><table><tr><th>Order</th><th>Status</th></tr>
<tr><td>#1000</td><td>paid</td></tr><tr><td>#1001</td><td>paid</td></tr></table>
<p>Last updated a minute ago. <strong>All good.</strong></p><button>Refresh</button></section></main>
</body></html>"""

_CSS = """body { margin: 0; font-family: "DejaVu Sans", Arial, sans-serif; background: #f4f6f8; color: #1b2430; }
header { background: #14285a; color: white; padding: 16px 24px; } header h1 { margin: 0; font-size: 20px; }
header a { color: #9cf; } main { display: grid; grid-template-columns: 220px 1fr; min-height: 90vh; }
nav { background: #e4e8ee; padding: 16px; } nav ul { list-style: none; padding: 0; margin: 0; } nav li { padding: 8px 0; }
.tiles { display: grid; grid-template-columns: repeat(3, 1fr); gap: 24px; padding: 24px; grid-column: 2; }
.tile { background: white; border: 1px solid #d2d6dc; border-radius: 8px; padding: 16px; }
.tile h2 { font-size: 14px; color: #5a6478; margin: 0; } .value { font-size: 28px; margin: 12px 0 0; }
.log { grid-column: 2; padding: 0 24px; } table { border-collapse: collapse; width: 100%; }
td, th { padding: 6px; border-bottom: 1px solid #ddd; text-align: left; }
button { background: #2a7; color: white; border: 0; border-radius: 4px; padding: 8px 16px; }"""


@pytest.fixture
def site() -> Iterator[str]:
    """The same page three ways: /healthy/ with its stylesheet, /broken/ whose stylesheet answers 404, and
    /mistyped/ whose stylesheet comes as text/html (the browser refuses it)."""

    def answer(method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        if path.endswith("/"):
            return 200, "text/html", _PAGE.encode()
        if path == "/healthy/app.css":
            return 200, "text/css", _CSS.encode()
        if path == "/mistyped/app.css":
            return 200, "text/html", _CSS.encode()
        return 404, "text/plain", b"not found"

    with answering(answer) as url:
        yield url


def visit(browser: Any, url: str) -> tuple[bytes, LayoutProbe]:
    """One visit as the browser gate makes it (a fresh context, the gate's viewport): the full-page screenshot
    and the layout probe's measurements."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        context.set_default_timeout(LOAD_TIMEOUT * 1000)
        page = context.new_page()
        page.goto(url, wait_until="load")
        probe = LayoutProbe.from_json(page.main_frame.evaluate(LAYOUT_PROBE, WAIT_MS))
        return page.screenshot(full_page=True), probe
    finally:
        with contextlib.suppress(Exception):
            context.close()


def test_two_visits_of_the_healthy_page_pass_against_each_other(browser, site):
    """Two separate visits of the same styled page: no block changed, and the layout is judged styled alone and
    against the other visit as baseline."""
    first_shot, first = visit(browser, f"{site}/healthy/")
    second_shot, second = visit(browser, f"{site}/healthy/")
    diff = compare(first_shot, second_shot)
    assert screenshots_match(diff).ok and diff.regions == (), diff.describe()
    assert first.stylesheets == first.loaded == 1 and first.columns >= 3 and first.default_share < 0.1, first
    assert layout_collapsed(second).ok and layout_collapsed(second, first).ok, layout_collapsed(second, first).explain()


def test_the_page_whose_stylesheet_404s_is_called_out_by_both_measures(browser, site, tmp_path):
    """Against the healthy page, the unstyled one changes most of the screenshot; the layout probe alone names the
    stylesheet that failed and the default styles, and against the healthy one the fall to one column."""
    healthy_shot, healthy = visit(browser, f"{site}/healthy/")
    broken_shot, broken = visit(browser, f"{site}/broken/")
    diff = compare(healthy_shot, broken_shot)
    judged = screenshots_match(diff)
    assert not judged.ok and diff.score > 0.3, diff.describe()
    alone = layout_collapsed(broken)
    assert not alone.ok
    assert f"1 of 1 stylesheets did not load: {site}/broken/app.css (HTTP 404)" in alone.problems
    assert any("have the browser's default style" in p for p in alone.problems), alone.explain()
    against = layout_collapsed(broken, healthy)
    assert f"the layout fell to 1 column (was {healthy.columns})" in against.problems
    assert any(p.startswith("the body font fell back to the browser's default") for p in against.problems)
    drawn = tmp_path / "difference.png"
    drawn.write_bytes(annotate(broken_shot, diff))
    assert drawn.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_stylesheet_refused_for_its_content_type_is_a_collapse(browser, site):
    """A stylesheet that answers 200 as text/html is refused by the browser: the probe says it gave no rules."""
    _, mistyped = visit(browser, f"{site}/mistyped/")
    judged = layout_collapsed(mistyped)
    assert not judged.ok
    assert f"1 of 1 stylesheets did not load: {site}/mistyped/app.css (no rules: empty, or not served as text/css)" in (
        judged.problems
    )
