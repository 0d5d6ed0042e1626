"""Migration safety: squawk over the migrations still pending for an environment (the preflight lint).

Only pending files are linted: history already ran and cannot be changed. Every finding of every
pending file comes out of one run: where squawk's parser stops at a statement it cannot read (and
would hide the rest of that file), that statement is blanked and the file linted again.

A finding blocks only where there is danger: a statement that locks or rewrites a table the target
database already has (or one gates cannot place, fail closed). Style rules (``STYLE_RULES``) and
findings on tables created earlier in the same pending set (nobody uses them yet; ``CREATE TABLE``
of a brand-new table) are advice: listed in the report's details, never failing. A blocking finding
passes only when its rule is allow-listed in ``[database] squawk_allow`` as ``"rule: reason"``. Each
finding keeps its file, line, rule and squawk's page for the rule.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gates.checks.database import rls_enabled
from gates.checks.rls_behaviour import rls_behaviour
from gates.checks.security import always_true_policies, definer_functions_pinned
from gates.config import DatabaseConfig
from gates.core.errors import GatesError
from gates.core.measurement import Measurement
from gates.core.procs import run
from gates.core.tools import path_of
from gates.database.migrations import (
    MigrationFile,
    applied_migrations,
    created_tables,
    tables_touched,
)
from gates.database.rehearsed import Inspect, PendingRehearsal
from gates.database.sqltext import split_statements

# psycopg is imported where a database is asked: every gate's collection imports this module (through gates'
# molecules), and psycopg is about 70 ms of CPU, paid by every gate that asks no database.
if TYPE_CHECKING:
    import psycopg

SQUAWK_TIMEOUT = 60.0
NAME = "migration safety"
ARGS = ("--reporter", "json", "--assume-in-transaction", "--pg-version", "15")
# Rules about how a schema is written, not about what running it does to a table in use.
STYLE_RULES = frozenset(
    {
        "prefer-bigint-over-int",
        "prefer-bigint-over-smallint",
        "prefer-big-int",
        "prefer-identity",
        "prefer-text-field",
        "prefer-timestamp-tz",
        "prefer-timestamptz",
        "ban-char-field",
        "prefer-robust-stmts",
    }
)
RULE_DOCS = "https://squawkhq.com/docs/"
_EXISTING_SQL = """
select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'm', 'f') and n.nspname not like 'pg\\_%%' and n.nspname <> 'information_schema'
"""
_MAX_REPARSES = 50
REHEARSAL = "migration rehearsal"
SCHEMA = "rehearsed schema"
# The longest list a molecule's message shows; the rest is counted ("and N more"), the details keep all.
LIST_LIMIT = 20


def pending_files(conn: psycopg.Connection[Any], files: Sequence[MigrationFile]) -> list[MigrationFile]:
    """The files whose version the database does not record yet."""
    applied = {m.version for m in applied_migrations(conn)}
    return [f for f in files if f.version not in applied]


def existing_tables(conn: psycopg.Connection[Any]) -> frozenset[str]:
    """``schema.table`` of every table the target database has now (what a lock would stop)."""
    return frozenset(str(row[0]) for row in conn.execute(_EXISTING_SQL).fetchall())


def squawk_bin() -> str:
    """squawk, found as gates.core.tools says (squawk-cli ships it beside the interpreter gates runs in)."""
    return path_of("squawk")


def allow_list(entries: Sequence[str]) -> dict[str, str]:
    """``{"rule": "reason"}`` from config entries ``"rule: reason"`` (validated when the config is read)."""
    return {rule.strip(): reason.strip() for rule, _, reason in (e.partition(":") for e in entries)}


def migration_safety(
    pending: Sequence[MigrationFile], allow: Sequence[str], log: Path | None = None, *, existing: Collection[str] = ()
) -> Measurement:
    """squawk finds nothing dangerous in the pending files but allow-listed rules; each finding is named
    file:line rule with squawk's link; style rules and findings on tables new in this set are advice."""
    question = "the migrations pending for the target are safe for a zero-downtime deploy (squawk)"
    source = f"squawk {' '.join([*ARGS, *(f.filename for f in pending)])}"
    if not pending:
        return Measurement(NAME, question, "no pending migration", "0 unsafe statements", True, source)
    try:
        findings = _all_findings(pending, existing, log)
    except GatesError as exc:  # fail closed: squawk that could not lint proved nothing
        return Measurement(NAME, question, "squawk failed", "0 unsafe statements", False, source, problems=[str(exc)])
    allowed = allow_list(allow)
    problems: list[str] = []
    details: list[dict[str, Any]] = []
    advice = allowed_count = 0
    for f, finding, fresh in findings:
        where = f"{f.filename}:{int(finding.get('line', 0)) + 1}"  # squawk's lines are 0-based
        rule = str(finding.get("rule_name"))
        link = RULE_DOCS + rule
        reason = allowed.get(rule)
        detail = {"at": where, "rule": rule, "message": finding.get("message"), "link": link}
        if rule in STYLE_RULES:
            advice += 1
            details.append({**detail, "verdict": "advice: a style rule"})
        elif fresh:
            advice += 1
            details.append({**detail, "verdict": f"advice: {fresh} is created in this pending set", "new table": fresh})
        elif reason is not None:
            allowed_count += 1
            details.append({**detail, "verdict": "allowed", "allowed": reason})
        else:
            details.append({**detail, "verdict": "unsafe"})
            problems.append(f"{where} {rule}: {finding.get('message')} ({finding.get('help')}) {link}")
    return Measurement(
        name=NAME,
        question=question,
        observed=f"{len(problems)} unsafe, {allowed_count} allowed, in {len(pending)} pending file(s);"
        f" {advice} advice (style, or tables created in this pending set)",
        expected="0 unsafe statements",
        ok=not problems,
        source=source,
        details=details + [{"allowed rule": r, "reason": why} for r, why in allowed.items()],
        problems=problems,
    )


