"""What `gates rollback` imports: only what a rollback runs, so that the command's own time is the switch's.

Inside the warm window the switch takes milliseconds; the command's start-up (imports) is then most of its
wall time. Its database client (psycopg) is imported where a session starts, and never the gate runner.
"""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
import textwrap

import pytest

from gates.cli import common, release

# Imported by the command's helpers or by the config's loading (each platform driver checks its keys).
DRIVERS = ("gates.cli.main", "gates.platforms.local.platform", "gates.platforms.fly")
HEAVY = ("psycopg", "playwright", "pytest", "_pytest", "httpx", "gates.gaterun", "gates.monitor", "gates.release.runner")  # fmt: skip


def _imported_by(*functions: object) -> set[str]:
    """The modules the import statements in ``functions`` name (they import at their use site)."""
    names: set[str] = set()
    for function in functions:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))  # type: ignore[arg-type]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
    return names


def _loaded_after(modules: set[str]) -> list[str]:
    """sys.modules of a fresh interpreter once it imported ``modules``."""
    code = "import json, sys\n" + "".join(f"import {m}\n" for m in sorted(modules))
    code += "print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_the_rollback_command_imports_no_database_client_browser_or_gate_runner() -> None:
    """The modules `gates rollback` and its helpers import (config, lock, recovery, journal, ledger, goodness,
    the platform drivers) load neither psycopg, Playwright, pytest nor httpx, nor the gate runner, probe or
    monitor: the release package's names are imported on first use, psycopg where a session starts."""
    used = _imported_by(release.cmd_rollback, release._locked, release._telling, common.load, common.recover_crashed)
    assert {"gates.release.goodness", "gates.coordination.lock", "gates.target"} <= used  # what this pins
    loaded = _loaded_after(used | set(DRIVERS))
    heavy = sorted(m for m in loaded if m.startswith(tuple(f"{h}." for h in HEAVY)) or m in HEAVY)
    assert heavy == [], f"`gates rollback` imports {heavy[:12]}"


def test_the_release_package_names_resolve_on_first_use() -> None:
    """`from gates.release import Context, execute, ...` still works; importing the package loads none of them."""
    loaded = _loaded_after({"gates.release"})
    assert "gates.release.runner" not in loaded and "gates.release.context" not in loaded
    import gates.release as package

    for name in package.__all__:
        assert getattr(package, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        package.nothing  # noqa: B018 - the attribute lookup is what is tested
