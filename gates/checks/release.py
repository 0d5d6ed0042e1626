"""Release checks: the environment runs the release that was just deployed, everywhere."""

from __future__ import annotations

from collections.abc import Sequence

from gates.core.measurement import Measurement
from gates.platforms.base import Status


def serves_release(
    status: Status,
    expected: int | None,
    served: Sequence[int | None],
    errors: Sequence[str],
    url: str,
) -> Measurement:
    """Every instance runs ``expected`` and is healthy, and every sampled response came from it."""
    problems: list[str] = []
    if expected is None:
        problems.append("no release is recorded for this environment: nothing was deployed")
    if not status.instances:
        problems.append("the platform reports no instances")
    for inst in status.instances:
        if inst.release != expected:
            problems.append(f"instance {inst.id} runs release {inst.release}, expected {expected}")
        if not inst.healthy:
            problems.append(f"instance {inst.id} (release {inst.release}) is not healthy ({inst.checks_said()})")
    if not served:
        problems.append(f"no response from {url} carried a release")
    wrong = sorted({s for s in served if s != expected}, key=str)
    if wrong:
        problems.append(f"{url} served release(s) {', '.join(map(str, wrong))}, expected {expected}")
    problems += [f"GET {url} -> {e}" for e in errors]
    instances = ", ".join(f"{i.id}=v{i.release}{'' if i.healthy else ' (unhealthy)'}" for i in status.instances)
    return Measurement(
        name="serves the release just deployed",
        question="every instance runs the deployed release, healthy, and the URL serves only it",
        observed=f"instances [{instances}]; responses from {sorted(set(map(str, served)))}",
        expected=f"release {expected} on every instance and response",
        ok=not problems,
        source=f"platform status of {status.env}; {len(served) + len(errors)} x GET {url}",
        details=[
            {"instance": i.id, "release": i.release, "healthy": i.healthy, "address": i.address}
            for i in status.instances
        ],
        problems=problems,
    )
