"""The repository's own GitHub Actions workflows: valid against GitHub's workflow schema, and every
``fly``/``flyctl`` command they run is one flyctl has.

The schema is SchemaStore's github-workflow schema as check-jsonschema vendors it (offline:
``--builtin-schema vendor.github-workflows``); its JSON paths are turned into lines with
ruamel.yaml. flyctl's commands are read as flyctl's cobra tree reads them (``flyctl_tree``, against
the table of ``flyctl_commands``): root commands and aliases, then down to the last subcommand,
its arguments and every flag:
``fly releases`` takes no argument (``cobra.NoArgs``), so ``fly releases rollback`` does not exist
(flyctl#579), a rollback is ``fly deploy --image <ImageRef>``; ``fly deploy`` has no ``--json``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gates.checks import flyctl_tree
from gates.checks.packagejson import SEPARATORS, at_command_position, words
from gates.core.measurement import Measurement

SCHEMA_TIMEOUT = 60.0
FLYCTL_ACTION = "superfly/flyctl-actions@"  # runs `flyctl <with.args>` (setup-flyctl only installs flyctl)
_JSON_PATH = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def workflow_files(folder: Path) -> list[Path]:
    """The workflow files of a ``.github/workflows`` folder, sorted."""
    return sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())


def find_workflows(*starts: Path) -> Path | None:
    """The ``.github/workflows`` of the repository holding the first of ``starts`` that has one: each
    start and its parents up to the repository root (a folder with ``.git``)."""
    for start in starts:
        for folder in (start, *start.parents):
            if (folder / ".github" / "workflows").is_dir():
                return folder / ".github" / "workflows"
            if (folder / ".git").exists():
                break
    return None


def _load(path: Path) -> Any:
    yaml = YAML(typ="rt")
    return yaml.load(path.read_text())


def _line(node: Any, json_path: str) -> int | None:
    """1-based line of a check-jsonschema path (``$.jobs.build.steps[0]``) in a ruamel document."""
    line: int | None = None
    for key, index in _JSON_PATH.findall(json_path.removeprefix("$")):
        try:
            lc = node.lc
            if index:
                line = lc.item(int(index))[0] + 1
                node = node[int(index)]
            else:
                line = lc.key(key)[0] + 1
                node = node[key]
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    return line


def schema_problems(files: Sequence[Path]) -> tuple[list[str], str]:
    """check-jsonschema's errors for ``files`` against GitHub's workflow schema, each as file:line: path: why."""
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", "-o", "json"]
    source = "check-jsonschema --builtin-schema vendor.github-workflows"
    try:
        out = subprocess.run(
            [*command, *map(str, files)], capture_output=True, text=True, timeout=SCHEMA_TIMEOUT, check=False
        )
        report = json.loads(out.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return [f"{source}: no verdict: {type(exc).__name__}: {exc}"], source
    problems = [f"{e.get('filename')}: not YAML: {e.get('message')}" for e in report.get("parse_errors") or []]
    for error in report.get("errors") or []:
        path = Path(str(error.get("filename")))
        try:
            document = _load(path)
        except (OSError, YAMLError):
            document = None
        # best_match is what GitHub would complain of first; best_deep_match the innermost cause.
        matches = [m for m in (error.get("best_match"), error.get("best_deep_match")) if m] or [error]
        for i, match in enumerate(matches):
            if i and match.get("path") == matches[0].get("path"):
                continue
            line = _line(document, str(match.get("path")))
            problems.append(f"{path}:{line or '?'}: {match.get('path')}: {match.get('message')}")
    if not problems and out.returncode != 0:
        problems.append(f"{source} exited {out.returncode}: {(out.stderr or out.stdout).strip()[:300]}")
    return problems, source


def _run_lines(workflow: Any) -> Iterator[tuple[str, int | None, str]]:
    """(key, line, one command line) of every ``run`` of every step of every job, and of the flyctl action's args."""
    jobs = workflow.get("jobs") if hasattr(workflow, "get") else None
    for job_name, job in (jobs or {}).items():
        steps = job.get("steps") if hasattr(job, "get") else None
        for i, step in enumerate(steps or []):
            if not hasattr(step, "get"):
                continue
            with_ = step.get("with")
            if str(step.get("uses", "")).startswith(FLYCTL_ACTION) and hasattr(with_, "get") and with_.get("args"):
                # The flyctl action runs `flyctl <args>`.
                line = _line(workflow, f"$.jobs.{job_name}.steps[{i}].with.args")
                yield f"jobs.{job_name}.steps[{i}].with.args", line, f"flyctl {with_['args']}"
            if not isinstance(step.get("run"), str):
                continue
            key = f"jobs.{job_name}.steps[{i}].run"
            start = _line(workflow, f"$.jobs.{job_name}.steps[{i}].run")
            script = step["run"]
            # A block scalar (run: |) starts on the line after its key.
            offset = 1 if start is not None and "\n" in script else 0
            pending, first = "", 0
            for n, line in enumerate(script.split("\n")):
                first = first if pending else n
                if line.rstrip().endswith("\\"):  # a continued command: one line, numbered where it starts
                    pending += line.rstrip()[:-1] + " "
                    continue
                yield key, (start + offset + first if start is not None else None), pending + line
                pending = ""


