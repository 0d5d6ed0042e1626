"""Two screenshots of one page compared: a lost stylesheet scores far from a repaint, a banner is one region."""

from __future__ import annotations

import functools
import io

import pytest
from PIL import Image, ImageDraw, ImageFont

from gates.checks.visual import Region, annotate, compare, screenshots_match

_SCALE = 4  # drawn at 4x and scaled down: glyph edges anti-aliased as a browser paints them
_TILES = (("Revenue", "$48,210"), ("Orders", "1,204"), ("Campaigns", "7 running"))
_LOG = [f"Line {k} of the activity log: order #{1000 + k} paid" for k in range(8)]
BANNER = (300, 120, 1200, 170)  # where the banner of ``page(banner=True)`` is, in page pixels


@functools.cache  # each page is drawn once for the whole file
def page(*, styled: bool = True, nudge: int = 0, banner: bool = False, height: int = 900) -> bytes:
    """A dashboard as a browser paints it (header, sidebar, three tiles, a log), or the same content without its
    stylesheet (black text stacked on white); ``nudge``: every text moved by that many quarter pixels."""
    s = _SCALE
    font, big = ImageFont.load_default(size=16 * s), ImageFont.load_default(size=28 * s)
    image = Image.new("RGB", (1280 * s, height * s), (244, 246, 248) if styled else "white")
    draw = ImageDraw.Draw(image)

    def text(x: int, y: int, words: str, **kw: object) -> None:
        draw.text((x * s + nudge, y * s + nudge), words, **kw)  # type: ignore[arg-type]

    if styled:
        draw.rectangle((0, 0, 1280 * s, 64 * s), fill=(20, 40, 90))
        text(24, 20, "Hot Rod AN dashboard", font=font, fill="white")
        draw.rectangle((0, 64 * s, 220 * s, height * s), fill=(228, 232, 238))
        for i, item in enumerate(("Overview", "Orders", "Products", "Settings")):
            text(24, 90 + 36 * i, item, font=font, fill=(40, 50, 70))
        for i, (name, value) in enumerate(_TILES):
            x, y = 250 + i * 340, 200
            draw.rounded_rectangle((x * s, y * s, (x + 310) * s, (y + 160) * s), radius=8 * s, fill="white",
                                   outline=(210, 214, 220), width=s)  # fmt: skip
            text(x + 20, y + 20, name, font=font, fill=(90, 100, 120))
            text(x + 20, y + 60, value, font=big, fill=(20, 30, 50))
        for k, line in enumerate(_LOG):
            text(250, 420 + 28 * k, line, font=font, fill=(60, 60, 60))
        if banner:
            draw.rectangle(tuple(v * s for v in BANNER), fill=(255, 236, 200))
            text(320, 134, "New: the campaigns report is here", font=font, fill=(120, 60, 0))
    else:
        lines = ["Hot Rod AN dashboard", "Overview", "Orders", "Products", "Settings", *sum(_TILES, ()), *_LOG]
        for k, line in enumerate(lines):
            text(8, 8 + 22 * k, line, font=font, fill="black")
    out = io.BytesIO()
    image.resize((1280, height), Image.Resampling.LANCZOS).save(out, "PNG")
    return out.getvalue()


def test_a_page_without_its_stylesheet_scores_far_from_the_styled_page():
    """The same content unstyled changes most of the page: one region over it all, and the judgement fails."""
    diff = compare(page(), page(styled=False))
    assert diff.score > 0.5 and diff.regions[0].width > 1000 and diff.regions[0].height > 800
    judged = screenshots_match(diff)
    assert not judged.ok and "of the page changed (limit 5.0%)" in judged.explain()


@pytest.mark.parametrize("nudge", [1, 2, 4, 6, 8])  # a quarter, half, one, one and a half, two pixels
def test_repaints_with_text_a_pixel_or_less_off_score_as_the_same_page(nudge):
    """Anti-aliasing jitter and sub-pixel text shifts up to two pixels change no block at all."""
    diff = compare(page(), page(nudge=nudge))
    assert diff.score == 0.0 and diff.regions == (), diff.describe()
    assert screenshots_match(diff).ok


