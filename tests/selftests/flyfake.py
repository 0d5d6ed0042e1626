"""The fake `fly` of the self-tests: its state file, written from flyctl-shaped fixtures (see fakes/flyctl/README.md)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

FAKES = Path(__file__).parent / "fakes"
FIXTURES = FAKES / "flyctl"
TOKEN = "fo1_canary-fly-token-9d8c7b6a"  # a canary: must never appear in argv, logs or errors
WORKER = "9080e6d2b4f318"


def web_and_worker(status: dict[str, Any]) -> None:
    """Adds a `worker` process group no service routes to: its machine has no services, and
    `fly status --json` omits `checks` for it (flyctl judges it healthy when started)."""
    worker = copy.deepcopy(status["Machines"][0])
    worker.update(id=WORKER, name="m-worker", private_ip="fdaa:0:1::9")
    worker.pop("checks")
    worker["config"]["metadata"]["fly_process_group"] = "worker"
    worker["config"].pop("services")
    status["Machines"].append(worker)


def auto_stopping(status: dict[str, Any]) -> None:
    """An idle staging app: its service auto-stops (min_machines_running = 0); one machine is stopped,
    the other suspended, neither reports checks."""
    for machine, state in zip(status["Machines"], ("stopped", "suspended"), strict=True):
        machine["state"] = state
        machine.pop("checks")
        for service in machine["config"]["services"]:
            service.update(autostop="suspend" if state == "suspended" else True, min_machines_running=0)


class FakeFly:
    """The fake's state file: flyctl's fixtures (``shape`` changes the app's machines) plus how this run misbehaves."""

    def __init__(self, path: Path, shape: Callable[[dict[str, Any]], None] | None = None, **fake: Any) -> None:
        self.path = path
        state = {
            name: json.loads((FIXTURES / f"{name}.json").read_text())
            for name in ("releases", "status", "checks", "secrets")
        }
        if shape is not None:
            shape(state["status"])
        state["logs"] = (FIXTURES / "logs.txt").read_text()
        state["fake"] = fake
        path.write_text(json.dumps(state))

    @property
    def state(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())  # type: ignore[no-any-return]

    def update(self, **values: Any) -> None:
        self.path.write_text(json.dumps({**self.state, **values}))

    @property
    def calls(self) -> list[dict[str, Any]]:
        return list(self.state["calls"])

    def released_at(self, created: dict[int, float], updated: float) -> None:
        """Release N created at ``created[N]`` and every machine last updated at ``updated`` (epoch seconds), in
        flyctl's RFC 3339 form: a timeline near now, for the metrics read around the release."""
        state = self.state

        def rfc3339(epoch: float) -> str:
            return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        for release in state["releases"]:
            release["CreatedAt"] = rfc3339(created.get(release["Version"], 0.0))
        for machine in state["status"]["Machines"]:
            machine["updated_at"] = rfc3339(updated)
        self.update(releases=state["releases"], status=state["status"])

    def argv(self, command: str) -> list[str]:
        """The argv of the last call of ``command`` (its first word)."""
        return [c["argv"] for c in self.calls if c["argv"][0] == command][-1]
