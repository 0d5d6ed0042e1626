"""The command-line tools gates drives, found without any checkout of gates, and named when missing.

Each tool is looked for, in order: the path ``[tools] <name>`` gives in the config, the variable
``<NAME>_BIN``, the project's own ``node_modules/.bin`` then gates' own tools folder
``~/.gates/tools/node_modules/.bin`` (an install there leaves the app's package.json alone: an
``engine-strict`` .npmrc or a locked package.json cannot refuse it), or the Python environment
gates runs in for tools shipped on PyPI, then PATH. When none has it, the error is one line with the exact
command that installs the pinned version.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from gates.core.errors import UsageError

# The versions gates is tested with; the install hints pin them.
SUPABASE_VERSION = "3.1.0"
SQUAWK_VERSION = "2.70.0"


@dataclasses.dataclass(frozen=True)
class Tool:
    name: str
    variable: str  # the environment variable that may name it
    install: str  # one command that installs the pinned version
    version_args: tuple[str, ...] = ("--version",)
    from_npm: bool = False  # look in <project>/node_modules/.bin
    from_python: bool = False  # look beside the running interpreter (a wheel's script)


TOOLS = {
    "supabase": Tool(
        "supabase", "SUPABASE_BIN", f"npm install --prefix ~/.gates/tools supabase@{SUPABASE_VERSION}", from_npm=True
    ),
    "squawk": Tool("squawk", "SQUAWK_BIN", f"pip install squawk-cli=={SQUAWK_VERSION}", from_python=True),
}


def tools_home() -> Path:
    """gates' own folder of npm-installed tools (``npm install --prefix ~/.gates/tools ...``)."""
    return Path.home() / ".gates" / "tools"


class ToolMissing(UsageError):
    """A tool gates needs is not installed (exit 2: the set-up, not the release, is wrong)."""


@dataclasses.dataclass(frozen=True)
class Found:
    tool: Tool
    path: str
    how: str  # which rule found it

    def version(self) -> str:
        """The first line the tool prints for its version ('' when it does not answer)."""
        try:
            out = subprocess.run(
                [self.path, *self.tool.version_args], capture_output=True, text=True, timeout=20, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        lines = (out.stdout or out.stderr).strip().splitlines()
        return lines[0].strip() if lines else ""


def path_of(name: str) -> str:
    """The executable of tool ``name`` (its variable set by ``[tools]``, or found as ``find`` says, in the
    working folder: gates runs its gates and commands where the config is)."""
    return find(name, roots=(Path.cwd(),)).path


def configure(paths: Mapping[str, Path]) -> None:
    """``[tools]`` paths of the config, for this process and the gates it starts (through the variables)."""
    for name, path in paths.items():
        os.environ[TOOLS[name].variable] = str(path)


def find(name: str, configured: str = "", roots: Sequence[Path] = ()) -> Found:
    """Find tool ``name``; ``configured`` is its ``[tools]`` path, ``roots`` the project folders to search."""
    tool = TOOLS[name]
    if configured:
        return _must(tool, configured, f"[tools] {name}")
    explicit = os.environ.get(tool.variable)
    if explicit:
        return _must(tool, explicit, f"${tool.variable}")
    candidates: list[tuple[Path, str]] = []
    if tool.from_npm:
        folders = dict.fromkeys(root.resolve() for root in [*roots, tools_home()])  # each searched, and named, once
        candidates += [(root / "node_modules" / ".bin" / name, f"{root}/node_modules") for root in folders]
    if tool.from_python:
        candidates.append((Path(sys.executable).parent / name, "the Python environment of gates"))
    for path, how in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return Found(tool, str(path), how)
    on_path = shutil.which(name)
    if on_path:
        return Found(tool, on_path, "PATH")
    raise ToolMissing(
        f"{name} not found (searched {', '.join([*(h for _, h in candidates), 'PATH'])}): install it with "
        f"`{tool.install}`, or set {tool.variable} or [tools] {name} to its path"
    )


def _must(tool: Tool, given: str, how: str) -> Found:
    found = shutil.which(given)
    if not found:
        raise ToolMissing(f"{how} = {given!r}: not an executable; install {tool.name} with `{tool.install}`")
    return Found(tool, found, how)
