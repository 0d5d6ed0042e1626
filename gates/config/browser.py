"""``[browser]``: the browser gate (the Admin frame, tiles, console noise, the recording of the visit)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gates.config.reader import bounded
from gates.core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class AllowedNoise:
    """A console message or request failure the browser gate tolerates, and why."""

    pattern: str
    reason: str


@dataclasses.dataclass(frozen=True)
class BrowserConfig:
    """The browser gate: the Admin frame, tiles, console noise."""

    dashboard_path: str = "/app"
    frame_name: str = "app-iframe"
    # Origins besides each environment's admin_url that the app must let embed it.
    admin_origins: tuple[str, ...] = ()
    # Template of every environment's admin_url, e.g. https://admin.shopify.com/store/{store}/apps/{app}:
    # {store} (environments.NAME.store), {app} (environments.NAME.app, else [app] name), {env}.
    admin_url: str = ""
    tile_selector: str = "[data-tile]"
    tile_name_attribute: str = "data-tile"
    tile_value_selector: str = ".tile__value"
    tile_error_selector: str = ".tile--error"
    tiles: tuple[str, ...] = ()
    load_timeout: float = 15.0
    allow: tuple[AllowedNoise, ...] = ()
    # A Playwright storage state (a logged-in Shopify Admin): named by env var, it is a secret.
    storage_state_env: str = ""
    # Where traces taken with a storage state go: never beside a shared report.
    private_dir: str = ".gates/private"
    # The page is ready (interactive) when this CSS selector is visible, or this JS expression is truthy,
    # in the app's frame; neither: its load event. ``load_timeout`` bounds the wait.
    ready_selector: str = ""
    ready_script: str = ""
    # Seconds the page stays watched after it is ready: errors logged a moment after load count too.
    settle: float = 2.0
    # A recording of the visit (Chromium's screencast, as an animated WebP): production | always | never.
    video: str = "production"
    video_fps: float = 5.0
    video_width: int = 800
    video_frames: int = 60
    video_max_bytes: int = 2_000_000


VIDEO_MODES = ("production", "always", "never")


def validate_browser_visit(browser: BrowserConfig, path: Path, key: str) -> None:
    bounded(browser.load_timeout, path, f"{key}.load_timeout")
    bounded(browser.settle, path, f"{key}.settle", 60.0)
    if browser.ready_selector and browser.ready_script:
        raise ConfigError(path, f"{key}.ready_script", "set ready_selector or ready_script, not both")
    if browser.video not in VIDEO_MODES:
        raise ConfigError(path, f"{key}.video", f"expected one of: {', '.join(VIDEO_MODES)}, got {browser.video!r}")
    bounded(browser.video_fps, path, f"{key}.video_fps", 10.0, "frames per second")
    for name, low, high in (
        ("video_width", 100, 1920),
        ("video_frames", 2, 300),
        ("video_max_bytes", 10_000, 50_000_000),
    ):
        value = getattr(browser, name)
        if not low <= value <= high:
            raise ConfigError(path, f"{key}.{name}", f"expected an integer in [{low}, {high}], got {value!r}")
