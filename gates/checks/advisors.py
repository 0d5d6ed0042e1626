"""Supabase's database advisors (splinter, via `supabase db advisors`) against an environment's database.

The CLI exits 0 with ``{"_tag": "Error", ...}`` when a lint query fails, so the verdict comes from
parsing its JSON, never from its exit code: an error report, or no report, fails (fail closed).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from gates.database.migrations import CLI_ENV, register_url_secrets, supabase_bin
from gates.measurement import Measurement
from gates.procs import run
from gates.redact import redact

LEVELS = ("info", "warn", "error")
ADVISORS_TIMEOUT = 120.0
NAME = "advisors"


def advisors(db_url: str, level: str = "error", log: Path | None = None, *, read_only: bool = False) -> Measurement:
    """Run the advisors with the real CLI against ``db_url`` and judge its report at ``level``.

    ``read_only`` (production) makes the CLI's session read-only, as the gate's own connection is.
    """
    register_url_secrets(db_url)
    db_url = read_only_url(db_url) if read_only else db_url
    # A throwaway workdir: the CLI would otherwise read and write the caller's supabase/ folder.
    with tempfile.TemporaryDirectory(prefix="gates-advisors-") as tmp:
        args = [supabase_bin(), "db", "advisors", f"--remote={db_url}", "--output-format", "json", "--workdir", tmp]
        result = run([*args, "--level", "info"], timeout=ADVISORS_TIMEOUT, cwd=tmp, env=CLI_ENV, log=log, check=False)
    return judge_advisors(result.stdout, result.returncode, level, redact(result.command))


def read_only_url(db_url: str) -> str:
    """``db_url`` with ``default_transaction_read_only=on`` as a startup parameter (the CLI's pgx sends it)."""
    return f"{db_url}{'&' if '?' in db_url else '?'}default_transaction_read_only=on"


def judge_advisors(stdout: str, returncode: int, level: str, source: str) -> Measurement:
    """The verdict on the CLI's JSON report: no finding at or above ``level``; an error report fails."""
    question = f"Supabase's advisors report nothing at level {level.upper()} or above"
    expected = f"0 findings at {level.upper()} or above"
    report = _report(stdout)
    problems: list[str] = []
    if report is None:
        problems.append(f"the advisors CLI printed no JSON report (exit {returncode}): nothing was verified")
    elif report.get("_tag") == "Error" or "results" not in report:
        error = report.get("error")
        message = error.get("message") if isinstance(error, dict) else report
        code = error.get("code") if isinstance(error, dict) else "?"
        problems.append(f"the advisors CLI reported an error ({code}, exit {returncode}): {message}")
    if problems:
        return Measurement(NAME, question, "no report", expected, False, source, problems=problems)
    assert report is not None
    results = [r for r in report.get("results") or [] if isinstance(r, dict)]
    threshold = LEVELS.index(level)
    failing = [r for r in results if _rank(r) >= threshold]
    problems = [
        f"{r.get('level')} {r.get('name')}: {r.get('detail') or r.get('title')} (remediation: {r.get('remediation')})"
        for r in failing
    ]
    return Measurement(
        name=NAME,
        question=question,
        observed=f"{len(failing)} at {level.upper()} or above, {len(results)} in all",
        expected=expected,
        ok=not problems,
        source=source,
        details=[{k: r.get(k) for k in ("level", "name", "detail", "remediation")} for r in results],
        problems=problems,
    )


def _rank(finding: dict[str, Any]) -> int:
    level = str(finding.get("level", "")).lower()
    # An unknown level counts as the highest: better a false alarm than a silent pass.
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


def _report(stdout: str) -> dict[str, Any] | None:
    """The CLI's JSON object: the whole stdout, else its last line that parses as an object."""
    candidates = [stdout.strip(), *reversed(stdout.strip().splitlines())]
    for text in candidates:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None