def fly_invocations(command: str) -> Iterator[list[str]]:
    """The arguments of each ``fly``/``flyctl`` run in a shell command line."""
    tokens = words(command)
    for i, token in enumerate(tokens):
        if token.rsplit("/", 1)[-1] not in ("fly", "flyctl") or not at_command_position(tokens, i):
            continue
        args: list[str] = []
        for arg in tokens[i + 1 :]:
            if arg in SEPARATORS or arg in (">", ">>", "<", "2>", "2>&1"):
                break
            args.append(arg)
        yield args


def fly_problem(args: Sequence[str]) -> str:
    """Why ``fly ARGS`` is not a flyctl command line ("" when it is one, as far as the command tree is known)."""
    return flyctl_tree.problem(args)


def fly_command_problems(files: Sequence[Path]) -> list[str]:
    """Each workflow step running a fly/flyctl command that does not exist, as file:line: key: why."""
    problems: list[str] = []
    for path in files:
        try:
            workflow = _load(path)
        except (OSError, YAMLError):
            continue  # the schema check names a file that does not parse
        for key, line, command in _run_lines(workflow):
            for args in fly_invocations(command):
                why = fly_problem(args)
                if why:
                    shown = " ".join(["fly", *args])
                    problems.append(f"{path}:{line or '?'}: {key}: `{shown}`: {why}")
    return problems


def _verdict(name: str, question: str, files: Sequence[Path], problems: list[str], source: str) -> Measurement:
    return Measurement(
        name=name,
        question=question,
        observed=f"{len(files)} file(s), {len(problems)} finding(s)",
        expected="no findings",
        ok=not problems,
        source=source,
        details=[{"file": str(f)} for f in files],
        problems=problems,
    )


def workflows_valid(folder: Path) -> Measurement:
    """Every workflow in ``folder`` matches GitHub's workflow schema."""
    files = workflow_files(folder)
    problems, source = schema_problems(files) if files else ([f"{folder}: no workflow files"], "")
    question = "every workflow file validates against GitHub's workflow JSON schema"
    return _verdict("workflows match GitHub's schema", question, files, problems, f"{source} {folder}")


def workflows_run_real_fly_commands(folder: Path) -> Measurement:
    """No workflow step runs a fly/flyctl command that flyctl does not have."""
    files = workflow_files(folder)
    question = "every fly/flyctl command a workflow step runs exists in flyctl"
    source = f"the run steps of {folder}/*.yml"
    return _verdict("workflows run only real flyctl commands", question, files, fly_command_problems(files), source)
