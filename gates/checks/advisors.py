"""Supabase's database advisors (splinter, via `supabase db advisors`) against an environment's database.

The CLI exits 0 with ``{"_tag": "Error", ...}`` when a lint query fails, so the verdict comes from
parsing its JSON, never from its exit code: an error report, or no report, fails (fail closed).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gates.core.errors import GatesError
from gates.core.measurement import Measurement
from gates.core.procs import run, wait_until
from gates.core.redact import redact
from gates.database.exposed import DEFAULT, advisors_config_toml
from gates.database.migrations import CLI_ENV, register_url_secrets, supabase_bin

# psycopg is imported where a database is asked: every gate's collection imports this module (through gates'
# molecules), and psycopg is about 70 ms of CPU, paid by every gate that asks no database.
if TYPE_CHECKING:
    import psycopg

LEVELS = ("info", "warn", "error")
ADVISORS_TIMEOUT = 120.0
NAME = "advisors"


@dataclasses.dataclass(frozen=True)
class AdvisorsRun:
    """What one run of the CLI printed (secrets masked) and how it exited; ``command`` says what ran."""

    stdout: str
    returncode: int
    command: str


def advisors(
    db_url: str,
    level: str = "error",
    log: Path | None = None,
    *,
    read_only: bool = False,
    prefetched: Path | None = None,
    schemas: Sequence[str] = DEFAULT,
    blind: Sequence[str] = (),
    blind_ok: str = "",
) -> Measurement:
    """Judge the advisors' report at ``level``: from ``prefetched`` (a run the pipeline started with the
    gate, see ``prefetch``) when given, else from running the real CLI against ``db_url`` now, with
    ``schemas`` as the exposed schemas the linter checks.

    ``read_only`` (production) makes the CLI's session read-only, as the gate's own connection is.
    ``blind`` (from ``blind_spots``) fails the verdict too, unless ``blind_ok`` says why that is fine:
    the linter only looks at what anon and authenticated can reach, so there it saw nothing.
    """
    result = read_run(prefetched) if prefetched else _run_now(db_url, log, read_only=read_only, schemas=schemas)
    judged = judge_advisors(result.stdout, result.returncode, level, result.command)
    if not blind:
        return judged
    waived = [{"blind spot": b, "waived": blind_ok} for b in blind] if blind_ok else []
    return dataclasses.replace(
        judged,
        ok=judged.ok and bool(blind_ok),
        details=[*judged.details, *waived],
        problems=[*judged.problems, *(() if blind_ok else blind)],
    )


_BLIND_SQL = """
select s.name, r.name, exists (select from pg_roles where rolname = r.name)
       and has_schema_privilege(r.name, s.name, 'USAGE')
from unnest(%s::text[]) s(name) cross join unnest(array['anon', 'authenticated']) r(name)
where exists (select from pg_namespace where nspname = s.name)
order by 1, 2
"""


def blind_spots(conn: psycopg.Connection[Any], schemas: Sequence[str]) -> list[str]:
    """Exposed schemas the linter cannot see: where anon or authenticated lacks USAGE (Supabase grants it),
    Supabase's exposure lints find nothing, whatever the tables hold. A query that fails is a blind spot too."""
    import psycopg

    try:
        rows = conn.execute(_BLIND_SQL, (list(schemas),)).fetchall()
    except psycopg.Error as exc:
        return [f"could not read the API roles' privileges on {', '.join(schemas)}: {str(exc).strip()}"]
    return [
        f"schema {schema}: {role} has no privilege on it (Supabase grants USAGE to anon and authenticated): "
        "the advisors could not see what Supabase would expose there (waive with [database] advisors_blind_ok)"
        for schema, role, usage in rows
        if not usage
    ]


def run_advisors(
    db_url: str, log: Path | None = None, *, read_only: bool = False, schemas: Sequence[str] = DEFAULT
) -> AdvisorsRun:
    """Run `supabase db advisors` at level info against ``db_url``; the judging is ``judge_advisors``'s."""
    register_url_secrets(db_url)
    db_url = read_only_url(db_url) if read_only else db_url
    # A throwaway workdir (the CLI would otherwise write into the caller's supabase/ folder) whose
    # config.toml names the exposed schemas the gate checks: the CLI sets pgrst.db_schemas from it.
    with tempfile.TemporaryDirectory(prefix="gates-advisors-") as tmp:
        (Path(tmp) / "supabase").mkdir()
        (Path(tmp) / "supabase" / "config.toml").write_text(advisors_config_toml(tuple(schemas)))
        args = [supabase_bin(), "db", "advisors", f"--remote={db_url}", "--output-format", "json", "--workdir", tmp]
        result = run([*args, "--level", "info"], timeout=ADVISORS_TIMEOUT, cwd=tmp, env=CLI_ENV, log=log, check=False)
    return AdvisorsRun(redact(result.stdout), result.returncode, redact(result.command))


def _run_now(db_url: str, log: Path | None, *, read_only: bool, schemas: Sequence[str]) -> AdvisorsRun:
    """``run_advisors``, with a CLI that cannot run (not installed, say) a run that failed saying why."""
    try:
        return run_advisors(db_url, log, read_only=read_only, schemas=schemas)
    except GatesError as exc:
        return AdvisorsRun("", -1, redact(f"supabase db advisors could not run: {exc}"))


def prefetch(db_url: str, path: Path, *, read_only: bool = False, schemas: Sequence[str] = DEFAULT) -> None:
    """Run the CLI and leave its run in ``path`` (whole or not at all); a run that could not happen is
    kept as exit -1 with the reason, which ``judge_advisors`` fails (fail closed)."""
    try:
        result = run_advisors(db_url, read_only=read_only, schemas=schemas)
    except Exception as exc:  # any failure must reach the molecule, never vanish in a thread
        result = AdvisorsRun("", -1, redact(f"supabase db advisors could not run: {exc}"))
    keep_run(path, result)


def keep_run(path: Path, result: AdvisorsRun) -> None:
    """Leave ``result`` in ``path``, whole or not at all (``read_run`` waits for it)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(dataclasses.asdict(result)))
    os.replace(partial, path)


def read_run(path: Path, timeout: float = ADVISORS_TIMEOUT) -> AdvisorsRun:
    """The run ``prefetch`` leaves in ``path``, waiting (bounded) for it to finish."""
    wait_until(f"the advisors run the gate started ({path})", lambda: path.is_file() or None, timeout=timeout)
    try:
        data = json.loads(path.read_text())
        return AdvisorsRun(str(data["stdout"]), int(data["returncode"]), str(data["command"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GatesError(f"{path}: not an advisors run: {exc}") from None


def read_only_url(db_url: str) -> str:
    """``db_url`` with ``default_transaction_read_only=on`` as a startup parameter (the CLI's pgx sends it)."""
    return f"{db_url}{'&' if '?' in db_url else '?'}default_transaction_read_only=on"


def judge_advisors(stdout: str, returncode: int, level: str, source: str) -> Measurement:
    """The verdict on the CLI's JSON report: no finding at or above ``level``; an error report fails."""
    question = f"Supabase's advisors report nothing at level {level.upper()} or above"
    expected = f"0 findings at {level.upper()} or above"
    report = parse_report(stdout)
    problems: list[str] = []
    if report is None and returncode == -1:  # the run never happened; ``source`` says why
        problems.append(f"{source}: nothing was verified")
    elif report is None:
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


def parse_report(stdout: str) -> dict[str, Any] | None:
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
