"""A page that lost its styles, judged from the page's own measurements (the probe's answer, hand-made here)."""

from __future__ import annotations

import dataclasses

import pytest

from gates.checks.layout import LAYOUT_PROBE, LayoutProbe, layout_collapsed

STYLED = LayoutProbe(stylesheets=1, loaded=1, failed=(), elements=40, default_styled=0,
                     body_font='"DejaVu Sans", Arial, sans-serif', default_font='"Times New Roman"', columns=4)  # fmt: skip
UNSTYLED = dataclasses.replace(STYLED, loaded=0, failed=("http://127.0.0.1:8081/app.css (HTTP 404)",),
                               default_styled=40, body_font='"Times New Roman"', columns=1)  # fmt: skip


def test_a_styled_page_is_not_collapsed():
    """Every stylesheet loaded, no element in the browser's default style: ok, and said in numbers."""
    judged = layout_collapsed(STYLED)
    assert judged.ok, judged.explain()
    assert judged.observed == (
        '1 of 1 stylesheets loaded, 0 of 40 elements in the browser\'s default style (0%), body font "DejaVu Sans", '
        "Arial, sans-serif, 4 columns"
    )
    assert layout_collapsed(STYLED, STYLED).ok


def test_a_page_whose_stylesheet_failed_is_collapsed_naming_the_stylesheet():
    """A stylesheet that did not load fails, naming its URL and what it answered, and the default-style share too."""
    judged = layout_collapsed(UNSTYLED)
    assert not judged.ok
    assert "1 of 1 stylesheets did not load: http://127.0.0.1:8081/app.css (HTTP 404)" in judged.problems
    assert any("40 of 40 visible elements (100%) have the browser's default style" in p for p in judged.problems)


def test_most_elements_in_the_default_style_is_collapsed_even_with_every_stylesheet_loaded():
    """A stylesheet that loaded but no longer matches the markup (renamed classes) leaves the page unstyled too."""
    renamed = dataclasses.replace(UNSTYLED, loaded=1, failed=(), default_styled=35)
    judged = layout_collapsed(renamed)
    assert not judged.ok and len(judged.problems) == 1 and "35 of 40 visible elements (88%)" in judged.problems[0]
    assert layout_collapsed(renamed, max_default_share=0.9).ok


def test_a_tiny_page_says_nothing_by_its_default_share():
    """Under min_elements visible elements the share is no evidence: a bare page of three elements passes."""
    bare = dataclasses.replace(STYLED, stylesheets=0, loaded=0, elements=3, default_styled=3, columns=1)
    assert layout_collapsed(bare).ok


def test_against_the_baseline_a_fall_to_one_column_or_the_default_font_fails():
    """The release being replaced had columns and its own font: losing either is a collapse, each said."""
    fell = dataclasses.replace(STYLED, columns=1, body_font='"Times New Roman"', default_styled=10)
    assert layout_collapsed(fell).ok  # alone, a one-column page in Times is a design, not a collapse
    judged = layout_collapsed(fell, STYLED)
    assert not judged.ok
    assert "the layout fell to 1 column (was 4)" in judged.problems
    assert (
        'the body font fell back to the browser\'s default "Times New Roman" (was "DejaVu Sans", Arial, sans-serif)'
        in judged.problems
    )
    assert "elements in the browser's default style rose to" not in judged.explain()  # 25 %: within +30 %


def test_against_the_baseline_a_sharp_rise_of_default_styled_elements_fails():
    """From 5 % to 50 % of the elements in the default style is a page that lost part of its styles."""
    before = dataclasses.replace(STYLED, default_styled=2)
    after = dataclasses.replace(STYLED, default_styled=20)
    judged = layout_collapsed(after, before)
    assert not judged.ok and judged.problems == (
        "elements in the browser's default style rose to 50% from 5% (limit +30%)",
    )
    assert layout_collapsed(after, before, max_default_rise=0.5).ok


def test_no_measurements_fail_closed():
    """No probe answer is a failed judgement, never a pass."""
    judged = layout_collapsed(None)
    assert not judged.ok and judged.problems == ("no layout measurements of the page (fail closed)",)


def test_the_probe_answer_is_read_strictly():
    """The probe's JSON becomes a LayoutProbe; an answer missing a field is a ValueError saying so."""
    answer = {"stylesheets": 2, "loaded": 1, "failed": ["x (HTTP 404)"], "elements": 9, "defaultStyled": 9,
              "bodyFont": "Times New Roman", "defaultFont": '"Times New Roman"', "columns": 1}  # fmt: skip
    probe = LayoutProbe.from_json(answer)
    assert probe.failed == ("x (HTTP 404)",) and probe.default_share == 1.0 and probe.default_font_used
    with pytest.raises(ValueError, match="the layout probe's answer is not measurements"):
        LayoutProbe.from_json({k: v for k, v in answer.items() if k != "columns"})


def test_the_probe_is_one_async_function_taking_its_wait_bound():
    """The script is evaluated as ``frame.evaluate(LAYOUT_PROBE, wait_ms)``: an async arrow of one argument,
    with the compared properties filled in."""
    assert LAYOUT_PROBE.startswith("async (waitMs) => {") and LAYOUT_PROBE.rstrip().endswith("}")
    assert "'font-family font-size" in LAYOUT_PROBE and '\'"""' not in LAYOUT_PROBE
