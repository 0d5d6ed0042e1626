"""package.json read as data: the scripts a start command goes through, the package manager and
its lockfile.

``npm start`` / ``npm run X`` / ``pnpm X`` / ``yarn X`` are expanded through ``scripts``, nested,
so that what finally serves the app can be judged (``npm start`` without a start script is npm's
default ``node server.js``). Facts: npm's, pnpm's and yarn's CLI docs; a frozen install (``npm ci``,
``pnpm i --frozen-lockfile``, ``yarn install --immutable``) fails without the manager's lockfile.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gates.checks.sourcelines import json_line

LOCKFILES: Mapping[str, tuple[str, ...]] = {
    "npm": ("package-lock.json", "npm-shrinkwrap.json"),
    "pnpm": ("pnpm-lock.yaml",),
    "yarn": ("yarn.lock",),
    "bun": ("bun.lock", "bun.lockb"),
}
NPM_LIFECYCLE = ("start", "test", "stop", "restart")
NPM_DEFAULT_START = "node server.js"  # npm's start with no scripts.start
MAX_DEPTH = 10
SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")", "\n"}


@dataclasses.dataclass(frozen=True)
class Package:
    path: Path
    text: str
    data: Mapping[str, Any]

    def where(self, *keys: str) -> str:
        """``path:line: a.b`` for a key of this package.json (the line where it is set)."""
        line = json_line(self.text, *keys)
        return f"{self.path}:{line}: {'.'.join(keys)}" if line else f"{self.path}: {'.'.join(keys)}"

    @property
    def scripts(self) -> Mapping[str, str]:
        scripts = self.data.get("scripts")
        return {str(k): str(v) for k, v in scripts.items()} if isinstance(scripts, Mapping) else {}

    @property
    def engines_node(self) -> str | None:
        engines = self.data.get("engines")
        value = engines.get("node") if isinstance(engines, Mapping) else None
        return str(value) if value is not None else None

    @property
    def declared_manager(self) -> str | None:
        """The manager of ``"packageManager": "pnpm@9.1.0"`` (corepack's field), if set."""
        value = str(self.data.get("packageManager") or "")
        return value.partition("@")[0] or None


def read_package(path: Path) -> tuple[Package | None, str]:
    """The package.json at ``path``, or None and why it could not be read."""
    try:
        text = path.read_text()
        data = json.loads(text)
    except OSError as exc:
        return None, f"{path}: cannot read: {exc.strerror}"
    except ValueError as exc:
        return None, f"{path}: not valid JSON: {exc}"
    if not isinstance(data, Mapping):
        return None, f"{path}: expected a JSON object"
    return Package(path, text, data), ""


def words(command: str) -> list[str]:
    """Shell words and operators of a command line (plain split when the quoting is unbalanced)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace = " \t\r"
    try:
        return list(lexer)
    except ValueError:
        return command.split()


_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
PREFIXES = {"exec", "env", "--", "dumb-init", "tini", "npx"}


def at_command_position(tokens: list[str], i: int) -> bool:
    """Whether word ``i`` is a command: first, after an operator, a wrapper (exec, env ...) or VAR=value."""
    before = tokens[:i]
    while before and _ASSIGNMENT.match(before[-1]):
        before.pop()
    return not before or before[-1] in SEPARATORS or before[-1] in PREFIXES


def script_calls(command: str, scripts: Mapping[str, str]) -> list[tuple[str, str]]:
    """(how it was called, script name) of each package-script run in ``command``."""
    calls: list[tuple[str, str]] = []
    tokens = words(command)
    for i, token in enumerate(tokens):
        tool = token.rsplit("/", 1)[-1]
        if tool not in ("npm", "pnpm", "yarn", "bun") or not at_command_position(tokens, i):
            continue
        args = [t for t in tokens[i + 1 :] if not t.startswith("-")]
        end = next((j for j, t in enumerate(args) if t in SEPARATORS), len(args))
        args = args[:end]
        if not args:
            continue
        if args[0] in ("run", "run-script") and len(args) > 1:
            calls.append((f"{tool} run {args[1]}", args[1]))
        elif tool == "npm" and args[0] in NPM_LIFECYCLE:
            calls.append((f"npm {args[0]}", args[0]))
        elif tool != "npm" and args[0] in scripts:
            calls.append((f"{tool} {args[0]}", args[0]))
    return calls


def expand(where: str, command: str, package: Package | None) -> tuple[list[tuple[str, str]], list[str]]:
    """The chain of (where, command) from ``command`` through package.json scripts, and the problems on
    the way (a script that is not defined, a loop, no package.json to read)."""
    chain: list[tuple[str, str]] = [(where, command)]
    problems: list[str] = []
    queue = [(where, command, 0)]
    seen: set[str] = set()
    while queue:
        at, text, depth = queue.pop(0)
        for call, name in script_calls(text, package.scripts if package else {}):
            if package is None:
                problems.append(f"{at}: runs `{call}` but there is no package.json to say what it does")
                continue
            if name in seen or depth >= MAX_DEPTH:
                continue
            seen.add(name)
            script = package.scripts.get(name)
            if script is None and name == "start":
                script = NPM_DEFAULT_START
                chain.append((f"{package.path}: scripts.start (not set: npm runs {NPM_DEFAULT_START})", script))
            elif script is None:
                problems.append(f"{package.path}: scripts.{name}: not defined, but {at} runs `{call}`")
                continue
            else:
                chain.append((package.where("scripts", name), script))
            queue.append((chain[-1][0], script, depth + 1))
    return chain, problems


def lockfiles(folder: Path) -> dict[str, str]:
    """Manager -> the lockfile of it present in ``folder``."""
    found: dict[str, str] = {}
    for manager, names in LOCKFILES.items():
        present = next((n for n in names if (folder / n).is_file()), None)
        if present:
            found[manager] = present
    return found
