"""Replies of HAProxy's runtime API to several commands sent on one line (as HAProxy 2.6 writes them)."""

from __future__ import annotations

from gates.platforms.haproxy import split_replies


def test_commands_that_say_nothing_answer_one_empty_reply_each() -> None:
    """Each reply ends with an empty line: two ``set server`` that worked are two empty replies."""
    assert split_replies("\n\n", 2) == ["", ""]


def test_an_error_among_others_is_told_apart_in_its_place() -> None:
    """The reply of the command that failed is in that command's place, whatever its neighbours said."""
    assert split_replies("\nNo such server.\n\n\n", 3) == ["", "No such server.", ""]
    assert split_replies("No such server.\n\n\nNo such server.\n\n", 3) == ["No such server.", "", "No such server."]


def test_fewer_or_more_replies_than_commands_are_no_answer() -> None:
    """A reply that is not one per command (cut short, or with text left over) is None: the caller fails closed."""
    assert split_replies("\n", 2) is None
    assert split_replies("No such server.", 1) is None
    assert split_replies("\n\nextra\n", 2) is None
