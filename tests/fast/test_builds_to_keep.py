"""Which builds a release's prune keeps: the newest distinct builds of the good releases, not the newest releases."""

from __future__ import annotations

import datetime as dt

from gates.platforms import Release
from gates.release.prune import builds_to_keep


def _release(version: int, ref: str) -> Release:
    return Release(version=version, ref=ref, created_at=dt.datetime(2026, 12, 8, tzinfo=dt.UTC), status="complete")


def test_a_run_of_no_change_releases_keeps_the_build_of_the_last_release_of_other_code():
    """Ten good releases of one build after one of another build: with keep_builds 2, both builds stay (the other
    one is the drill's rollback target); counting releases kept only the shared build."""
    good = [_release(1, "old")] + [_release(v, "same") for v in range(2, 12)]
    assert builds_to_keep(good, 2) == {"same", "old"}
    assert builds_to_keep(good, 1) == {"same"}


def test_the_newest_distinct_builds_are_kept_whatever_the_order_given():
    """The newest releases decide, each build counted once: of a, b, a, c (oldest first), keep 2 is c and a."""
    good = [_release(3, "a"), _release(1, "a"), _release(4, "c"), _release(2, "b")]
    assert builds_to_keep(good, 2) == {"c", "a"}
    assert builds_to_keep(good, 5) == {"a", "b", "c"}
    assert builds_to_keep([], 3) == set()
