"""Every machine answers every health path: one bad machine cannot hide behind healthy ones.

Through a load balancer a sample of requests may never reach the broken machine, so each
instance is addressed on its own: on Fly through the public URL with Fly's proxy header
``fly-force-instance-id: <machine id>``; on the local platform directly at its address and port.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gates.checks.http import Requests, health_problem
from gates.core.measurement import Measurement
from gates.platforms.base import Instance, Status

# httpx is imported where a request is made: every gate's collection imports this module, and httpx (with
# the command line it loads) is 50-60 ms of CPU, paid by every gate that makes no request through it.
if TYPE_CHECKING:
    import httpx

FORCE_INSTANCE_HEADER = "fly-force-instance-id"


def instance_route(url: str, instance: Instance) -> tuple[str, dict[str, str]]:
    """Base URL and headers that reach ``instance`` alone."""
    if instance.port is not None and instance.address:
        return f"http://{instance.address}", {}
    return url.rstrip("/"), {FORCE_INSTANCE_HEADER: instance.id}


def health_on_every_instance(client: httpx.Client, status: Status, paths: Sequence[str], timeout: float) -> Measurement:
    """GET every health path on every instance of ``status``; each must answer 200 with a JSON status that is ok
    (judged as the URL-level molecule judges it). Each instance's paths are a series of their own: after one
    gets no answer its other paths are not tried, and no other instance is blamed for it."""
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    if not status.instances:
        problems.append("the platform reports no instances: nothing was checked")
    if not paths:
        problems.append("no health paths configured: nothing was checked")
    for instance in status.instances:
        series = Requests(client, timeout)
        base, headers = instance_route(status.url, instance)
        for path in paths:
            url = base + path
            via = f" ({FORCE_INSTANCE_HEADER}: {instance.id})" if headers else ""
            response, error = series.get(url, headers)
            code = response.status_code if response is not None else None
            if response is not None:
                error = health_problem(response)
            rows.append({"instance": instance.id, "url": url, "header": bool(headers), "status": code})
            if error:
                problems.append(f"instance {instance.id}: GET {url}{via} -> {error}")
    checked = len({r["instance"] for r in rows})
    return Measurement(
        name="every machine answers every health path",
        question="each instance, addressed on its own, answers 200 with status ok on every health path",
        observed=f"{len(rows) - len([p for p in problems if p.startswith('instance ')])} of {len(rows)} answered ok "
        f"on {checked} instance(s)",
        expected=f"200 on {len(paths)} path(s) x {len(status.instances)} instance(s)",
        ok=not problems,
        source=f"GET <path> on each instance of {status.env} (direct, or {FORCE_INSTANCE_HEADER} via {status.url})",
        details=rows,
        problems=problems,
    )
