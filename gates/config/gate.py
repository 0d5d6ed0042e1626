"""``[gate]``: the gate itself (built-in molecules waived by name)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from gates.core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class GateConfig:
    """The gate itself: built-in molecules waived by name, each with the reason the report shows."""

    waive: Mapping[str, str] = dataclasses.field(default_factory=dict)


def validate_gate(gate: GateConfig, path: Path, key: str) -> None:
    from gates.core.markers import builtin_names

    known = builtin_names()
    for name, reason in gate.waive.items():
        if name not in known:
            raise ConfigError(
                path, f"{key}.waive.{name}", f"no built-in molecule of that name (known: {', '.join(sorted(known))})"
            )
        if not reason.strip():
            raise ConfigError(path, f"{key}.waive.{name}", "a waiver needs its reason")
