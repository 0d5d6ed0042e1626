"""The every-machine health check: local instances are addressed directly, Fly machines by proxy header."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator

import httpx
import pytest

from gates.checks.http import health_paths
from gates.checks.machines import FORCE_INSTANCE_HEADER, health_on_every_instance, instance_route
from gates.checks.release import serves_release
from gates.core.httpclient import gate_client
from gates.platforms.base import Instance, Status
from gates.platforms.local import LocalPlatform
from tests.selftests.blackhole import black_hole, serving
from tests.selftests.demo import DEMO, gates

__all__ = ["black_hole"]  # a fixture of this module


def _instance(name: str, base: str) -> Instance:
    port = int(base.rsplit(":", 1)[1])
    return Instance(id=name, release=4, state="running", healthy=True, address=f"127.0.0.1:{port}", port=port)


def serve(code: int, status: str = "ok") -> contextlib.AbstractContextManager[str]:
    """A health endpoint answering ``code`` with JSON ``{"status": status}``; its base URL."""
    return serving(json.dumps({"status": status}).encode(), "application/json", code)


@pytest.fixture
def instances() -> Iterator[tuple[Instance, ...]]:
    with serve(200) as good, serve(503) as bad:
        yield (_instance("staging-4-a", good), _instance("staging-4-b", bad))


def test_a_bad_local_instance_fails_naming_it_though_the_front_door_might_hide_it(instances):
    """Each local instance is asked on its own port; the 503 one is named, the good one is not."""
    status = Status(env="staging", url="http://127.0.0.1:1", release=4, instances=instances)
    with httpx.Client() as client:
        m = health_on_every_instance(client, status, ["/health", "/api/ads/health"], 5.0)
    assert not m.ok
    bad = instances[1]
    assert list(m.problems) == [
        f"instance staging-4-b: GET http://{bad.address}{p} -> 503, expected 200"
        for p in ("/health", "/api/ads/health")
    ]
    with httpx.Client() as client:
        assert health_on_every_instance(client, Status("staging", "", 4, instances[:1]), ["/health"], 5.0).ok


def test_fly_machines_are_reached_through_the_proxy_header():
    """A machine without a local port is reached at the app URL with fly-force-instance-id."""
    machine = Instance(id="148e21ea7e5d89", release=3, state="started", healthy=True, address="fdaa::2")
    assert instance_route("https://staging.example/", machine) == (
        "https://staging.example",
        {FORCE_INSTANCE_HEADER: "148e21ea7e5d89"},
    )


def test_no_instances_fails_closed():
    """A platform reporting no instance is a failure, not an empty pass."""
    with httpx.Client() as client:
        m = health_on_every_instance(client, Status("staging", "http://x", None, ()), ["/health"], 1.0)
    assert list(m.problems) == ["the platform reports no instances: nothing was checked"]


def test_an_instance_answering_degraded_fails_naming_it():
    """A 200 whose JSON status is "degraded" is judged as the URL-level molecule judges it: that instance fails."""
    with serve(200) as good, serve(200, "degraded") as sick, httpx.Client() as client:
        pair = (_instance("v4-0", good), _instance("v4-1", sick))
        m = health_on_every_instance(client, Status("staging", "http://127.0.0.1:1", 4, pair), ["/health"], 5.0)
    assert list(m.problems) == [f"instance v4-1: GET http://{pair[1].address}/health -> 200 but status 'degraded', expected ok"]


def test_a_series_of_requests_stops_at_its_first_timeout(black_hole):
    """Against an app that never answers, one request waits out its timeout; the rest say they were not tried.
    Each instance is a series of its own: the second one waits out its own timeout, never blamed for the first's."""
    paths = ["/health", "/api/ads/health", "/api/analytics/health"]
    with httpx.Client(base_url=black_hole) as client:
        m = health_paths(client, paths, 0.5)
    assert list(m.problems) == [
        f"GET {black_hole}/health -> no answer within 0.5s",
        f"GET {black_hole}/api/ads/health -> not tried: GET {black_hole}/health timed out",
        f"GET {black_hole}/api/analytics/health -> not tried: GET {black_hole}/health timed out",
    ]
    instances = (_instance("v4-0", black_hole), _instance("v4-1", black_hole))
    with httpx.Client() as client:
        m = health_on_every_instance(client, Status("staging", black_hole, 4, instances), paths[:1], 0.5)
    assert list(m.problems) == [f"instance {i}: GET {black_hole}/health -> no answer within 0.5s" for i in ("v4-0", "v4-1")]