def _all_findings(
    pending: Sequence[MigrationFile], existing: Collection[str], log: Path | None
) -> list[tuple[MigrationFile, dict[str, Any], str]]:
    """Every finding as (file, finding, the new table it is about or ""), in file order: a statement is about a new
    table when every table it touches is created in the pending set so far and is not in ``existing``."""
    by_name = {f.filename: f for f in pending}
    raw = _squawk([f.path for f in pending], log)
    per_file: dict[str, list[dict[str, Any]]] = {f.filename: [] for f in pending}
    for finding in raw:
        per_file.setdefault(Path(str(finding.get("file"))).name, []).append(finding)
    for name, found in per_file.items():
        if name in by_name and any(x.get("rule_name") == "syntax-error" for x in found):
            per_file[name] = _past_syntax_errors(by_name[name], found, log)
    result: list[tuple[MigrationFile, dict[str, Any], str]] = []
    for i, f in enumerate(pending):
        created = set(created_tables(pending[: i + 1])) - set(existing)
        statements = split_statements(f.path.read_text(errors="replace"))
        offsets = _line_offsets(f.path.read_text(errors="replace"))
        for finding in sorted(
            per_file.get(f.filename, []), key=lambda x: (int(x.get("line", 0)), int(x.get("column", 0)))
        ):
            fresh = ""
            if finding.get("rule_name") != "syntax-error":
                at = _offset(offsets, finding)
                stmt = next((s for s in statements if s.start <= at <= s.end), None)
                touched = tables_touched(stmt.text) if stmt else []
                if touched and all(t in created for t in touched):
                    fresh = touched[0]
            result.append((f, finding, fresh))
    return result


def _past_syntax_errors(f: MigrationFile, found: list[dict[str, Any]], log: Path | None) -> list[dict[str, Any]]:
    """The findings of ``f`` squawk would show if each statement it cannot parse were not there."""
    text = f.path.read_text(errors="replace")
    seen = {_key(x): x for x in found}
    with tempfile.TemporaryDirectory(prefix="gates-squawk-") as tmp:
        copy = Path(tmp) / f.filename
        for _ in range(_MAX_REPARSES):
            errors = [x for x in found if x.get("rule_name") == "syntax-error"]
            if not errors:
                break
            at = _offset(_line_offsets(text), errors[0])
            stmt = max((s for s in split_statements(text) if s.start <= at), key=lambda s: s.start, default=None)
            if stmt is None:
                break
            # Blank, not delete: the lines of the statements after it stay where they are.
            text = text[: stmt.start] + "".join(c if c == "\n" else " " for c in stmt.text) + text[stmt.end :]
            copy.write_text(text)
            found = _squawk([copy], log)
            seen.update({_key(x): x for x in found})
    return list(seen.values())


def _squawk(paths: Sequence[Path], log: Path | None) -> list[dict[str, Any]]:
    result = run([squawk_bin(), *ARGS, *(str(p) for p in paths)], timeout=SQUAWK_TIMEOUT, log=log, check=False)
    try:
        findings = json.loads(result.stdout) if result.stdout.strip() else None
    except ValueError:
        findings = None
    if result.returncode not in (0, 1) or not isinstance(findings, list):
        tail = " | ".join(result.output.strip().splitlines()[-3:]) or "no output"
        raise GatesError(f"squawk could not lint (exit {result.returncode}): {tail}")
    return [x for x in findings if isinstance(x, dict)]


