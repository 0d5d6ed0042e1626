"""The browser and embedding checks on hand-made inputs: no browser, no server."""

from __future__ import annotations

import re

import httpx
import pytest

from gates.checks.browser import Document, PageEvent, Tile, Visit, dashboard_loaded, no_console_errors, tiles_show_data
from gates.checks.embedding import embedding_allowed, source_admits
from gates.config import AllowedNoise, ConfigError, parse
from gates.platforms.registry import validate as validate_platforms

ADMIN = "http://127.0.0.1:9001"


def visit(**changes) -> Visit:
    base = dict(admin_url=ADMIN + "/", dashboard_url="http://127.0.0.1:9000/app", frame="app-iframe",
                waited_for='[data-tile] in iframe[name="app-iframe"]', timeout=5.0, loaded=True, seconds=0.4,
                settle=2.0, documents=(Document("the Admin page", ADMIN + "/", 200),
                                       Document("the app frame", "http://127.0.0.1:9000/app", 200)))  # fmt: skip
    return Visit(**{**base, **changes})


@pytest.mark.parametrize(
    "source, origin, admits",
    [
        ("https://admin.shopify.com", "https://admin.shopify.com", True),
        ("https://*.myshopify.com", "https://hotrodan.myshopify.com", True),
        ("https://*.myshopify.com", "https://myshopify.com.evil.example", False),
        ("admin.shopify.com", "https://admin.shopify.com", True),
        ("https:", "https://admin.shopify.com", True),
        ("http://127.0.0.1:9001", ADMIN, True),
        ("http://127.0.0.1:9002", ADMIN, False),
        ("http://127.0.0.1:*", ADMIN, True),
        ("'none'", ADMIN, False),
        ("'self'", ADMIN, False),
        ("*", ADMIN, True),
    ],
)
def test_a_frame_ancestors_source_admits_exactly_the_origins_csp_says(source, origin, admits):
    """Scheme, host (with a *. wildcard) and port decide, as browsers match frame-ancestors."""
    assert source_admits(source, origin, "http://127.0.0.1:9000") is admits


def _client(headers: list[tuple[str, str]]) -> httpx.Client:
    return httpx.Client(
        base_url="http://app.test", transport=httpx.MockTransport(lambda r: httpx.Response(200, headers=headers))
    )


def test_embedding_fails_closed_without_a_csp_or_without_an_admin_origin():
    """No frame-ancestors at all, or no Admin origin configured, is a failure saying so."""
    assert "sends no Content-Security-Policy" in embedding_allowed(_client([]), "/app", [ADMIN], 1).explain()
    headers = [("Content-Security-Policy", f"frame-ancestors {ADMIN}")]
    assert "no Admin origin configured" in embedding_allowed(_client(headers), "/app", [], 1).explain()
    assert embedding_allowed(_client(headers), "/app", [ADMIN], 1).ok


def test_every_csp_header_must_admit_the_admin():
    """Browsers enforce every policy sent: a second, stricter CSP header blocks the Admin."""
    headers = [
        ("Content-Security-Policy", f"frame-ancestors {ADMIN}"),
        ("Content-Security-Policy", "frame-ancestors 'none'"),
    ]
    assert f"does not admit {ADMIN}" in embedding_allowed(_client(headers), "/app", [ADMIN], 1).explain()


def test_allowed_noise_is_shown_with_its_reason_and_the_rest_fails():
    """An allow-listed error passes and is listed with its reason; any other error fails the check."""
    allow = [AllowedNoise(pattern=r"beacon\.example", reason="third-party analytics, blocked offline")]
    noise = PageEvent("requestfailed", "GET failed: net::ERR_NAME_NOT_RESOLVED", "https://beacon.example/b")
    judged = no_console_errors(visit(events=(noise, PageEvent("console.log", "hello", ""))), allow)
    assert judged.ok and judged.details[0]["reason"] == "third-party analytics, blocked offline"
    bad = PageEvent("console.error", "boom", "http://127.0.0.1:9000/app")
    judged = no_console_errors(visit(events=(noise, bad)), allow)
    assert not judged.ok and "[console.error] boom (http://127.0.0.1:9000/app)" in judged.problems
    assert any("third-party analytics" in p for p in judged.problems)