def test_the_same_screenshot_is_the_same_page():
    """Identical images: nothing changed, and the judgement says so."""
    same = page()
    diff = compare(same, same)
    assert (diff.score, diff.regions, diff.changed_blocks) == (0.0, (), 0)
    assert screenshots_match(diff).ok and "0.0% of the page changed" in screenshots_match(diff).observed


def test_a_banner_added_is_one_region_where_it_is(tmp_path):
    """A banner over the page is reported as one rectangle covering it (to within a block), from paths too."""
    (tmp_path / "a.png").write_bytes(page())
    (tmp_path / "b.png").write_bytes(page(banner=True))
    diff = compare(tmp_path / "a.png", tmp_path / "b.png")
    (region,) = diff.regions
    left, top, right, bottom = BANNER
    assert abs(region.x - left) <= diff.block and abs(region.y - top) <= diff.block
    assert abs(region.x + region.width - right) <= diff.block and abs(region.y + region.height - bottom) <= diff.block
    assert 0 < diff.score < 0.1


def test_screenshots_of_different_heights_compare_on_the_larger_canvas():
    """A page that grew is compared over its new height: only what the shorter one lacks (the sidebar's end)
    differs; the page's own background past the end is no change."""
    diff = compare(page(), page(height=1000))
    assert diff.canvas == (1280, 1000) and diff.baseline_size == (1280, 900) and diff.candidate_size == (1280, 1000)
    (region,) = diff.regions
    assert region.y >= 880 and region.x == 0 and region.width <= 240
    blank = Image.new("RGB", (1280, 900), (244, 246, 248))
    longer = Image.new("RGB", (1280, 1400), (244, 246, 248))
    assert compare(_png(blank), _png(longer)).score == 0.0


def test_a_long_page_is_compared_over_its_top_and_says_so():
    """Past max_height the pages are not compared, and the result says over how much they were."""
    diff = compare(page(), page(height=1000), max_height=640)
    assert diff.cropped and diff.canvas == (1280, 640) and diff.score == 0.0
    assert "compared over the top 640 px" in diff.describe()


def test_no_comparison_fails_closed():
    """A screenshot missing on either side is a failed comparison, saying so."""
    judged = screenshots_match(None)
    assert not judged.ok and "a screenshot of one of the releases is missing (fail closed)" in judged.explain()


def test_the_difference_is_drawn_on_the_new_screenshot():
    """The annotated image is the new page at the compared size, dimmed outside the regions, framed in red."""
    diff = compare(page(), page(banner=True))
    drawn = Image.open(io.BytesIO(annotate(page(banner=True), diff))).convert("RGB")
    new = Image.open(io.BytesIO(page(banner=True))).convert("RGB")
    assert drawn.size == (1280, 900)
    (region,) = diff.regions
    inside = (region.x + region.width // 2, region.y + region.height // 2)
    assert drawn.getpixel(inside) == new.getpixel(inside)  # the change itself, as painted
    outside = (640, 800)
    assert sum(drawn.getpixel(outside)) < sum(new.getpixel(outside)) * 0.7  # the rest, dimmed
    red = drawn.getpixel((region.x + region.width // 2, region.y - 2))
    assert red[0] > 180 and red[1] < 80 and red[2] < 80  # the frame


def test_a_region_names_its_place():
    """Regions read as size and position, the way a reviewer looks for them."""
    assert Region(300, 112, 896, 64).describe() == "896x64 px at (300, 112)"


def test_a_block_that_does_not_fit_the_grid_is_refused():
    """The block is a multiple of the 4 px averages; anything else is a programming error said plainly."""
    with pytest.raises(ValueError, match="block must be a multiple of 4 pixels"):
        compare(page(), page(), block=10)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
