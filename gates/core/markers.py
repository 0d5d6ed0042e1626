"""The markers gates registers (gates: which run a test belongs to; concerns: what it checks), and the built-in molecules."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

# The built-in molecules ship in gates/gaterun/molecules (read here as text: importing them needs pytest).
MOLECULES = Path(__file__).resolve().parent.parent / "gaterun" / "molecules"
# The skip reason of a molecule waived in [gate] waive: the report, the JUnit XML and the record say it.
WAIVED_PREFIX = "waived:"

GATES = {
    "preflight": "before anything is deployed: CI, config lint, migration safety, procedures",
    "staging": "the staging gate, after a staging deploy",
    "production": "the promotion gate, before and after production",
    "monitor": "the monitoring window after production",
    "drill": "the rollback drill on staging",
}
CONCERNS = {
    "ci": "CI checks of the commit being deployed",
    "health": "health paths and the release served",
    "database": "migrations, tables, RLS, advisors",
    "browser": "runs a real browser",
    "smoke": "the dashboard works for a user",
    "flags": "feature flags in production",
    "monitoring": "health checks, alerts, error rate and latency",
    "zero_downtime": "no failed request during a rollout",
    "comparison": "the new release against the one it replaces: looks, speed, memory",
}
# Gates that target one environment take it from the marker expression; the others need --env.
ENVIRONMENT_GATES = ("staging", "production")


def molecule_files() -> list[Path]:
    """The built-in molecule files, in a stable order."""
    return sorted(MOLECULES.glob("test_*.py"))


@cache
def builtin_names() -> frozenset[str]:
    """The names of the built-in molecules (the test functions of gates/gaterun/molecules), read without importing them."""
    names: set[str] = set()
    for path in molecule_files():
        tree = ast.parse(path.read_text(), str(path))
        names.update(n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))
    return frozenset(names)


# The seed's step ids (DEVOPS-0xx), by the gate a molecule runs in and its concern; "*" is any concern.
# Production's health covers DEVOPS-008 (the release changed, on every machine) and -009 (every path
# 200 within budget); the monitor is DEVOPS-005 on staging and -012 on production.
SEED_STEPS: dict[tuple[str, str], str] = {
    ("preflight", "ci"): "DEVOPS-001",
    ("preflight", "*"): "DEVOPS-006",
    ("staging", "health"): "DEVOPS-002",
    ("staging", "database"): "DEVOPS-003",
    ("staging", "smoke"): "DEVOPS-004",
    ("staging", "browser"): "DEVOPS-004",
    ("production", "database"): "DEVOPS-007",
    ("production", "health"): "DEVOPS-008/009",
    ("production", "flags"): "DEVOPS-010",
    ("production", "smoke"): "DEVOPS-011",
    ("production", "browser"): "DEVOPS-011",
    ("monitor-staging", "*"): "DEVOPS-005",
    ("monitor-production", "*"): "DEVOPS-012",
    ("drill", "*"): "DEVOPS-013",
}


def gate_of_run(markexpr: str, production: bool) -> str:
    """The gate a run is: the first gate its -m names (preflight, monitor, drill), else the target's
    environment gate (production for the production environment, staging for any other)."""
    for word in re.findall(r"[A-Za-z_][A-Za-z0-9_-]*", markexpr):
        if word in ("preflight", "drill"):
            return str(word)
        if word == "monitor":
            return "monitor-production" if production else "monitor-staging"
    return "production" if production else "staging"


def seed_step(gate: str, concerns: Iterable[str]) -> str:
    """The seed step id of a molecule of ``gate`` with ``concerns`` (its concern markers); empty when none applies."""
    found = [SEED_STEPS[(gate, c)] for c in concerns if (gate, c) in SEED_STEPS]
    return found[0] if found else SEED_STEPS.get((gate, "*"), "")
