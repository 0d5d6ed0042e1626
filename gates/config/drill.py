"""``[drill]``: the rollback drill on staging before production."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class DrillConfig:
    """The rollback drill on staging before production (gates/drill.py).

    ``smoke``: the marker expression run against the rolled-back release (its environment is the
    staging one, ``--env`` names it); the rolled-forward release then runs the whole staging gate.
    """

    smoke: str = "staging and smoke"
