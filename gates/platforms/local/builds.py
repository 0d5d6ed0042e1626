"""Builds: a snapshot of the app, built once by ``[app] build`` and shared by every environment.

``<builds>/<ref>/`` is the snapshot of a release, built in place (a build may write absolute
paths) and run from there; ``<ref>.json`` beside it says the build finished, ``<ref>.log`` holds its
output. The ref is a hash of the snapshot's content, the build command and ``[app] env``: the same
content is built once, and every later deploy of it reuses that build. A build that fails leaves
no ``<ref>`` folder, so the next deploy builds again.

A build resolves nothing outside its snapshot. Node looks for modules in the ``node_modules`` of
every folder above a file, and ``npm run`` puts every ``node_modules/.bin`` above the package on
PATH; neither can be switched off (NODE_PATH only adds folders), so the one robust isolation is
where the build is: never below a working tree. ``<builds>`` is ``<state_dir>/builds`` when the
state folder is in no project (no ``.git`` or ``node_modules`` at or above it), else a folder of
the user's cache (``$XDG_CACHE_HOME/gates/builds/<app>-<hash of the state folder>``); either way a
``node_modules`` above it stops the build, named. So a build passes or fails the same wherever the
state folder is, as it would on Fly.

The build gets the app's dev dependencies whatever ``[app] env`` says (``NODE_ENV=production`` makes
npm omit them): ``npm_config_include=dev``, as fly launch's Dockerfile runs ``npm ci --include=dev``.
Instances get ``[app] env`` alone.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from gates.config import Config, Environment
from gates.core.errors import GatesError, UsageError
from gates.core.measurement import utcnow
from gates.core.procs import run
from gates.core.redact import redact
from gates.platforms.base import BuildResult
from gates.platforms.local.sitelock import locked
from gates.platforms.local.snapshots import content_ref, take
from gates.platforms.local.state import read_json, write_json

BUILD_TIMEOUT = 900.0  # seconds one build may take
LOG_TAIL = 10  # last lines of a failed build's output in its error
ERROR_LINES = 5  # lines from the first one that says error
_ERROR = re.compile(r"\berror\b|ERR!|Error:", re.IGNORECASE)
_BARE_PREFIXES = ("npm error", "npm ERR!")  # npm's empty lines
# The only variables of the gates process that builds and instances see: its environment holds
# every environment's secrets (PRODUCTION_DB_URL must never reach a staging process or a build).
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "PYTHONPATH", "SSL_CERT_FILE")
PASSED_PREFIXES = ("npm_config_", "NPM_CONFIG_")  # where npm's cache and registry are, when set


# The build's own variables, unless [app] env sets them: npm installs dev dependencies even under NODE_ENV=production.
BUILD_ENV = {"npm_config_include": "dev"}
# A folder holding one of these at or above the state folder is a project: builds go elsewhere.
PROJECT_MARKS = (".git", "node_modules")


def builds_dir(config: Config) -> Path:
    """Where releases are built and run from: never below a project's working tree (see the module's docstring)."""
    state = config.state_dir.resolve()
    if not any((folder / mark).exists() for folder in (state, *state.parents) for mark in PROJECT_MARKS):
        return state / "builds"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(str(state).encode()).hexdigest()[:12]
    name = re.sub(r"[^\w.-]", "_", config.app.name)
    return cache / "gates" / "builds" / f"{name}-{key}"


def check_isolated(root: Path) -> None:
    """UsageError naming the folder when a ``node_modules`` above ``root`` would be resolved by its builds, or
    when ``root`` cannot be made (an unwritable cache folder)."""
    fix = "set XDG_CACHE_HOME or [local] state_dir to a folder outside any project"
    leak = next((f / "node_modules" for f in root.resolve().parents if (f / "node_modules").exists()), None)
    if leak is not None:
        raise UsageError(
            f"builds in {root} would resolve modules from {leak} (Node looks in every folder above): {fix}"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{root}: the builds folder cannot be made ({exc.strerror}): {fix}") from None


def build_env(config: Config) -> dict[str, str]:
    """The environment of a build: an instance's (``command_env``), and the build's own variables under ``[app] env``."""
    return {**command_env(config), **{k: v for k, v in BUILD_ENV.items() if k not in config.app.env}}


def command_env(config: Config) -> dict[str, str]:
    """The environment of a build or an instance before its own variables: a few of gates', ``[app] env``.

    The folder of the interpreter running gates comes first on PATH, so ``python`` in a command is
    the one gates runs with (its virtualenv's), as in an activated virtualenv. No ``node_modules`` folder
    of gates' PATH is on it: a working tree's ``node_modules/.bin`` would stand in for what the snapshot
    must install itself (``npm run`` puts the snapshot's own there).
    """
    passed = {k: v for k, v in os.environ.items() if k in PASSED_ENV or k.startswith(PASSED_PREFIXES)}
    folders = [f for f in passed.get("PATH", os.defpath).split(os.pathsep) if "node_modules" not in Path(f).parts]
    path = os.pathsep.join([str(Path(sys.executable).parent), *folders])
    return {**passed, "PATH": path, **config.app.env}


def build(config: Config, env: Environment | None = None, source: Path | None = None) -> BuildResult:
    """Snapshot the app's source (``source``, default ``[app] source``) and build it, unless a build of the
    same content exists; GatesError naming the command and its error lines when the build fails.

    Release steps call it before migrating an environment, so a release that cannot be built
    changes no database; ``deploy`` calls it again and gets the same build back.
    """
    source = source or config.app_source
    if not source.is_dir():
        raise UsageError(f"{source}: app source folder not found ([app] source)")
    root = builds_dir(config)
    check_isolated(root)
    command = config.app.build.strip()
    with locked(root / "build.lock", "the build lock", timeout=BUILD_TIMEOUT):
        incoming = root / f".incoming-{os.getpid()}"
        shutil.rmtree(incoming, ignore_errors=True)
        try:
            snap = take(source, incoming, leave_out=[config.state_dir, config.record_dir])
            ref = content_ref(incoming, {"build": command, **{f"env.{k}": v for k, v in config.app.env.items()}})
            folder, marker = root / ref, root / f"{ref}.json"
            if folder.is_dir() and marker.is_file():
                done = read_json(marker, {})
                log = root / f"{ref}.log" if command else None
                return BuildResult(ref, folder, snap.commit, snap.origin, command, True, log, done.get("seconds", 0.0))
            marker.unlink(missing_ok=True)
            shutil.rmtree(folder, ignore_errors=True)  # a build that did not finish
            incoming.rename(folder)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        seconds, log = _run_build(config, command, folder, root / f"{ref}.log", env)
        write_json(marker, {"ref": ref, "command": command, "built_at": utcnow().isoformat(), "seconds": seconds})
        return BuildResult(ref, folder, snap.commit, snap.origin, command, False, log, seconds)


def _run_build(
    config: Config, command: str, folder: Path, log: Path, env: Environment | None
) -> tuple[float, Path | None]:
    """Run the build command in the snapshot; on failure remove the snapshot and raise naming the command."""
    if not command:
        return 0.0, None
    started = time.monotonic()
    where = f" for {env.name}" if env else ""
    try:
        result = run(
            ["/bin/sh", "-c", command], cwd=folder, env=build_env(config), inherit=False,
            timeout=BUILD_TIMEOUT, log=log, check=False,
        )  # fmt: skip
    except GatesError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise GatesError(f"build{where} failed: `{redact(command)}`: {exc} (log: {log})") from None
    if result.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise GatesError(
            f"build{where} failed: `{redact(command)}` exited {result.returncode}; "
            f"its output: {failure_excerpt(result.output)} (log: {log})"
        )
    return time.monotonic() - started, log


def failure_excerpt(output: str) -> str:
    """The first error lines and the last LOG_TAIL lines of a failed command's output, one line.

    Tools print the cause first and a long epilogue after it (npm prints its usage text), so the
    tail alone can miss it.
    """
    lines = [
        line for line in _without_usage(output.splitlines()) if line.strip() and line.strip() not in _BARE_PREFIXES
    ]
    first = next((i for i, line in enumerate(lines) if _ERROR.search(line)), len(lines))
    head = lines[first : min(first + ERROR_LINES, max(len(lines) - LOG_TAIL, first))]
    tail = lines[-LOG_TAIL:]
    return " | ".join([*head, "...", *tail] if head else tail)


def _without_usage(lines: list[str]) -> list[str]:
    """``lines`` less npm's usage text (EUSAGE: the command's one-line summary, ``Usage:``, every option, up to
    ``Run "npm help <command>" for more info``): the cause is above it, and it would fill the excerpt."""
    bare = [line.strip().removeprefix("npm error").removeprefix("npm ERR!").strip() for line in lines]
    start = next((i for i, text in enumerate(bare) if text == "Usage:"), None)
    end = next((i for i, text in enumerate(bare) if text.startswith('Run "npm help ')), None)
    if start is None or end is None or end < start:
        return lines
    summary = max((i for i in range(start) if bare[i]), default=start)  # "Clean install a project"
    return lines[:summary] + lines[end + 1 :]


def release_folder(config: Config, snapshots: Path, ref: str) -> Path:
    """Where a release's snapshot is: its build; for a release made before builds left the working tree, its build
    in the state folder; before builds were shared, the environment's own snapshot folder."""
    built = builds_dir(config) / ref
    earlier = [config.state_dir / "builds" / ref, snapshots / ref]
    return next((f for f in [built, *earlier] if f.is_dir()), built)


def prune(config: Config, keep: Collection[str]) -> list[str]:
    """Remove every build (``builds/<ref>`` with its marker and log) and every environment's old-style snapshot
    whose ref is not in ``keep``: what no release can return to. Under the build lock, so no build is half
    made meanwhile. The refs removed."""
    root = builds_dir(config)
    removed: set[str] = set()
    with locked(root / "build.lock", "the build lock", timeout=BUILD_TIMEOUT):
        # Builds made before they left a project's working tree stay in the state folder's own builds/.
        for folder in dict.fromkeys([root, config.state_dir / "builds"]):
            for path in sorted(folder.iterdir()) if folder.is_dir() else ():
                ref = path.name.split(".")[0] if path.suffix in (".json", ".log") else path.name
                if not ref or path.name.startswith(".") or path.name == "build.lock" or ref in keep:
                    continue
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.add(ref)
        for snapshots in config.state_dir.glob("*/snapshots"):
            for path in snapshots.iterdir():
                if path.is_dir() and path.name not in keep:
                    shutil.rmtree(path, ignore_errors=True)
                    removed.add(path.name)
    return sorted(removed)


def folder_bytes(folder: Path) -> int:
    """The bytes of every file under ``folder`` (links not followed; a file removed meanwhile counts nothing)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def state_usage(config: Config) -> dict[str, Any]:
    """Where gates keeps its state on this machine and how many bytes it holds; where the builds are (in it, or in
    the cache folder when the state folder is in a project), how many and their bytes (pruned after each release to
    what a release can return to: ``[local] keep_builds``)."""
    root = builds_dir(config)
    kept = sum(1 for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else 0
    state = folder_bytes(config.state_dir)
    inside = root.resolve().is_relative_to(config.state_dir.resolve())
    return {"path": str(config.state_dir), "bytes": state, "builds": kept, "builds_path": str(root),
            "builds_bytes": folder_bytes(root) if not inside else None}  # fmt: skip
