"""DEVOPS-004/011: the dashboard loads inside the Admin frame, every tile shows data, no console errors.

One visit of the Admin page per gate run (the ``admin_visit`` fixture) serves all three; each
molecule's report carries the screenshot and the console log of every frame.
"""

from __future__ import annotations

import pytest

from gates.checks.browser import dashboard_loaded, no_console_errors, tiles_show_data

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.smoke, pytest.mark.browser]


def test_dashboard_loads_inside_the_admin_frame(admin_visit, verdict):
    """The app's dashboard appears in the Admin's app-iframe within the configured bound."""
    verdict(dashboard_loaded(admin_visit))


def test_every_tile_shows_data(admin_visit, gates_config, verdict):
    """Every tile the config names is present, has a value, and is not in its error state."""
    verdict(tiles_show_data(admin_visit, gates_config.browser.tiles))


def test_no_console_errors_in_any_frame(admin_visit, gates_config, verdict):
    """No console error, uncaught error, failed request or response >= 400 in any frame, except allowed noise."""
    verdict(no_console_errors(admin_visit, gates_config.browser.allow))
