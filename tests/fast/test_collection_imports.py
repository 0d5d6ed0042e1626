"""What a gate's collection imports: gates' plugins and molecules load neither httpx nor psycopg until used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gates

MOLECULES = sorted(Path(gates.__file__).parent.glob("gaterun/molecules/test_*.py"))
# What gates.gaterun.plugin registers at a gate's start (pytest_configure), beside the molecule files.
PLUGINS = [
    "gates.gaterun.plugin", "gates.gaterun.browser", "gates.gaterun.comparison.fixtures",
    "gates.gaterun.comparison.memory", "gates.gaterun.writepath", "gates.gaterun.plugin.hold",
]  # fmt: skip


def test_collecting_a_gate_imports_neither_httpx_nor_psycopg() -> None:
    """Importing gates' plugin modules and every molecule file, as a gate's collection does, loads neither httpx
    nor psycopg (each 50-70 ms of CPU): they are imported where a request is made or a database asked."""
    modules = PLUGINS + [f"gates.gaterun.molecules.{p.stem}" for p in MOLECULES]
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'psycopg'})))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(MOLECULES) >= 10
    assert json.loads(done.stdout.splitlines()[-1]) == []
