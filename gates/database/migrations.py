"""Migrations in Supabase's layout, applied with the real Supabase CLI.

Files are ``supabase/migrations/<version>_<name>.sql``; the history is
``supabase_migrations.schema_migrations (version, name, statements)``.
``push`` runs ``supabase db push`` against any Postgres URL; the checks in
``gates.checks.database`` then read the history back from the database
itself, because the CLI's own report is not proof (see the facts on
supabase/cli#4521, #5047).
"""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from gates.core.errors import GatesError, UsageError
from gates.core.procs import Completed, run
from gates.core.redact import redact, register_secret
from gates.core.tools import path_of

# psycopg is imported where a database is asked: every gate's collection imports this module (through gates'
# molecules), and psycopg is about 70 ms of CPU, paid by every gate that asks no database.
if TYPE_CHECKING:
    import psycopg

# The CLI's own pattern (pkg/migration): anything else in the folder is skipped.
_MIGRATION_FILE = re.compile(r"^(?P<version>[0-9]+)_(?P<name>.*)\.sql$")
HISTORY_TABLE = "supabase_migrations.schema_migrations"
PUSH_TIMEOUT = 120.0
# No telemetry and no update check: the CLI runs offline and should not phone anyone with our targets.
CLI_ENV = {"SUPABASE_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1"}


@dataclasses.dataclass(frozen=True)
class MigrationFile:
    """One local migration file."""

    version: str
    name: str
    path: Path

    @property
    def filename(self) -> str:
        return self.path.name


@dataclasses.dataclass(frozen=True)
class AppliedMigration:
    """One row of the database's migration history."""

    version: str
    name: str
    statements: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class MigrationScan:
    """The migration files of a folder, and what is wrong with the folder (one line each)."""

    files: tuple[MigrationFile, ...]
    problems: tuple[str, ...]


def scan_migrations(directory: Path) -> MigrationScan:
    """The migration files of ``directory`` in version order (the order the CLI applies them), and the
    problems that make a push fail or skip a file: ``.sql`` files the CLI cannot name, shared versions.
    Never raises for the folder's content (a missing folder is a UsageError)."""
    if not directory.is_dir():
        raise UsageError(f"{directory}: migrations folder not found")
    files: list[MigrationFile] = []
    problems: list[str] = []
    for path in sorted(directory.iterdir()):
        m = _MIGRATION_FILE.match(path.name)
        if m and path.is_file():
            files.append(MigrationFile(m.group("version"), m.group("name"), path))
        elif path.suffix == ".sql" and path.is_file():
            problems.append(f"{path.name}: not <digits>_<name>.sql, so `supabase db push` skips it")
    files.sort(key=lambda f: (f.version, f.path.name))
    seen: dict[str, str] = {}
    for f in files:
        if f.version in seen:
            # The history's primary key is the version: the CLI would apply one and fail on the other.
            problems.append(f"{seen[f.version]} and {f.path.name} share version {f.version}")
        seen.setdefault(f.version, f.path.name)
    return MigrationScan(tuple(files), tuple(problems))


def local_migrations(directory: Path) -> list[MigrationFile]:
    """The migration files of ``directory`` in version order; two files sharing a version are a UsageError
    naming both (other names the CLI skips are skipped here too)."""
    scan = scan_migrations(directory)
    shared = [p for p in scan.problems if " share version " in p]
    if shared:
        raise UsageError(f"{directory}: {shared[0]}")
    return list(scan.files)


def out_of_order(files: Iterable[MigrationFile], applied: Iterable[str]) -> list[str]:
    """A line per pending file older than the newest applied version: `supabase db push` refuses it
    (unless --include-all), and applied later it would run after migrations written after it."""
    done = set(applied)
    newest = max((v for v in done if v.isdigit()), key=int, default=None)
    return [
        f"{f.filename}: pending, but older than the newest applied version {newest}"
        " (`supabase db push` refuses it without --include-all; rename it to a newer version)"
        for f in files
        if newest is not None and f.version not in done and int(f.version) < int(newest)
    ]