def _key(finding: dict[str, Any]) -> tuple[Any, ...]:
    return (finding.get("line"), finding.get("column"), finding.get("rule_name"))


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    offsets += [i + 1 for i, c in enumerate(text) if c == "\n"]
    return offsets


def _offset(offsets: list[int], finding: dict[str, Any]) -> int:
    line = min(max(int(finding.get("line", 0)), 0), len(offsets) - 1)
    return offsets[line] + max(int(finding.get("column", 0)), 0)


def migration_rehearsal(run: PendingRehearsal, migrations: Path) -> Measurement:
    """Every pending migration applied, each on its own, to a scratch copy of the target's schema (``run``, made
    by ``rehearse_pending``); every file that fails is named with its statement and error. Files the CLI skips,
    versions two files share and pending files older than the newest applied one fail too."""
    question = (
        "every pending migration applies to a copy of the target's schema, and the folder is one `db push` accepts"
    )
    source = f"pg_dump --schema-only of the target, restored into a scratch database; {migrations}"
    expected = "0 failing files, 0 folder problems"
    problems = list(run.folder_problems)
    if run.error:
        problems.append(run.error)
    details: list[dict[str, Any]] = []
    result = run.rehearsal
    failing = len(result.failing) if result else 0
    if result is not None:
        for o in result.outcomes:
            details.append({"file": o.file.filename, "statements": o.statements, "applied": o.ok, "error": o.error})
        problems += [
            f"{o.file.filename}: statement {o.failed_statement} of {o.statements} failed: {o.statement}: {o.error}"
            for o in result.failing
        ]
        details += [{"not restored (platform objects, not the app's)": e} for e in result.restore_errors]
    return Measurement(
        name=REHEARSAL,
        question=question,
        observed=f"{failing} of {len(run.pending)} pending file(s) failed; {len(problems) - failing} folder problem(s)"
        if not run.error.startswith("not rehearsed")
        else "not rehearsed",
        expected=expected,
        ok=not problems,
        source=source,
        details=details + [{"problem": p} for p in problems],
        problems=cut(problems),
    )


def rehearsed_schema(run: PendingRehearsal) -> Measurement:
    """The schema the pending migrations would build (the rehearsal's scratch database, every file that applies
    included, also those after a failing one) passes the database checks run on it: each problem is named
    with the check that found it. Nothing pending: the target itself is what the database molecules judge."""
    question = "the schema the pending migrations would build passes the database checks"
    source = "the database checks on the rehearsal's scratch database, after every pending file ran"
    expected = "0 problems in the schema the migrations would build"
    if not run.pending and not run.error:
        return Measurement(SCHEMA, question, "no pending migration", expected, True, source)
    if run.rehearsal is None:
        return Measurement(SCHEMA, question, "not rehearsed", expected, False, source, problems=[run.error])
    inspected = run.rehearsal.inspected
    problems = [f"{m.name}: {p}" for m in inspected for p in m.problems]
    if not inspected:
        problems.append("no check judged the scratch database: nothing was verified")
    return Measurement(
        name=SCHEMA,
        question=question,
        observed=f"{len(problems)} problem(s) from {len(inspected)} check(s), over {len(run.pending)} pending file(s)",
        expected=expected,
        ok=not problems,
        source=source,
        details=[{"check": m.name, "ok": m.ok, "observed": str(m.observed)} for m in inspected]
        + [{"problem": p} for p in problems],
        problems=cut(problems),
    )


def schema_checks(schemas: Sequence[str], database: DatabaseConfig) -> Inspect:
    """The database checks of the staging gate that judge a schema (not its history), as one ``Inspect`` for the
    rehearsal's scratch database: writes are tried there, it is dropped afterwards."""

    def inspect(conn: psycopg.Connection[Any]) -> list[Measurement]:
        public = database.public_tables
        return [
            rls_enabled(conn, schemas),
            definer_functions_pinned(conn, schemas),
            always_true_policies(conn, schemas, select_fails=database.select_true_fail, public_tables=public),
            rls_behaviour(conn, schemas, public, writes=True),
        ]

    return inspect


def cut(lines: Sequence[str], limit: int = LIST_LIMIT) -> list[str]:
    """At most ``limit`` lines; the rest counted in one last line."""
    return list(lines) if len(lines) <= limit else [*lines[:limit], f"and {len(lines) - limit} more"]
