"""`--dist loadgroup` keeps an ``xdist_group`` on one worker again under pytest 9.2.

pytest-xdist (3.8) marks a grouped test by appending ``@<group>`` to its node id in the worker, and its
scheduler groups by that suffix. It does so by writing ``item._nodeid``, which pytest 9.2 no longer reads
(the id is a structured ``NodeId`` in ``item._id``): the suffix is lost without a word, every test is
scheduled on its own, and a module's fixtures that a group was meant to share (a whole deployed release,
the built React Router demo, a three-release ledger) are built again on each worker. This hook, run after
xdist's, appends the suffix where it is missing; where xdist's own write took effect it does nothing.
tests/selftests/test_xdist_groups.py proves a group stays on one worker.
"""

from __future__ import annotations

import pytest
from _pytest.nodeid import NodeId


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = sorted(
            {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
        )
        suffix = f"@{'_'.join(names)}"
        if names and not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)
