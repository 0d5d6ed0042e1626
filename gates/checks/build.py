"""Build reproducibility, judged from the files before any build runs.

The Node of every stage's base image satisfies package.json ``engines.node``; the install the
Dockerfile runs has its package manager's lockfile (``npm ci`` fails without package-lock.json,
``pnpm i --frozen-lockfile`` without pnpm-lock.yaml, ``yarn install --immutable`` without yarn.lock);
npm's lockfile agrees with package.json (``npm ci`` refuses one out of sync). Warnings (no
engines, an install that may rewrite the lockfile, two managers' lockfiles) are listed, not failing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gates.checks import dockerfile as df
from gates.checks.packagejson import LOCKFILES, Package, lockfiles, read_package, words
from gates.checks.semver import RangeError, floating, satisfies, show
from gates.core.measurement import Measurement

_FROZEN = re.compile(r"--frozen-lockfile|--immutable|--ci\b")
DEPENDENCY_KEYS = ("dependencies", "devDependencies", "optionalDependencies")


def installs(runs: list[tuple[int, str]]) -> list[tuple[int, str, str, bool]]:
    """(line, manager, install command, frozen) of each dependency install in the Dockerfile's RUNs."""
    found: list[tuple[int, str, str, bool]] = []
    for line, command in runs:
        for part in re.split(r"&&|;|\|\|", command):
            tokens = words(part.strip())
            if len(tokens) < 1 or tokens[0] not in LOCKFILES:
                continue
            tool, sub = tokens[0], (tokens[1] if len(tokens) > 1 else "install")
            if tool == "npm" and sub == "ci":
                found.append((line, "npm", part.strip(), True))
            elif tool == "npm" and sub in ("install", "i"):
                found.append((line, "npm", part.strip(), False))
            elif tool != "npm" and (sub in ("install", "i") or sub.startswith("-")):
                found.append((line, tool, part.strip(), bool(_FROZEN.search(part))))
    return found


def _engines(package: Package, stages: list[df.Stage], dockerfile: Path) -> tuple[list[str], list[str]]:
    wanted = package.engines_node
    if wanted is None:
        return [], [f"{package.path}: engines.node: not set: nothing pins the Node version the app needs"]
    try:
        satisfies((0, 0, 0), wanted)
    except RangeError as exc:
        return [f"{package.where('engines', 'node')} = {wanted!r}: not a version range ({exc})"], []
    problems: list[str] = []
    judged = 0
    for stage, image in df.stage_images(stages):
        tag = df.node_tag(image)
        label = f"{dockerfile}:{stage.line}: FROM {stage.image}" + (
            f" (built on {image})" if image != stage.image else ""
        )
        if tag is None:
            if image.partition("@")[0].rsplit("/", 1)[-1].partition(":")[0] == "node":
                problems.append(f"{label}: the tag names no Node version (it floats); pin one, e.g. node:20-slim")
            continue
        judged += 1
        version = floating(tag)
        if not satisfies(version, wanted):
            problems.append(
                f"{label}: Node {show(version)} does not satisfy {package.where('engines', 'node')} = {wanted!r}"
            )
    if not judged and not problems:
        problems.append(f"{dockerfile}: no FROM names a Node version to check against engines.node = {wanted!r}")
    return problems, []


def _lock_in_sync(package: Package, lock_path: Path) -> list[str]:
    """npm ci refuses a lockfile whose root entry disagrees with package.json: name each difference."""
    try:
        lock = json.loads(lock_path.read_text())
    except (OSError, ValueError) as exc:
        return [f"{lock_path}: not readable JSON: {exc}"]
    root: Any = (lock.get("packages") or {}).get("") if isinstance(lock, Mapping) else None
    if not isinstance(root, Mapping):
        return []  # lockfile v1 has no root entry to compare
    problems: list[str] = []
    for key in DEPENDENCY_KEYS:
        wanted: Mapping[str, Any] = package.data.get(key) or {}
        locked: Mapping[str, Any] = root.get(key) or {}
        for name in sorted(set(wanted) | set(locked)):
            if wanted.get(name) != locked.get(name):
                problems.append(
                    f"{package.where(key, name) if name in wanted else f'{package.path}: {key}.{name}'} = "
                    f"{wanted.get(name)!r} but {lock_path.name} has {locked.get(name)!r}: out of sync, "
                    "npm ci refuses it; run npm install and commit the lockfile"
                )
    return problems


def _lockfile(package: Package, stages: list[df.Stage], dockerfile: Path) -> tuple[list[str], list[str]]:
    folder = package.path.parent
    present = lockfiles(folder)
    steps = installs(df.runs(stages))
    problems: list[str] = []
    warnings: list[str] = []
    declared = package.declared_manager
    manager = declared or (steps[0][1] if steps else None) or (next(iter(present)) if len(present) == 1 else "npm")
    for line, tool, command, frozen in steps:
        if declared and tool != declared:
            problems.append(
                f"{dockerfile}:{line}: RUN {command}: installs with {tool}, but {package.where('packageManager')} "
                f"= {package.data.get('packageManager')!r}"
            )
        if tool not in present:
            problems.append(
                f"{dockerfile}:{line}: RUN {command}: no {' or '.join(LOCKFILES[tool])} in {folder}: "
                f"{'the install fails' if frozen else 'the dependencies are whatever resolves today'}; "
                f"install once and commit the lockfile"
            )
        elif not frozen:
            warnings.append(f"{dockerfile}:{line}: RUN {command}: may rewrite {present[tool]}; use a frozen install")
    if not steps and manager not in present:
        problems.append(
            f"{folder}: no lockfile for {manager} ({' or '.join(LOCKFILES[manager])}): the build is not reproducible"
        )
    if len(present) > 1:
        warnings.append(f"{folder}: lockfiles of several managers: {', '.join(sorted(present.values()))}")
    if "npm" in present and manager == "npm":
        problems += _lock_in_sync(package, folder / present["npm"])
    return problems, warnings


def build_reproducible(dockerfile: Path, package_json: Path) -> Measurement:
    """The Dockerfile's Node satisfies engines.node and its install has the lockfile it needs."""
    problems: list[str] = []
    warnings: list[str] = []
    package, error = read_package(package_json)
    try:
        stages = df.stages(dockerfile.read_text())
    except OSError as exc:
        stages, problems = [], [f"{dockerfile}: cannot read: {exc.strerror}"]
    if package is None:
        problems.append(error)
    elif not problems:
        for judge in (_engines, _lockfile):
            found, warned = judge(package, stages, dockerfile)
            problems += found
            warnings += warned
    return Measurement(
        name="the image builds reproducibly",
        question="each stage's Node satisfies engines.node; the install has its lockfile, in sync with package.json",
        observed=f"{len(problems)} finding(s); warnings: {'; '.join(warnings) or 'none'}",
        expected="no findings",
        ok=not problems,
        source=f"{dockerfile} and {package_json}",
        details=[{"level": "warning", "message": w} for w in warnings],
        problems=problems,
    )
