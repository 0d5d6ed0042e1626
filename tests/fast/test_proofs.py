"""The Foreground Proof table: the plan's 15 items, each with evidence that exists in the record, or why not."""

from __future__ import annotations

import dataclasses

from gates.evidence.proofs import PROVEN, ProofRow, proof_rows, proof_table
from gates.evidence.state import Backup, DocsUpdate, Drill, ReleaseState, Rollback, Signoff, StepRecord

TITLES = [
    "CI green", "Staging deployed", "Staging DB", "Staging smoke tests", "Monitoring", "Production plan",
    "Production DB backup", "Production deploy", "Health checks", "Feature flags", "Production smoke",
    "Metrics (1 hour)", "Rollback test", "Docs updated", "WORK COMPLETE",
]  # fmt: skip


@dataclasses.dataclass
class FakeRecord:
    """A record as the proofs read it: steps, state, releases, and the files its folder holds."""

    steps: list[StepRecord]
    state: ReleaseState
    files: set[str]
    failed: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # JUnit XML -> "molecule: cause"
    outcome: str = "passed"
    reason: str = ""
    id: str = "20261129T120000Z-abcdef"
    releases: dict[str, dict[str, int | None]] = dataclasses.field(
        default_factory=lambda: {"staging": {"before": 1, "after": 2}, "production": {"before": 1, "after": 2}}
    )

    def has(self, relative: str) -> bool:
        return relative in self.files

    def failures(self, report: str) -> tuple[str, ...]:
        return self.failed.get(report, ())


def step(name: str, env: str, *artifacts: str, outcome: str = "passed", detail: str = "") -> StepRecord:
    return StepRecord(name, env, "t0", "t1", outcome, detail or f"{name} {env} {outcome}", list(artifacts))


def full_release() -> FakeRecord:
    """A release that ran every step of the plan, left every file, had its docs committed and its feedback entry."""
    steps = [
        step("preflight", "production", "preflight.html", "preflight.xml"),
        step("migrate", "staging", "logs/migrate-staging.log"),
        step("deploy", "staging", "probe-staging.jsonl"),
        step("gate", "staging", "staging-gate.html", "staging-gate.xml", "logs/staging-gate.log"),
        step("drill", "staging", "drill-smoke.html", "drill-staging-gate.html"),
        step("backup", "production", "logs/backup-production.log", "backups/production.dump"),
        step("signoff", "production", "record.json"),
        step("migrate", "production", "logs/migrate-production.log"),
        step("deploy", "production", "probe-production.jsonl"),
        step("gate", "production", "production-gate.html", "production-gate.xml"),
        step("monitor", "production", "monitor-production.png", "monitor-production.json", "monitor-production-gate.html"),
    ]  # fmt: skip
    state = ReleaseState(
        drill=Drill("staging", passed=True, report="drill-smoke.html", reports=["drill-smoke.html", "drill-staging-gate.html"]),
        signoff=Signoff("production", [], signed=True, by="Ada <ada@example.org>", at="2026-11-29T12:00:00", how="--approve"),
        docs=DocsUpdate(("docs/runbooks/production_deploy.md",), "0123456789abcdef0123456789abcdef01234567"),
        feedback="../../../feedback/devops/2026-11-29.md",
    )  # fmt: skip
    state.backups["production"] = Backup("production", "backups/production.dump", 10, "ab" * 32, verified=True)
    files = {a for s in steps for a in s.artifacts} | {"record.json", "summary.md", "production-gate-video.webp"}
    return FakeRecord(steps, state, files | {state.feedback})


def by_number(rows: list[ProofRow]) -> dict[int, ProofRow]:
    return {r.number: r for r in rows}


def test_a_full_release_proves_all_15_items_in_the_plans_order_each_with_existing_evidence() -> None:
    """Fifteen rows, numbered 1 to 15 with the plan's titles; every one proven by files the record holds."""
    record = full_release()
    rows = proof_rows(record)
    assert [r.number for r in rows] == list(range(1, 16)) and [r.title for r in rows] == TITLES
    assert all(r.status == PROVEN and r.evidence and set(r.evidence) <= record.files for r in rows), rows
    row = by_number(rows)
    assert row[1].evidence == ("preflight.html",)
    assert row[2].evidence == ("probe-staging.jsonl", "staging-gate.html")
    assert row[3].evidence == ("logs/migrate-staging.log", "staging-gate.html")
    assert row[5].evidence == ("monitor-production-gate.html",) and row[12].evidence == ("monitor-production.png",)
    assert row[6].note == "signed by Ada <ada@example.org> at 2026-11-29T12:00:00 (--approve)"
    assert row[7].evidence == ("backups/production.dump",)
    assert row[11].evidence == ("production-gate-video.webp", "production-gate.html")
    assert row[13].evidence == ("drill-smoke.html", "drill-staging-gate.html")
    assert "0123456789abcdef0123456789abcdef01234567" in row[14].note
    assert row[15].evidence == ("../../../feedback/devops/2026-11-29.md",)


def test_a_step_that_passed_without_its_evidence_is_missing_never_proven() -> None:
    """Fail closed: the preflight passed but its report is not in the folder, so item 1 is missing."""
    record = full_release()
    record.files.discard("preflight.html")
    row = by_number(proof_rows(record))[1]
    assert (
        row.status == "missing"
        and row.evidence == ()
        and "preflight production passed but left no evidence" in row.note
    )


