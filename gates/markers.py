"""The markers gates registers (gates: which run a test belongs to; concerns: what it checks), and the built-in molecules."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

# The built-in molecules ship in this package folder (read here as text: importing them needs pytest).
MOLECULES = Path(__file__).resolve().parent / "molecules"
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
}
# Gates that target one environment take it from the marker expression; the others need --env.
ENVIRONMENT_GATES = ("staging", "production")


def molecule_files() -> list[Path]:
    """The built-in molecule files, in a stable order."""
    return sorted(MOLECULES.glob("test_*.py"))


@cache
def builtin_names() -> frozenset[str]:
    """The names of the built-in molecules (the test functions of gates/molecules), read without importing them."""
    names: set[str] = set()
    for path in molecule_files():
        tree = ast.parse(path.read_text(), str(path))
        names.update(n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))
    return frozenset(names)
