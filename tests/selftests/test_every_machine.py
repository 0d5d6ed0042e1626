"""The every-machine health check: local instances are addressed directly, Fly machines by proxy header."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from gates.checks.machines import FORCE_INSTANCE_HEADER, health_on_every_instance, instance_route
from gates.platforms.base import Instance, Status


def serve(code: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ok"}).encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    return server


@pytest.fixture
def instances() -> Iterator[tuple[Instance, ...]]:
    good, bad = serve(200), serve(503)
    yield tuple(
        Instance(
            id=name,
            release=4,
            state="running",
            healthy=True,
            address=f"127.0.0.1:{s.server_address[1]}",
            port=s.server_address[1],
        )
        for name, s in (("staging-4-a", good), ("staging-4-b", bad))
    )
    for s in (good, bad):
        s.shutdown()
        s.server_close()


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
