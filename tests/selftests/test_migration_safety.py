"""squawk over the migrations pending for a database: unsafe statements named file:line and rule, allow-list with reasons."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

from gates.checks.migration_safety import existing_tables, migration_safety, pending_files
from gates.database.migrations import local_migrations, push
from tests.selftests.pgfixtures import write_migrations

SAFE = {
    "20250101000000_notes.sql": "set lock_timeout = '5s';\nset statement_timeout = '30s';\n"
    "create table public.notes (id bigint primary key, body text);\n",
}
# Applied already: unsafe, but history is not linted.
OLD_UNSAFE = {"20250102000000_old_index.sql": "create index notes_body on public.notes (body);\n"}
UNSAFE = {
    "20250103000000_required.sql": "set lock_timeout = '5s';\nset statement_timeout = '30s';\n"
    "alter table public.notes add column owner text not null;\n",
}


def test_an_unsafe_pending_migration_fails_naming_file_line_and_rule(pg_database: str, tmp_path: Path) -> None:
    """A pending NOT NULL column without default fails, named file:line and rule; applied files are not linted."""
    app = tmp_path / "app"
    folder = write_migrations(app, {**SAFE, **OLD_UNSAFE})
    push(pg_database, app, None)
    write_migrations(app, UNSAFE)
    with psycopg.connect(pg_database) as conn:
        pending = pending_files(conn, local_migrations(folder))
    assert [f.filename for f in pending] == ["20250103000000_required.sql"]
    m = migration_safety(pending, [])
    assert not m.ok
    (problem,) = m.problems
    assert problem.startswith("20250103000000_required.sql:3 adding-required-field: ")


def test_an_allow_listed_rule_passes_and_shows_its_reason(tmp_path: Path) -> None:
    """With the rule allow-listed as 'rule: reason', the finding passes and the reason is in the report's details."""
    files = local_migrations(write_migrations(tmp_path, UNSAFE))
    m = migration_safety(files, ["adding-required-field: the table is empty in every environment"])
    assert m.ok, m.explain()
    assert {"allowed rule": "adding-required-field", "reason": "the table is empty in every environment"} in m.details
    assert any(d.get("allowed") == "the table is empty in every environment" for d in m.details)


def test_nothing_pending_passes_and_safe_files_pass(tmp_path: Path) -> None:
    """No pending file passes; a file with lock and statement timeouts creating a table passes."""
    assert migration_safety([], []).ok
    assert migration_safety(local_migrations(write_migrations(tmp_path, SAFE)), []).ok


def test_an_unsafe_pending_migration_fails_the_preflight_molecule(pg_database: str, tmp_path: Path) -> None:
    """`pytest -m preflight` against production fails the migration-safety molecule naming file:line and rule
    of an index on a table the target already has."""
    from gates import config as config_mod
    from gates.gaterun.runner import run_gate
    from tests.selftests.demo import demo_copy, junit_results, write_config

    source = demo_copy(tmp_path / "app")
    push(pg_database, source, None)  # the demo's tables exist: an index on one locks a table in use
    (source / "supabase" / "migrations" / "20990101000000_index.sql").write_text(
        "set lock_timeout = '5s';\nset statement_timeout = '30s';\n"
        "create index ad_campaigns_status on public.ad_campaigns (status);\n"
    )
    path = write_config(
        tmp_path, source=source, environments={"production": {"database_url_env": "GATES_SELFTEST_PF_DB"}}
    )
    os.environ["GATES_SELFTEST_PF_DB"] = pg_database
    try:
        cfg = config_mod.load(path)
        (tmp_path / "out" / "logs").mkdir(parents=True)
        outcome = run_gate(cfg, cfg.environment("production"), "preflight", tmp_path / "out", "preflight")
    finally:
        del os.environ["GATES_SELFTEST_PF_DB"]
    results = junit_results(tmp_path / "out" / "preflight.xml")
    assert not outcome.passed
    message = results["test_pending_migrations_are_safe_for_zero_downtime"]
    assert "20990101000000_index.sql:3 require-concurrent-index-creation" in message
    assert "1 unsafe, 0 allowed, in 1 pending file(s)" in message
    assert "https://squawkhq.com/docs/require-concurrent-index-creation" in message


