"""Migration safety: squawk over the migrations still pending for an environment (the preflight lint).

Only pending files are linted: history already ran and cannot be changed. Every finding fails unless
its rule is allow-listed in ``[database] squawk_allow`` as ``"rule: reason"``; allowed findings stay
in the report with their reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from gates.database.migrations import MigrationFile, applied_migrations
from gates.measurement import Measurement
from gates.procs import run
from gates.tools import path_of

SQUAWK_TIMEOUT = 60.0
NAME = "migration safety"


def pending_files(conn: psycopg.Connection[Any], files: Sequence[MigrationFile]) -> list[MigrationFile]:
    """The files whose version the database does not record yet."""
    applied = {m.version for m in applied_migrations(conn)}
    return [f for f in files if f.version not in applied]


def squawk_bin() -> str:
    """squawk, found as gates.tools says (squawk-cli ships it beside the interpreter gates runs in)."""
    return path_of("squawk")


def allow_list(entries: Sequence[str]) -> dict[str, str]:
    """``{"rule": "reason"}`` from config entries ``"rule: reason"`` (validated when the config is read)."""
    return {rule.strip(): reason.strip() for rule, _, reason in (e.partition(":") for e in entries)}


def migration_safety(pending: Sequence[MigrationFile], allow: Sequence[str], log: Path | None = None) -> Measurement:
    """squawk finds nothing in the pending files but allow-listed rules; each finding is named file:line rule."""
    question = "the migrations pending for the target are safe for a zero-downtime deploy (squawk)"
    args = [squawk_bin(), "--reporter", "json", "--assume-in-transaction", "--pg-version", "15"]
    source = " ".join([*args[1:], *(f.filename for f in pending)]) or "squawk"
    if not pending:
        return Measurement(NAME, question, "no pending migration", "0 unsafe statements", True, f"squawk {source}")
    result = run([*args, *(str(f.path) for f in pending)], timeout=SQUAWK_TIMEOUT, log=log, check=False)
    try:
        findings = json.loads(result.stdout) if result.stdout.strip() else None
    except ValueError:
        findings = None
    if result.returncode not in (0, 1) or not isinstance(findings, list):
        # Fail closed: squawk that could not lint proved nothing.
        tail = " | ".join(result.output.strip().splitlines()[-3:]) or "no output"
        return Measurement(
            NAME, question, "squawk failed", "0 unsafe statements", False, f"squawk {source}",
            problems=[f"squawk could not lint (exit {result.returncode}): {tail}"],
        )  # fmt: skip
    allowed = allow_list(allow)
    problems: list[str] = []
    details: list[dict[str, Any]] = []
    for f in findings:
        where = f"{Path(str(f.get('file'))).name}:{int(f.get('line', 0)) + 1}"  # squawk's lines are 0-based
        rule = str(f.get("rule_name"))
        reason = allowed.get(rule)
        details.append({"at": where, "rule": rule, "message": f.get("message"), "allowed": reason or ""})
        if reason is None:
            problems.append(f"{where} {rule}: {f.get('message')} ({f.get('help')})")
    return Measurement(
        name=NAME,
        question=question,
        observed=f"{len(problems)} unsafe, {len(findings) - len(problems)} allowed, in {len(pending)} pending file(s)",
        expected="0 unsafe statements",
        ok=not problems,
        source=f"squawk {source}",
        details=details + [{"allowed rule": r, "reason": why} for r, why in allowed.items()],
        problems=problems,
    )
