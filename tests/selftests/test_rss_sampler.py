"""The local platform's memory readings on a real process tree: a child that allocates when told to, and its child."""

from __future__ import annotations

import re
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gates.checks.memory import MB, MemoryBounds, memory_steady
from gates.config.comparison import ComparisonConfig
from gates.core.procs import stop_group, wait_until
from gates.platforms.local.memory import RssSampler, instances_rss, rss, tree, tree_rss
from gates.platforms.local.state import Proc

BOUNDS = MemoryBounds.of(ComparisonConfig())  # [comparison]'s defaults
ANSWER_TIMEOUT = 60.0  # seconds a told process has to answer (a loaded machine allocates slowly)

# Reads commands on stdin: "grow N" keeps N more MB (written, so resident), "spawn N" starts a child of its own
# that keeps N MB; answers "ok" once done. Its child answers "ok" to it the same way.
_CHILD = """\
import subprocess, sys
kept, kids = [], []
for line in sys.stdin:
    what, size = line.split()
    if what == "grow":
        kept.append(b"\\x01" * (int(size) * 2**20))
    else:
        kid = subprocess.Popen([sys.executable, "-c", sys.argv[1], size], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        kid.stdout.readline()
        kids.append(kid)
    print("ok", flush=True)
"""
_GRANDCHILD = """\
import sys
kept = b"\\x01" * (int(sys.argv[1]) * 2**20)
print("ok", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def allocator() -> Iterator[subprocess.Popen[str]]:
    """A Python process in a session of its own (as the platform starts instances), stopped with its tree."""
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, _GRANDCHILD], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    with proc:  # its pipes closed at the end
        try:
            yield proc
        finally:
            stop_group(proc)


def tell(proc: subprocess.Popen[str], command: str) -> None:
    """Send a command and wait (bounded) for its "ok"."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    ready, _, _ = select.select([proc.stdout], [], [], ANSWER_TIMEOUT)
    assert ready, f"{command!r}: no answer within {ANSWER_TIMEOUT:g}s"
    assert proc.stdout.readline().strip() == "ok"


def test_the_sampler_sees_a_process_grow_when_it_allocates(allocator):
    """A reading before, 64 MB kept, and the sampler's thread reads at least 60 MB more before it is stopped."""
    before = tree_rss(allocator.pid)
    assert before > 0 and rss(allocator.pid) > 0
    sampler = RssSampler(lambda: {"child": tree_rss(allocator.pid)}, every=0.05).start()
    try:
        tell(allocator, "grow 64")
        wait_until("a reading 60 MB above the first", lambda: any(
            r.rss >= before + 60 * MB for r in sampler.readings), timeout=ANSWER_TIMEOUT)  # fmt: skip
    finally:
        readings = sampler.stop()
    assert not sampler.trouble and sampler.instances() == ["child"]
    assert readings[0].rss < before + 30 * MB and readings[-1].rss >= before + 60 * MB


def test_a_process_tree_counts_its_children(allocator):
    """Memory a child of the process holds is the instance's too: the tree grows by it, the process alone not."""
    tell(allocator, "spawn 48")
    members = tree(allocator.pid)
    assert allocator.pid in members and len(members) == 2
    grandchild = next(p for p in members if p != allocator.pid)
    assert rss(grandchild) >= 45 * MB and rss(allocator.pid) < 45 * MB
    assert tree_rss(allocator.pid) == pytest.approx(rss(allocator.pid) + rss(grandchild), rel=0.05)


def test_memory_growing_with_every_request_is_caught_from_real_readings(allocator):
    """6 MB more per 100 requests served, read after each step: the growth judgement fails naming the slope;
    the same number of readings of a process that holds still passes."""
    served = [0]
    sampler = RssSampler(lambda: {"child": tree_rss(allocator.pid)}, served=lambda: served[0])
    for _ in range(12):
        sampler.sample_once()
        served[0] += 100
    assert memory_steady(sampler.series("child"), BOUNDS).ok
    for _ in range(12):
        tell(allocator, "grow 6")
        served[0] += 100
        sampler.sample_once()
    judged = memory_steady(sampler.series("child")[12:], BOUNDS, name="instance child")
    assert not judged.ok
    assert re.match(r"instance child: memory grows (5[5-9]|6[0-5])\.\d\d MB per 1000 requests \(limit 1\), steadily",
                    judged.problems[0]), judged.problems  # about 60: 6 MB per 100 requests  # fmt: skip


def test_instances_are_read_only_while_they_run(allocator):
    """An instance record names its process by pid and start time: read while it runs, left out once it is gone."""
    ticks = int(Path(f"/proc/{allocator.pid}/stat").read_text().rpartition(")")[2].split()[19])
    proc = Proc(id="web-1", pid=allocator.pid, port=0, release=3, argv=(), log="", started_at="", ticks=ticks)
    assert instances_rss([proc])["web-1"] > 0
    stop_group(allocator)
    assert instances_rss([proc]) == {} and tree_rss(allocator.pid) == 0