def test_every_finding_of_every_pending_file_comes_out_of_one_run(tmp_path: Path) -> None:
    """A statement squawk cannot parse hides nothing: the findings after it in that file, and those of the
    other files, are all named in one run, with the syntax error itself."""
    files = local_migrations(
        write_migrations(
            tmp_path,
            {
                "20250201000000_a.sql": "set lock_timeout = '5s';\nset statement_timeout = '30s';\n"
                "create index notes_a on public.notes (body);\n"
                "select from ;\n"
                "alter table public.notes add column a text not null;\n",
                "20250202000000_b.sql": "set lock_timeout = '5s';\nset statement_timeout = '30s';\n"
                "alter table public.notes add column b text not null;\n",
            },
        )
    )
    problems = "\n".join(migration_safety(files, []).problems)
    assert "20250201000000_a.sql:3 require-concurrent-index-creation" in problems
    assert "20250201000000_a.sql:4 syntax-error" in problems
    assert "20250201000000_a.sql:5 adding-required-field" in problems
    assert "20250202000000_b.sql:3 adding-required-field" in problems


def test_locking_rules_are_not_reported_for_a_table_created_in_the_same_pending_set(tmp_path: Path) -> None:
    """An index or a required column on a table an earlier pending file creates is no risk (nobody uses it yet):
    listed in the details, not a problem; the same on an existing table still fails."""
    files = local_migrations(
        write_migrations(
            tmp_path,
            {
                "20250301000000_new.sql": SAFE["20250101000000_notes.sql"].replace("notes", "fresh"),
                "20250302000000_idx.sql": "create index fresh_body on public.fresh (body);\n"
                "alter table fresh add column owner text not null;\n",
            },
        )
    )
    m = migration_safety(files, [])
    assert m.ok, m.explain()
    assert m.observed.endswith("; 4 advice (style, or tables created in this pending set)")
    assert {d["rule"] for d in m.details if d.get("new table") == "public.fresh"} >= {
        "require-concurrent-index-creation",
        "adding-required-field",
    }
    existing = local_migrations(write_migrations(tmp_path / "old", OLD_UNSAFE))
    assert not migration_safety(existing, []).ok


def test_style_rules_and_new_tables_are_advice_and_only_existing_tables_block(pg_database: str, tmp_path: Path) -> None:
    """A drizzle-style CREATE TABLE of a brand-new table with int and serial columns, and an index on it without
    a lock timeout, are advice (listed with file, line, rule and squawk's link), the molecule passes; the same index on a
    table the target database already has fails naming file:line, rule and link, even when the set creates it too."""
    new = {
        "20250401000000_fresh.sql": 'CREATE TABLE "fresh" ("id" serial PRIMARY KEY NOT NULL, "n" integer);\n'
        'CREATE INDEX "fresh_n" ON "fresh" ("n");\n',
    }
    m = migration_safety(local_migrations(write_migrations(tmp_path / "a", new)), [])
    assert m.ok, m.explain()
    advice = {(d["at"], d["rule"], d["link"]) for d in m.details if str(d.get("verdict", "")).startswith("advice")}
    assert ("20250401000000_fresh.sql:1", "prefer-identity", "https://squawkhq.com/docs/prefer-identity") in advice
    assert (
        "20250401000000_fresh.sql:2",
        "require-lock-timeout",
        "https://squawkhq.com/docs/require-lock-timeout",
    ) in advice
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("create table public.fresh (id int, n int)")
        existing = existing_tables(conn)
    m = migration_safety(local_migrations(write_migrations(tmp_path / "b", new)), [], existing=existing)
    assert not m.ok
    assert any(
        p.startswith("20250401000000_fresh.sql:2 require-lock-timeout: ")
        and p.endswith("https://squawkhq.com/docs/require-lock-timeout")
        for p in m.problems
    ), m.explain()
    assert not any("prefer-identity" in p for p in m.problems)