def applied_migrations(conn: psycopg.Connection[Any]) -> list[AppliedMigration]:
    """The history the database records; [] when it has none (the checks then fail closed)."""
    from psycopg import sql

    found = conn.execute("select to_regclass(%s)", (HISTORY_TABLE,)).fetchone()
    if found is None or found[0] is None:
        return []
    columns = {
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'supabase_migrations' and table_name = 'schema_migrations'"
        ).fetchall()
    }
    # Histories written by old CLI releases lack name and statements.
    name = sql.SQL("coalesce(name, '')" if "name" in columns else "''")
    statements = sql.SQL("coalesce(statements, '{}')" if "statements" in columns else "'{}'::text[]")
    query = sql.SQL("select version, {}, {} from supabase_migrations.schema_migrations order by version").format(
        name, statements
    )
    return [AppliedMigration(str(v), str(n), tuple(s)) for v, n, s in conn.execute(query).fetchall()]


# ---------------------------------------------------------------------------
# Which tables the migrations create

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_NAME = rf"{_IDENT}(?:\s*\.\s*{_IDENT})?"
_EVENTS = re.compile(
    rf"\bcreate\s+(?:or\s+replace\s+)?(?:(?:global|local)\s+)?(?:(?P<temp>temp|temporary)\s+|unlogged\s+)?"
    rf"table\s+(?:if\s+not\s+exists\s+)?(?P<create>{_NAME})"
    rf"|\bdrop\s+table\s+(?:if\s+exists\s+)?(?P<drop>{_NAME}(?:\s*,\s*{_NAME})*)"
    rf"|\balter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?(?P<old>{_NAME})\s+rename\s+to\s+(?P<new>{_IDENT})",
    re.IGNORECASE,
)
# Comments and string literals could hold text that looks like DDL; quoted identifiers must stay.
_NOISE = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|(?P<quoted>\"(?:[^\"]|\"\")*\")", re.DOTALL)


def created_tables(files: Iterable[MigrationFile]) -> list[str]:
    """``schema.table`` of every table the files create and do not drop later, in creation order."""
    tables: dict[str, None] = {}  # an ordered set
    for f in files:
        text = _NOISE.sub(lambda m: m.group("quoted") or " ", f.path.read_text(errors="replace"))
        for m in _EVENTS.finditer(text):
            if m.group("create") and not m.group("temp"):
                tables[_qualified(m.group("create"))] = None
            elif m.group("drop"):
                for name in _split_names(m.group("drop")):
                    tables.pop(_qualified(name), None)
            elif m.group("old"):
                old = _qualified(m.group("old"))
                if old in tables:
                    del tables[old]
                    tables[f"{old.split('.', 1)[0]}.{_ident(m.group('new'))}"] = None
    return list(tables)


_TARGET = re.compile(
    rf"^\s*(?:alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?(?P<alter>{_NAME})"
    rf"|create\s+(?:unique\s+)?index\s+(?:concurrently\s+)?(?:if\s+not\s+exists\s+)?(?:{_IDENT}\s+)?"
    rf"on\s+(?:only\s+)?(?P<index>{_NAME})"
    rf"|create\s+(?:unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?(?P<table>{_NAME}))",
    re.IGNORECASE,
)
_REFERENCES = re.compile(rf"\breferences\s+(?P<ref>{_NAME})", re.IGNORECASE)


def tables_touched(statement: str) -> list[str]:
    """``schema.table`` of the table an ALTER TABLE, CREATE INDEX or CREATE TABLE statement locks (or makes), and
    of the tables its foreign keys reference (they are locked too); [] for any other statement."""
    text = _NOISE.sub(lambda m: m.group("quoted") or " ", statement)
    m = _TARGET.match(text)
    if not m:
        return []
    target = m.group("alter") or m.group("index") or m.group("table")
    return [_qualified(target), *(_qualified(r.group("ref")) for r in _REFERENCES.finditer(text))]


def _split_names(text: str) -> list[str]:
    return re.findall(_NAME, text)


