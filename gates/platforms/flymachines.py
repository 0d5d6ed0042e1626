"""Fly machines as flyctl judges them after a deploy, per process group (pure over ``fly status --json``).

flyctl's own wait (``internal/machine/leasable_machine.go``, ``WaitForHealthchecksToPass``) treats a
machine with no configured checks as healthy: the machines of a process group no service routes to
(a ``worker`` in ``[processes]``) have none, and ``fly status --json`` omits ``checks`` for them. A
deploy updates stopped or suspended machines but leaves them so (``shouldSkipLaunch``): the idle
machines of an auto-stopping service (``auto_stop_machines``) are expected to stay down. Every
machine, up or down, must carry the new release. A machine without a ``config`` is judged as a
served one with checks: fail closed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from gates.platforms.base import Instance

# Fly's own bluegreen bookkeeping checks: not the app's health.
IGNORED_CHECK_PREFIX = "bg_deployments_compat"
# fly-go's MachineAutostop marshals off as false, stop as true, suspend as "suspend"; fly.toml spells them out.
AUTO_STOPS = (True, "stop", "suspend")
DOWN_STATES = ("stopped", "suspended")


@dataclasses.dataclass(frozen=True)
class Machine:
    """One machine of ``fly status --json``, with what flyctl's judgement of it needs."""

    id: str
    group: str  # config.metadata.fly_process_group
    state: str
    release: int | None
    checks: tuple[tuple[str, str], ...]  # (name, status) as reported, Fly's bookkeeping dropped
    served: bool  # a service routes to it (config.services)
    checked: bool  # it has checks configured (service checks or machine checks)
    auto_stops: bool  # its service stops or suspends it when idle
    address: str = ""
    instance_id: str = ""  # the VM's own id (a machine's changes when it is updated)
    updated_at: dt.datetime | None = None  # when it last changed: for a machine on a release, when it took it

    @property
    def passing(self) -> bool:
        return bool(self.checks) and all(status == "passing" for _, status in self.checks)

    @property
    def healthy(self) -> bool:
        """Started, and its configured checks pass (none configured: healthy, as flyctl judges it)."""
        return self.state == "started" and (self.passing if self.checked else True)

    def instance(self) -> Instance:
        return Instance(
            id=self.id,
            release=self.release,
            state=self.state,
            healthy=self.healthy,
            address=self.address,
            checks=self.checks,
        )


def parse_machine(raw: Mapping[str, Any]) -> Machine:
    """One machine of ``fly status --json`` (snake_case; release in config.metadata.fly_release_version)."""
    config = raw.get("config")
    known = isinstance(config, Mapping)
    config = config if isinstance(config, Mapping) else {}
    metadata = config.get("metadata") or {}
    version = str(metadata.get("fly_release_version", ""))
    services = [s for s in config.get("services") or [] if isinstance(s, Mapping)]
    checks = tuple(
        (str(c.get("name")), str(c.get("status")))
        for c in raw.get("checks") or []
        if not str(c.get("name", "")).startswith(IGNORED_CHECK_PREFIX)
    )
    return Machine(
        id=str(raw["id"]),
        group=str(metadata.get("fly_process_group") or "app"),
        state=str(raw.get("state", "")),
        release=int(version) if version.isdigit() else None,
        checks=checks,
        served=bool(services) or not known,
        checked=any(s.get("checks") for s in services) or bool(config.get("checks")) or not known,
        auto_stops=any(s.get("autostop") in AUTO_STOPS for s in services),
        address=str(raw.get("private_ip") or ""),
        instance_id=str(raw.get("instance_id") or ""),
        updated_at=_when(raw.get("updated_at")),
    )


def _when(value: Any) -> dt.datetime | None:
    """A machine's RFC 3339 time (``2026-11-27T10:00:00Z``); None when absent or unreadable."""
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
    return when if when is None or when.tzinfo else when.replace(tzinfo=dt.UTC)


def judged(machine: Machine, version: int) -> tuple[str, str]:
    """(problem, note) for one machine after a deploy of ``version``: exactly one of them is empty."""
    who = f"machine {machine.id} ({machine.group}, {machine.state})"
    if machine.release != version:
        return f"{who} runs release v{machine.release}, expected v{version}", ""
    if machine.state == "started":
        shown = ", ".join(f"{n}={s}" for n, s in machine.checks) or "none reported"
        if not machine.checked:
            return "", f"{who}: no configured checks (healthy when started, as flyctl judges it)"
        if machine.passing:
            return "", f"{who}: checks passing ({shown})"
        return f"{who} on v{version} is not healthy (checks: {shown})", ""
    if machine.state in DOWN_STATES and machine.auto_stops:
        return "", f"{who}: left {machine.state} by its auto-stopping service, updated to v{version}"
    why = "its service does not auto-stop" if machine.state in DOWN_STATES else "not started"
    return f"{who} on v{version}: {why}", ""


def machine_verdict(machines: Sequence[Machine], version: int) -> tuple[list[str], list[str]]:
    """(problems, notes): why the machines are not all on ``version`` as flyctl judges them, and how each was judged."""
    if not machines:
        return ["fly status lists no machine"], []
    problems: list[str] = []
    notes: list[str] = []
    for machine in machines:
        problem, note = judged(machine, version)
        (problems if problem else notes).append(problem or note)
    return problems, notes


def in_rotation(machines: Sequence[Machine]) -> list[Machine]:
    """The machines that take the app's traffic now: served and started (workers and idle machines do not)."""
    return [m for m in machines if m.served and m.state == "started"]


def machine_counts(machines: Sequence[Machine]) -> dict[str, int]:
    """Machines per process group (what ``fly scale show`` counts)."""
    counts: dict[str, int] = {}
    for machine in machines:
        counts[machine.group] = counts.get(machine.group, 0) + 1
    return counts
