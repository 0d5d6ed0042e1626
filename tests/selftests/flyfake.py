"""The fake `fly` of the self-tests: its state file, written from flyctl-shaped fixtures (see fakes/flyctl/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FAKES = Path(__file__).parent / "fakes"
FIXTURES = FAKES / "flyctl"
TOKEN = "fo1_canary-fly-token-9d8c7b6a"  # a canary: must never appear in argv, logs or errors


class FakeFly:
    """The fake's state file: flyctl's fixtures plus how this run misbehaves."""

    def __init__(self, path: Path, **fake: Any) -> None:
        self.path = path
        state = {
            name: json.loads((FIXTURES / f"{name}.json").read_text())
            for name in ("releases", "status", "checks", "secrets")
        }
        state["logs"] = (FIXTURES / "logs.txt").read_text()
        state["fake"] = fake
        path.write_text(json.dumps(state))

    @property
    def state(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())  # type: ignore[no-any-return]

    @property
    def calls(self) -> list[dict[str, Any]]:
        return list(self.state["calls"])