def test_tiles_fail_closed_when_none_or_some_are_missing():
    """No tile, a missing expected tile, an error tile or an empty one each fail, named."""
    assert "no tile on the dashboard" in tiles_show_data(visit(), ["revenue"]).explain()
    tiles = (Tile("revenue", "$1", False), Tile("orders", "", False), Tile("dashboard", "database unreachable", True))
    text = tiles_show_data(visit(tiles=tiles), ["revenue", "conversion"]).explain()
    assert "tile 'conversion' is missing" in text and "tile 'orders' is empty" in text
    assert "tile 'dashboard' is in its error state: 'database unreachable'" in text
    assert not dashboard_loaded(visit(loaded=False, load_error="waited 5s for x")).ok


def test_a_misspelt_allow_entry_is_a_config_error_naming_the_key(tmp_path):
    """[[browser.allow]] entries are checked like any section: an unknown key names file and key."""
    data = {
        "app": {"name": "a"},
        "environments": {
            "staging": {"platform": "local", "url": "http://127.0.0.1:1", "admin_url": "http://127.0.0.1:2/"}
        },
        "browser": {"allow": [{"pattern": "x", "reason": "y"}, {"pattern": "x", "why": "y"}]},
    }
    with pytest.raises(ConfigError, match=r"browser\.allow\[1\]\.why"):
        parse(data, tmp_path / "gates.toml")
    data["browser"]["allow"].pop()
    assert parse(data, tmp_path / "gates.toml").browser.allow == (AllowedNoise("x", "y"),)
    data["environments"]["staging"]["admin_url"] = "http://127.0.0.1:1/admin"
    with pytest.raises(ConfigError, match="admin_url"):  # the local driver's own rule, checked when a config is opened
        validate_platforms(parse(data, tmp_path / "gates.toml"))


def test_a_visit_fails_closed_without_its_session(tmp_path):
    """A storage state variable naming no file is a failed load naming the key, before any browser."""
    from gates.gaterun.visit import visit_admin

    env = {"platform": "local", "url": "http://127.0.0.1:1", "admin_url": "http://127.0.0.1:2/"}
    data = {"app": {"name": "a"}, "environments": {"staging": env}, "browser": {"storage_state_env": "ADMIN_STATE"}}
    cfg = parse(data, tmp_path / "gates.toml")
    lost = visit_admin(None, cfg, cfg.environment("staging"), storage_state="")
    assert not lost.loaded and "ADMIN_STATE does not name a storage state file" in dashboard_loaded(lost).explain()


def test_console_errors_are_judged_only_after_a_settle_window():
    """A visit that was not watched after it became ready fails closed: late errors would go unseen."""
    assert no_console_errors(visit(), []).ok
    unwatched = no_console_errors(visit(settle=0.0), [])
    assert not unwatched.ok and "not watched after it became ready" in unwatched.explain()
    assert "until 2s after ready" in str(no_console_errors(visit(), []).expected)


def test_a_direct_visit_is_named_as_such_and_a_stalled_call_fails_the_load():
    """Without an Admin the load molecule speaks of the page itself; a screenshot that got no answer fails it."""
    direct = visit(admin_url="", waited_for="the load event on the page")
    judged = dashboard_loaded(direct)
    assert judged.ok and judged.name == "dashboard ready" and "visited directly" in judged.source
    stalled = dashboard_loaded(visit(stalled="the screenshot of the page: no answer within 5s"))
    assert not stalled.ok and "the screenshot of the page: no answer within 5s" in stalled.explain()