def test_a_failed_production_gate_fails_its_items_and_later_items_say_they_did_not_run() -> None:
    """Items 9-11 carry the gate's failure; the monitor skipped after it is 'not run' with the runner's reason."""
    record = full_release()
    record.steps[9] = step(
        "gate", "production", "production-gate.html", outcome="failed", detail="1 of 9 molecules failed: flags"
    )
    record.steps[10] = step("monitor", "production", outcome="skipped", detail="not run: gate production failed")
    record.outcome = "failed"
    row = by_number(proof_rows(record))
    assert [row[n].status for n in (9, 10, 11)] == ["failed"] * 3
    assert row[10].note == "1 of 9 molecules failed: flags" and row[10].evidence == ("production-gate.html",)
    assert row[12].status == "not run" and row[12].note == "not run: gate production failed"


def test_a_gate_that_failed_on_other_molecules_still_proves_the_items_whose_molecules_held() -> None:
    """Only the flags molecule failed: item 10 fails; health (9) and smoke (11) are proven, naming what failed."""
    record = full_release()
    record.steps[9] = step("gate", "production", "production-gate.html", "production-gate.xml", outcome="failed")
    record.failed["production-gate.xml"] = ("test_every_flag_is_false_in_production: 0 of 1 false",)
    row = by_number(proof_rows(record))
    assert row[10].status == "failed" and [row[n].status for n in (9, 11)] == [PROVEN, PROVEN]
    assert row[9].note.endswith("; the gate failed on other molecules: test_every_flag_is_false_in_production")
    record.failed["production-gate.xml"] = ("test_every_machine_answers_every_health_path[web-1]: 500",)
    row = by_number(proof_rows(record))
    assert row[9].status == "failed" and row[10].status == PROVEN


def test_a_staging_without_database_has_nothing_to_migrate_and_says_so() -> None:
    """The migrate step's 'no database configured' makes item 3 not configured, with its words."""
    record = full_release()
    record.steps[1] = step(
        "migrate", "staging", detail="no database configured for staging (database_url_env): nothing to migrate"
    )
    row = by_number(proof_rows(record))[3]
    assert row.status == "not configured" and row.note.startswith("no database configured for staging")


def test_a_rolled_back_production_deploy_is_not_proven() -> None:
    """After the automatic rollback, item 8 fails naming why, its probe file still linked."""
    record = full_release()
    record.outcome = "rolled_back"
    record.state.rollback = Rollback("production", 2, 1, "production gate failed: zero downtime", ["x"])
    row = by_number(proof_rows(record))[8]
    assert row.status == "failed" and row.note == "rolled back: production gate failed: zero downtime"
    assert row.evidence == ("probe-production.jsonl",)


def test_waivers_are_named_with_their_reasons() -> None:
    """A waived drill and a waived flags molecule give 'waived' and the reason, not a pass."""
    record = full_release()
    record.state.drill = Drill("staging", waived="first release: nothing to roll back to (--first-release)")
    record.state.waivers["production: test_every_flag_is_false_in_production"] = "no flags yet"
    row = by_number(proof_rows(record))
    assert (
        row[13].status == "waived"
        and row[13].note == "waived: first release: nothing to roll back to (--first-release)"
    )
    assert row[10].status == "waived" and row[10].note == "waived: no flags yet"


def test_what_is_not_configured_says_which_setting() -> None:
    """No monitor step: items 5 and 12 name [monitor] window; no feedback log: item 15 names [record] feedback."""
    record = full_release()
    record.steps.pop()
    record.state.feedback = ""
    row = by_number(proof_rows(record))
    assert row[5].status == row[12].status == "not configured" and "[monitor] window" in row[12].note
    assert row[15].status == "not configured" and "[record] feedback" in row[15].note
    assert row[15].evidence == ("summary.md",)


def test_docs_updated_but_not_committed_say_so_and_docs_not_updated_say_how() -> None:
    """Item 14: no commit is 'not committed' naming the files; no update yet names the command."""
    record = full_release()
    record.state.docs = DocsUpdate(("docs/runbooks/production_deploy.md",), None)
    row = by_number(proof_rows(record))[14]
    assert row.status == "not committed" and "production_deploy.md" in row.note and "not committed" in row.note
    record.state.docs = None
    row = by_number(proof_rows(record))[14]
    assert row.status == "not run" and "gates report --runbook-timings" in row.note


def test_a_release_still_running_has_pending_items_not_failures() -> None:
    """Items a running release has not reached yet are pending."""
    record = full_release()
    record.steps = record.steps[:4]
    record.outcome = "running"
    record.state = ReleaseState()
    row = by_number(proof_rows(record))
    assert row[4].status == PROVEN
    assert {row[n].status for n in (6, 7, 8, 9, 10, 11, 12, 13, 15)} == {"pending"}


def test_the_markdown_table_has_a_row_per_item_with_links() -> None:
    """Header, separator, 15 rows; evidence as links; a pipe in a note cannot break the table."""
    record = full_release()
    record.steps[0].outcome, record.steps[0].detail = "failed", "a | b"
    lines = proof_table(proof_rows(record))
    assert len(lines) == 17 and lines[0].startswith("| # | proof |")
    assert lines[2] == "| 1 | CI green | Screenshot | failed | [preflight.html](preflight.html) | a \\| b |"
