"""Which of Fly's memory readings are the release replaced and which the new one (pure: no server)."""

from __future__ import annotations

import datetime as dt

from gates.monitor.flymemory import LOOKBACK, in_use, memory_query, plan
from gates.platforms.base import Release
from gates.platforms.flymachines import Machine

T1 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # the new release's creation
DAY = dt.timedelta(days=1)


def release(version: int, at: dt.datetime, status: str = "complete") -> Release:
    return Release(version, f"registry.fly.io/app:deployment-{version}", at, status)


def machine(id: str, release: int, updated: dt.datetime, group: str = "app", served: bool = True) -> Machine:
    return Machine(id, group, "started", release, (), served, served, False, instance_id=f"01JINST{id}",
                   updated_at=updated)  # fmt: skip


MACHINES = [
    machine("148e", 2, T1 + dt.timedelta(seconds=30)),
    machine("3d8d", 2, T1 + dt.timedelta(seconds=45)),
    machine("9080", 2, T1 + dt.timedelta(seconds=50), group="worker", served=False),
]


def test_the_release_replaced_is_read_before_its_successor_and_each_new_machine_since_it_took_over():
    """The baseline window ends when the next release was created and reaches LOOKBACK back; each new machine's
    readings start at its own update; the worker (another process group) is left out of the baseline; a machine
    is known by its id and its VM's instance id alike."""
    w = plan([release(2, T1), release(1, T1 - DAY)], MACHINES, 2, "staging")
    assert (w.baseline_release, w.candidate_release, w.skip, w.problem) == (1, 2, "", "")
    assert (w.baseline_from, w.baseline_to) == (T1.timestamp() - LOOKBACK, T1.timestamp())
    assert w.candidate_from == {"148e": T1.timestamp() + 30, "3d8d": T1.timestamp() + 45}
    assert w.names == {"148e": "148e", "01JINST148e": "148e", "3d8d": "3d8d", "01JINST3d8d": "3d8d"}
    assert w.others == {"9080", "01JINST9080"}


def test_a_failed_release_between_ends_the_baseline_where_it_began_and_a_young_baseline_is_read_from_its_start():
    """Release 2 failed: the baseline is release 1, read up to release 2's creation (what ran after may be 2's), and
    never before release 1 itself was created."""
    young = T1 - dt.timedelta(hours=2, seconds=120)
    failed = T1 - dt.timedelta(hours=2)
    w = plan([release(3, T1), release(2, failed, "failed"), release(1, young)],
             [machine("148e", 3, T1 + dt.timedelta(seconds=20))], 3, "staging")  # fmt: skip
    assert (w.baseline_release, w.baseline_from, w.baseline_to) == (1, young.timestamp(), failed.timestamp())


def test_a_machine_updated_before_the_release_was_created_is_read_from_the_release_on():
    """A machine whose updated_at is older than the release (clock skew, a field not bumped) starts at the release."""
    w = plan([release(2, T1), release(1, T1 - DAY)], [machine("148e", 2, T1 - DAY)], 2, "staging")
    assert w.candidate_from == {"148e": T1.timestamp()}


def test_nothing_to_compare_skips_and_what_cannot_be_found_is_a_problem():
    """A first release skips; a release Fly does not list, or no machine of it in rotation, is a problem (fail
    closed); without --expect-release the release the machines in rotation run is the new one."""
    assert plan([release(1, T1)], MACHINES[:1], 1, "staging").skip.startswith("the first release of staging")
    assert "release 7 of staging is not among Fly's releases" in plan([release(1, T1)], MACHINES, 7, "staging").problem
    stale = [machine("148e", 1, T1 - DAY)]
    assert (
        "no machine of staging in rotation runs release 2"
        in plan([release(2, T1), release(1, T1 - DAY)], stale, 2, "staging").problem
    )
    assert plan([release(2, T1), release(1, T1 - DAY)], MACHINES, None, "staging").candidate_release == 2


def test_memory_in_use_is_total_less_available_with_the_total_nearest_in_time():
    """Each `available` sample against its machine's `total` sample nearest in time; no total, no reading."""
    series = [
        ({"__name__": "fly_instance_memory_mem_total", "instance": "a"}, [(0.0, 512.0), (100.0, 1024.0)]),
        ({"__name__": "fly_instance_memory_mem_available", "instance": "a"}, [(10.0, 312.0), (95.0, 824.0)]),
        ({"__name__": "fly_instance_memory_mem_available", "instance": "b"}, [(10.0, 1.0)]),
    ]
    assert in_use(series) == {"a": [(10.0, 200.0), (95.0, 200.0)]}


def test_the_query_reads_both_series_of_the_app_raw_over_the_window():
    """A range selector of both metric names and the app: raw samples, each with its own time."""
    assert memory_query("hotdash-staging", 600) == (
        '{__name__=~"fly_instance_memory_mem_(total|available)",app="hotdash-staging"}[600s]'
    )