def test_one_degraded_instance_of_two_fails_the_molecule_and_gates_status(make_config, faulty_demo):
    """A release whose second instance answers {"status": "degraded"}: the per-instance molecule names that
    instance, and the platform's status (what `gates status` prints) calls it unhealthy, saying why (an answer whose
    status is not ok, not a timeout), and the other healthy."""
    config = make_config(instances=2)
    env = config.environment("staging")
    platform = LocalPlatform(config)
    platform.deploy(env, str(faulty_demo({"degraded_instances": ["-1"]})))
    status = platform.status(env)
    health = {i.id: i.healthy for i in status.instances}
    sick = [i for i in status.instances if i.id.endswith("-1")]
    assert len(sick) == 1 and health == {i.id: i.id != sick[0].id for i in status.instances}
    with httpx.Client() as client:
        m = health_on_every_instance(client, status, ["/health"], 5.0)
    assert list(m.problems) == [f"instance {sick[0].id}: GET http://{sick[0].address}/health -> 200 but status 'degraded', expected ok"]
    printed = gates("status", "--env", "staging", config=config.path).stdout
    lines = {line.strip().split(":")[0]: line for line in printed.splitlines() if line.strip().startswith("v")}
    assert lines[sick[0].id].rstrip().endswith("UNHEALTHY"), printed
    assert "    why: GET /health: 200 (status not ok), haproxy: UP" in printed.splitlines(), printed
    assert all(line.rstrip().endswith(" healthy") for name, line in lines.items() if name != sick[0].id), printed


def test_an_instance_that_gives_no_answer_is_named_with_that_cause_and_the_one_beside_it_is_not(make_config):
    """One instance of two stopped (SIGSTOP: it accepts, never answers): `gates status` calls it unhealthy saying
    it gave no answer within [app] health_timeout (not an error status), the serves-the-release molecule names it
    with that cause, and the every-machine molecule, through the gate's own client, names it alone: the healthy
    instance asked after it is asked, never failed for the other's silence."""
    config = make_config(instances=2)
    env = config.environment("staging")
    platform = LocalPlatform(config)
    platform.deploy(env, str(DEMO))
    silent, healthy = platform.status(env).instances
    assert silent.pid is not None
    os.killpg(silent.pid, signal.SIGSTOP)
    try:
        status = platform.status(env)
        with gate_client(env.url, config.app.health_timeout) as client:
            m = health_on_every_instance(client, status, ["/health", "/api/ads/health"], config.app.health_timeout)
    finally:
        os.killpg(silent.pid, signal.SIGCONT)
    bound = f"{config.app.health_timeout:g}s"
    assert [(i.id, i.healthy) for i in status.instances] == [(silent.id, False), (healthy.id, True)]
    assert status.instances[0].checks[0] == ("GET /health", f"no answer within {bound} (ReadTimeout)")
    said = serves_release(status, 1, [1], [], env.url).problems
    assert said[0].startswith(f"instance {silent.id} (release 1) is not healthy (GET /health: no answer within {bound}")
    base = f"http://{silent.address}"
    assert list(m.problems) == [
        f"instance {silent.id}: GET {base}/health -> no answer within {bound}",
        f"instance {silent.id}: GET {base}/api/ads/health -> not tried: GET {base}/health timed out",
    ]
