"""DEVOPS-004/011: the dashboard loads inside the Admin frame, every tile shows data, no console errors.

One visit per gate run (the ``admin_visit`` fixture: the Admin page, or the dashboard itself when no
admin_url is configured) serves all three; each molecule's report carries the screenshot and the
console log of every frame, and the first one the recording of the visit when it was recorded.
"""

from __future__ import annotations

import pytest

from gates.checks.browser import dashboard_loaded, no_console_errors, tiles_show_data
from gates.checks.comparison import as_configured
from gates.checks.layout import LayoutProbe, layout_collapsed

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.smoke, pytest.mark.browser]


def test_dashboard_loads_inside_the_admin_frame(admin_visit, verdict):
    """The app's dashboard becomes ready (ready_selector, ready_script or its load event) in the Admin's app-iframe,
    or on its own without an Admin, within the configured bound."""
    verdict(dashboard_loaded(admin_visit))


def test_every_tile_shows_data(admin_visit, gates_config, verdict):
    """Every tile the config names is present, has a value, and is not in its error state."""
    if not gates_config.browser.tiles:
        pytest.skip("no tiles configured ([browser] tiles = []): no tile to check")
    verdict(tiles_show_data(admin_visit, gates_config.browser.tiles))


def test_no_console_errors_in_any_frame(admin_visit, gates_config, verdict):
    """No console error, uncaught error, failed request or response >= 400 in any frame, from the load until the
    settle window after the page is ready ends, except allowed noise."""
    verdict(no_console_errors(admin_visit, gates_config.browser.allow))


def test_the_dashboard_is_styled_and_laid_out(admin_visit, gates_config, verdict):
    """Every stylesheet the dashboard links loaded and most of its elements are not in the browser's default style:
    an unstyled page fails whatever the release it replaces looked like; no measurements fail closed."""
    mode = gates_config.comparison.layout
    if mode == "off":
        pytest.skip('[comparison] layout = "off"')
    try:
        probe = LayoutProbe.from_json(admin_visit.layout) if admin_visit.loaded and admin_visit.layout else None
    except ValueError as exc:
        pytest.fail(f"layout: {exc} (fail closed)", pytrace=False)
    source = f"the layout probe in the dashboard's frame ({admin_visit.dashboard_url})"
    verdict(as_configured(layout_collapsed(probe, source=source), mode, what="layout"))