def _ident(token: str) -> str:
    """An identifier as Postgres stores it: quoted ones verbatim, others folded to lower case."""
    token = token.strip()
    return token[1:-1].replace('""', '"') if token.startswith('"') else token.lower()


def _qualified(name: str) -> str:
    parts = [_ident(p) for p in re.findall(_IDENT, name)]
    return ".".join(parts) if len(parts) == 2 else f"public.{parts[0]}"


# ---------------------------------------------------------------------------
# Applying them with the Supabase CLI


def supabase_bin() -> str:
    """The Supabase CLI, found as gates.core.tools says (a one-line install hint when it is missing)."""
    return path_of("supabase")


def push(db_url: str, app_source: Path, log: Path | None, *, migrations_dir: Path | None = None) -> Completed:
    """Apply the pending migrations of ``app_source`` (``supabase/migrations``) to ``db_url`` with the CLI.

    Raises GatesError naming the failing file when the CLI reports a failure.
    The returned Completed is redacted: it carries no password.
    """
    register_url_secrets(db_url)
    migrations = (migrations_dir or app_source / "supabase" / "migrations").resolve()
    if not migrations.is_dir():
        raise UsageError(f"{migrations}: migrations folder not found")
    # The CLI needs no config.toml but writes supabase/.temp into its workdir, and would read the
    # app's config.toml and supabase/.env: a throwaway workdir holding only the migrations keeps
    # the user's folder untouched and the push about migrations alone.
    with tempfile.TemporaryDirectory(prefix="gates-push-") as tmp:
        workdir = Path(tmp)
        (workdir / "supabase").mkdir()
        (workdir / "supabase" / "migrations").symlink_to(migrations, target_is_directory=True)
        args = [supabase_bin(), "db", "push", f"--remote={db_url}", "--yes"]
        result = run(
            [*args, "--workdir", str(workdir), "--output-format", "json"],
            timeout=PUSH_TIMEOUT,
            cwd=workdir,
            env=CLI_ENV,
            log=log,
            check=False,
        )
    result = _redacted(result)
    _raise_on_failure(result, migrations)
    return result


def register_url_secrets(db_url: str) -> None:
    """Mask the URL's password everywhere, also percent-decoded (the CLI may print it decoded).

    Only the password: the rest of the URL says which database a log is about.
    """
    try:
        password = urlsplit(db_url).password
    except ValueError:
        return
    if password:
        register_secret(password)
        register_secret(unquote(password))


def _redacted(result: Completed) -> Completed:
    return dataclasses.replace(
        result,
        args=tuple(redact(a) for a in result.args),
        stdout=redact(result.stdout),
        stderr=redact(result.stderr),
    )


def _cli_report(stdout: str) -> dict[str, Any] | None:
    """The CLI's JSON report: the last line of stdout that parses as a JSON object."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _raise_on_failure(result: Completed, migrations: Path) -> None:
    report = _cli_report(result.stdout)
    if result.returncode == 0 and report is not None and report.get("_tag") != "Error":
        return
    # Fail closed: a non-zero exit, an error report, or no report at all is a failure.
    error = report.get("error") if report else None
    message = str(error.get("message")) if isinstance(error, dict) else _last_lines(result.output)
    # Files run one by one, each announced first: the last one announced is the one that failed.
    applying = re.findall(r"Applying migration (\S+?\.sql)", result.stderr)
    where = f" at {migrations / applying[-1]}" if applying else ""
    # The CLI's error is the server's: its first line, then the statement and a caret (named by _statement).
    said = message.strip().splitlines()[0] if message.strip() else "no output"
    raise GatesError(redact(f"supabase db push failed{where}{_statement(message)} (exit {result.returncode}): {said}"))


def _statement(message: str) -> str:
    """', statement N: <sql>' from the CLI's 'At statement: <0-based index>' and the line after it."""
    m = re.search(r"At statement: (\d+)\n([^\n]*)", message)
    return f", statement {int(m.group(1)) + 1}: {m.group(2).strip()}" if m else ""


def _last_lines(text: str, count: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-count:]) or "no output"