@pytest.mark.parametrize(
    "documents, words",
    [
        ((Document("the Admin page", ADMIN + "/", 200), Document("the app frame", "http://127.0.0.1:9000/app", 404)),
         "the app frame http://127.0.0.1:9000/app answered HTTP 404"),
        ((Document("the dashboard", "http://127.0.0.1:9000/nope", 500),), "answered HTTP 500"),
        ((Document("the Admin page", ADMIN + "/", None),), "no HTTP answer was seen for the Admin page's document"),
        ((), "no document's HTTP answer was recorded"),
    ],
)  # fmt: skip
def test_a_ready_page_whose_document_did_not_answer_2xx_fails_the_load_naming_url_and_status(documents, words):
    """A 404 or 500 page that renders (and hydrates) is not the dashboard; a document whose answer was never seen
    fails closed."""
    judged = dashboard_loaded(visit(documents=documents))
    assert not judged.ok and words in judged.explain(), judged.explain()
    assert dashboard_loaded(visit()).ok


BROWSER_KEYS = {
    "settle": (0, "expected seconds in (0, 60]"),
    "load_timeout": (-1, "expected seconds in (0, 600]"),
    "video": ("sometimes", "expected one of: production, always, never"),
    "video_fps": (30.0, "expected frames per second in (0, 10]"),
    "video_width": (4000, "expected an integer in [100, 1920]"),
    "video_frames": (1, "expected an integer in [2, 300]"),
}


@pytest.mark.parametrize("key, value, message", [(k, *v) for k, v in BROWSER_KEYS.items()], ids=list(BROWSER_KEYS))
def test_a_bad_browser_bound_is_a_config_error_naming_the_key(tmp_path, key, value, message):
    """Every bound of the visit is checked for its meaning: positive, not absurdly large, a known mode."""
    data = {"app": {"name": "a"}, "environments": {"staging": {"platform": "local", "url": "http://127.0.0.1:1"}},
            "browser": {key: value}}  # fmt: skip
    with pytest.raises(ConfigError, match=rf"browser\.{key}: {re.escape(message)}"):
        parse(data, tmp_path / "gates.toml")
    data["browser"] = {"ready_selector": "#app", "ready_script": "window.ready"}
    with pytest.raises(ConfigError, match=r"browser\.ready_script: set ready_selector or ready_script, not both"):
        parse(data, tmp_path / "gates.toml")


def test_the_monitor_browser_fails_closed_without_a_visit_and_names_each_bad_visit():
    """No visit in the window (or a browser that failed) is no data and fails; a visit with a late console error fails
    naming the visit, its time and the error; clean visits pass."""
    from gates.checks.browser import Watched, dashboard_clean_throughout, visit_as_dict, visit_from_dict

    assert not dashboard_clean_throughout([], [], 30, "b.json").ok
    clean = Watched("2026-12-07T10:00:00+00:00", visit(settle=28.0))
    late = Watched("2026-12-07T10:00:30+00:00", visit(events=(PageEvent("console.error", "late boom", "/app"),)))
    assert dashboard_clean_throughout([clean], [], 30, "b.json").ok
    judged = dashboard_clean_throughout([clean, late], [], 30, "b.json")
    assert not judged.ok and "visit 2 (2026-12-07T10:00:30+00:00): [console.error] late boom (/app)" in judged.explain()
    broken = dashboard_clean_throughout([clean], [], 30, "b.json", "the window's browser failed: gone")
    assert not broken.ok and "the window's browser failed: gone" in broken.explain()
    assert visit_from_dict(visit_as_dict(late.visit)) == late.visit


def test_the_monitor_browser_interval_is_a_duration_or_off(tmp_path):
    """[monitor] browser_every takes a duration or "off"; anything else is a config error naming the key."""
    env = {"platform": "local", "url": "http://127.0.0.1:1"}
    for good in ("30s", "off"):
        parse({"app": {"name": "a"}, "environments": {"staging": env}, "monitor": {"browser_every": good}}, tmp_path)
    with pytest.raises(ConfigError, match=r"monitor\.browser_every"):
        parse({"app": {"name": "a"}, "environments": {"staging": env}, "monitor": {"browser_every": "often"}}, tmp_path)
