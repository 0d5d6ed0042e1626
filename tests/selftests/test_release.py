"""A whole release of the demo on the local platform, and the faults its gates must catch.

One release is deployed for the module (staging on a database whose URL
carries a canary password, production on gates' own local cluster); the
read-only tests share it, the fault tests restore what they break. Near the
end a second release (a flag switched on in code) runs the rollback drill for
real and is rolled back automatically by its production gate.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gates import config as config_mod
from gates.bench.sandbox import NOTIFY, NOTIFY_ENV, demo_webhook, release_cli
from gates.evidence.proofs import proof_rows
from gates.evidence.record import Record
from gates.gaterun.runner import run_gate
from gates.platforms import platform_for
from gates.release import plan
from gates.release.schedule import waits
from tests.selftests.demo import (
    REPO,
    demo_copy,
    failures,
    gates,
    junit_results,
    none_failed,
    port_is_free,
    write_config,
)
from tests.selftests.streamed import Streamed, run_streamed

pytestmark = pytest.mark.xdist_group("release")

CANARY = "canary-pw-7Qx81"
STAGING_DB_ENV = "GATES_SELFTEST_STAGING_DB"
# The production gate's flag molecule reads what the app serves at /api/flags.
FLAGS = '\n[flags]\nnames = ["ANALYTICS_REAL_DATA"]\nsource = "endpoint"\n'


@dataclass
class Released:
    config: Path
    folder: Path
    result: Streamed
    staging_db: str

    @property
    def cfg(self) -> config_mod.Config:
        return config_mod.load(self.config)

    @property
    def record(self) -> Path:
        """The first release's record (a later test adds a second one)."""
        return sorted((self.folder / "deploys").iterdir())[0]


def _deploy(config: Path, *args: str, on_line: Callable[[str], None] | None = None) -> Streamed:
    """`gates deploy --approve`, its notifications sent to the staging app's webhook stand-in; stdout read as it streams."""
    return run_streamed(
        [sys.executable, *release_cli(), "--config", str(config), "deploy", *args, "--approve"],
        cwd=REPO, timeout=900, env={**os.environ, **demo_webhook(config)}, on_line=on_line,
    )  # fmt: skip


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory, pg_cluster) -> Iterator[Released]:
    folder = tmp_path_factory.mktemp("release")
    staging_db = pg_cluster.ensure_database("release_staging").replace("postgres@", f"postgres:{CANARY}@", 1)
    environments = {"staging": {"database_url_env": STAGING_DB_ENV}, "production": {}}
    config = write_config(folder, environments=environments, extra=NOTIFY + FLAGS)
    previous = os.environ.get(STAGING_DB_ENV)
    os.environ[STAGING_DB_ENV] = staging_db
    try:
        # Signed off with --approve; notifications go to the staging app's webhook stand-in, as in `make demo`.
        result = _deploy(config, "--first-release", "--events", str(folder / "events.jsonl"))
        yield Released(config, folder, result, staging_db)
    finally:
        gates("down", config=config)
        if previous is None:
            os.environ.pop(STAGING_DB_ENV, None)
        else:
            os.environ[STAGING_DB_ENV] = previous


def test_a_whole_release_of_the_demo_passes(release):
    """`gates deploy --first-release` runs the preflight, builds, migrates, deploys and gates staging, waives the drill, then backs up, migrates, deploys and gates production."""
    assert release.result.returncode == 0, release.result.stdout + release.result.stderr
    record = json.loads((release.record / "record.json").read_text())
    assert record["outcome"] == "passed"
    steps = {(s["name"], s["env"]): s for s in record["steps"]}
    # In the order they started: steps that ran beside each other may have started either way round.
    assert sorted((s["name"], s["env"], s["outcome"]) for s in record["steps"]) == sorted([
        ("preflight", "production", "passed"), ("build", "staging", "passed"),
        ("migrate", "staging", "passed"), ("deploy", "staging", "passed"), ("gate", "staging", "passed"),
        ("drill", "staging", "passed"), ("backup", "production", "passed"), ("signoff", "production", "passed"),
        ("migrate", "production", "passed"), ("deploy", "production", "passed"), ("gate", "production", "passed"),
    ])  # fmt: skip
    backup = record["backup"]
    assert backup["verified"] is True and backup["env"] == "production" and len(backup["sha256"]) == 64
    assert (release.record / backup["path"]).stat().st_size == backup["bytes"] > 0
    assert backup["server_version"].startswith("15")
    assert record["releases"] == {"staging": {"before": None, "after": 1}, "production": {"before": None, "after": 1}}
    drill = record["drill"]
    assert drill["passed"] is False and drill["waived"] == "first release: nothing to roll back to (--first-release)"
    assert "waived: first release of demo on staging" in steps["drill", "staging"]["detail"]
    # The Python demo has no build command: the build step takes its snapshot, which the deploy ships.
    assert "(no build command)" in steps["build", "staging"]["detail"]
    assert "(no build command)" in steps["deploy", "staging"]["detail"]
    assert "logs/instances-staging.log" in steps["deploy", "staging"]["artifacts"]  # the instances' logs kept with the deploy


def _span(step: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    return dt.datetime.fromisoformat(step["started_at"]), dt.datetime.fromisoformat(step["ended_at"])


def test_the_backup_runs_beside_the_staging_gate_and_no_step_starts_before_what_it_waits_on(release):
    """Production's backup reads only production's database: it ran while staging's gate ran (their recorded times
    overlap), and each step began only after every step it waits on had ended (the plan's order of decisions)."""
    steps = {f"{s['name']} {s['env']}": s for s in json.loads((release.record / "record.json").read_text())["steps"]}
    backup, gate = _span(steps["backup production"]), _span(steps["gate staging"])
    assert backup[0] < gate[1] and gate[0] < backup[1], (backup, gate)
    for title, after in waits(plan(release.cfg)).items():
        for needed in after:
            assert _span(steps[needed])[1] <= _span(steps[title])[0], f"{title} started before {needed} ended"
    summary = (release.record / "summary.md").read_text()
    assert "| step | env | outcome | at | took |" in summary and "| backup | production | passed | +" in summary


def test_the_release_is_signed_off_announced_and_ends_with_its_completion_block(release):
    """The sign-off names its signer (--approve) and a full checklist; the staging stand-in webhook got the messages in order."""
    record = json.loads((release.record / "record.json").read_text())
    signoff = record["signoff"]
    assert signoff["signed"] and signoff["how"] == "--approve" and signoff["by"] and signoff["at"]
    assert [i["item"] for i in signoff["checklist"] if i["checked"]] == [
        "preflight passed", "rollback drill passed in this release", "proven backup of this release",
        "notifications reachable",
    ]  # fmt: skip
    sent = [(n["event"], n["delivered"]) for n in record["notifications"]]
    # The first message goes out before staging (its receiver) is up: kept as undelivered, not blocking.
    assert sent == [("started", False), ("staging passed", True), ("production promoted", True), ("completed", True)]
    webhook = demo_webhook(release.config)[NOTIFY_ENV]  # a credential: never written
    assert webhook not in (release.record / "record.json").read_text() + release.result.stdout + release.result.stderr
    summary = (release.record / "summary.md").read_text()
    assert "- [x] Production deployed: production release 1, gate passed ([evidence](production-gate.html))" in summary


def test_the_record_holds_both_html_reports_and_the_logs(release):
    """The record folder keeps a self-contained HTML report per gate, JUnit XML, command logs and a summary."""
    names = {p.relative_to(release.record).as_posix() for p in release.record.rglob("*") if p.is_file()}
    for env in ("staging", "production"):
        assert {f"{env}-gate.html", f"{env}-gate.xml", f"logs/{env}-gate.log", f"logs/migrate-{env}.log"} <= names
        html = (release.record / f"{env}-gate.html").read_text()
        assert "test_every_health_path_answers_200" in html and "gates-measurements" in html
        assert "test_dashboard_loads_inside_the_admin_frame" in html and "data:image/png;base64," in html
        # The advisors ran beside the gate's start-up; the molecule judged that run, kept as evidence.
        run = json.loads((release.record / f"{env}-gate-advisors.json").read_text())
        assert run["returncode"] == 0 and '"results"' in run["stdout"]
        assert "test_supabase_advisors_report_nothing_at_the_configured_level" in html
    summary = (release.record / "summary.md").read_text()
    assert "passed" in summary and "[staging-gate.html](staging-gate.html)" in summary
    assert "supabase" in (release.record / "logs" / "migrate-staging.log").read_text().lower()


def _line(pattern: str) -> Callable[[str], bool]:
    return lambda line: re.search(pattern, line) is not None


def test_the_release_is_told_as_it_happens(release):
    """Each step is printed when it starts and when it ends, each molecule as it finishes (named with its gate while
    another step runs beside it): the staging gate's outcome line (with its molecules before it) arrives before any
    production step that acts starts; production's backup, which only reads, starts beside the staging gate."""
    out = release.result
    started, _, _ = out.first(_line(r"^\d\d:\d\d:\d\d started +gate staging$"))
    health, _, said = out.first(_line(r" passed +(staging gate: )?test_every_health_path_answers_200 \["))
    gated, gated_at, _ = out.first(_line(r"^\d\d:\d\d:\d\d passed +gate staging \(\d+\.\ds\): \d+ molecules passed"))
    production, production_at, _ = out.first(_line(r" started +(signoff|migrate|deploy|gate) production$"))
    assert started < health < gated < production and gated_at <= production_at, out.stdout
    backup, _, _ = out.first(_line(r" started +backup production$"))
    assert backup < gated < production, out.stdout  # beside the gate, before the sign-off
    assert "[DEVOPS-002 health]" in said
    # The end: the summary's path, once, after the last step (no table of every step again: they were told live).
    assert out.lines[-1][1] == f"gates: release passed; summary: {release.record / 'summary.md'}"
    assert not [text for _, text in out.lines if text.startswith("  passed ")]


def test_the_events_file_holds_every_step_and_molecule_as_json_lines(release):
    """`--events` writes one JSON object per line: each step's start and end, each molecule's verdict, the
    notifications, the end of the release."""
    events = [json.loads(line) for line in (release.folder / "events.jsonl").read_text().splitlines()]
    assert all(e["event"] and e["at"] for e in events)
    record = json.loads((release.record / "record.json").read_text())
    # Steps that ran beside each other start and end in either order: each step once, as the record has it.
    steps = [(s["name"], s["env"]) for s in record["steps"]]
    assert sorted((e["step"], e["env"]) for e in events if e["event"] == "step_started") == sorted(steps)
    ended = [(e["step"], e["env"], e["outcome"]) for e in events if e["event"] == "step_ended"]
    assert sorted(ended) == sorted((s["name"], s["env"], s["outcome"]) for s in record["steps"])
    for env in ("staging", "production"):
        told = {e["name"]: e["outcome"] for e in events if e["event"] == "molecule" and e["gate"] == f"{env} gate"}
        junit = junit_results(release.record / f"{env}-gate.xml")
        assert set(told) == set(junit) and set(told.values()) <= {"passed", "skipped"}, (env, told)
        said = {name: "skipped" if r.startswith("skipped: ") else r for name, r in junit.items()}
        assert said == told, (env, said, told)
    told = {e["name"]: e["seed_step"] for e in events if e["event"] == "molecule" and e["gate"] == "production gate"}
    assert told["test_every_flag_is_false_in_production"] == "DEVOPS-010"
    sent = [(e["notification"], e["delivered"]) for e in events if e["event"] == "notification"]
    assert sent == [(n["event"], n["delivered"]) for n in record["notifications"]]
    assert events[-1]["event"] == "finished" and events[-1]["outcome"] == "passed"


def test_each_gate_report_opens_with_what_was_gated(release):
    """A gate's HTML report is titled with gate, verdict, environment, URL, release and commit; a table of what was
    gated with links back to the record comes before the results; each row names its DEVOPS step; a passing
    molecule has no empty log box."""
    import html as html_mod

    commit = json.loads((release.record / "record.json").read_text())["commit"]
    for env, seed in (("staging", "DEVOPS-002"), ("production", "DEVOPS-010")):
        page = (release.record / f"{env}-gate.html").read_text()
        found = re.search(r'<h1 id="title">(.*?)</h1>', page)
        assert found, page[:2000]
        title = html_mod.unescape(found.group(1))
        url = release.cfg.environment(env).url
        assert title.startswith(f"{env} gate PASSED") and f"{env} at {url}" in title and "release 1" in title, title
        assert not commit or f"commit {commit[:12]}" in title, title
        gated = page.index("id='gates-gated'")
        assert gated < page.index('id="results-table"')
        table = page[gated : page.index("</table>", gated)]
        for fact in (f"{env} (local)", url, "release 1", commit or "unknown", "PASSED", "When"):
            assert fact in table, (fact, table)
        for link in ("index.html", "summary.md", "record.json"):
            assert f"href='{link}'" in table
        rows = html_mod.unescape(page)
        assert f'"seedstep": "{seed}"' in rows and '<th class="sortable" data-column-type="seedstep">' in page
        assert "No log output captured" not in page


def test_the_record_opens_in_a_browser(release):
    """index.html in the record renders the summary (steps, proof, completion block) and links every gate report."""
    index = (release.record / "index.html").read_text()
    assert "<table>" in index and "<h2>Foreground Proof</h2>" in index and "ork " in index.split("<h2>Foreground Proof</h2>")[1]
    reports = sorted(p.name for p in release.record.glob("*.html") if p.name != "index.html")
    assert {"staging-gate.html", "production-gate.html"} <= set(reports)
    for name in reports:
        assert f'href="{name}"' in index, name
    assert 'href="summary.md"' in index and 'href="record.json"' in index


def test_gates_monitor_says_how_far_its_window_got_at_least_every_5s(release, tmp_path):
    """`gates monitor --for 20s` without a terminal prints a progress line (elapsed of total, samples, error rate,
    p95 so far) at least every 5 s from its start to its end, and writes the same progress as events."""
    config = release.config.with_name("gates-monitor.toml")
    config.write_text(release.config.read_text() + f'\n[monitor]\nrate = 5.0\nwebhook_env = "{NOTIFY_ENV}"\n')
    events = tmp_path / "monitor-events.jsonl"
    out = run_streamed(
        [sys.executable, *release_cli(), "--config", str(config), "monitor", "--env", "production", "--for", "20s",
         "--events", str(events), "--reports", str(tmp_path / "records")],
        cwd=REPO, timeout=600, env={**os.environ, **demo_webhook(config)},
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    begin, _, _ = out.first(_line(r" started +monitor production$"))
    end, _, _ = out.first(_line(r" passed +monitor production \("))
    arrivals = [at for at, _ in out.lines[begin : end + 1]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert max(gaps) <= 5.0, out.stdout
    out.first(_line(r"monitor production: \d+s of 20s; \d+ samples, error rate [\d.]+%, p95 [\d.]+s so far"))
    progress = [json.loads(line) for line in events.read_text().splitlines()]
    window = [e for e in progress if e["event"] == "progress" and e["what"] == "monitor production"]
    assert window and window[-1]["done"] == window[-1]["total"] == 20, window[-3:]


def test_gates_report_prints_the_latest_summary(release):
    """`gates report` prints the path of the newest release's summary.md."""
    result = gates("report", config=release.config)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == release.record / "summary.md"


def test_the_summary_holds_the_plans_15_proofs_each_with_existing_evidence_or_why_not(release):
    """The demo release's Foreground Proof: every row links files of its record, or says why it has none."""
    rows = proof_rows(Record.load(release.record))
    assert [r.number for r in rows] == list(range(1, 16))
    assert all(r.evidence or r.note for r in rows)
    assert all((release.record / e).is_file() for r in rows for e in r.evidence)
    absent = {r.number: r.status for r in rows if r.status != "proven"}
    # No [monitor] window, the drill waived (--first-release), no docs update yet, no feedback log configured.
    assert absent == {5: "not configured", 12: "not configured", 13: "waived", 14: "not run", 15: "not configured"}
    summary = (release.record / "summary.md").read_text()
    assert "| 9 | Health checks | All 200 responses | proven | [production-gate.html]" in summary


def test_no_secret_reaches_the_record_the_logs_or_the_terminal(release):
    """The canary password in the staging database URL appears in no file gates wrote and in no output."""
    assert CANARY not in release.result.stdout + release.result.stderr
    for path in [*release.record.rglob("*"), *(release.folder / "state").rglob("*.log")]:
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    status = gates("status", "--json", config=release.config)
    assert status.returncode == 0 and CANARY not in status.stdout + status.stderr


def test_status_shows_every_instance_on_the_release(release):
    """`gates status --json` lists URL, release and each instance with pid, port, release and health."""
    result = gates("status", "--json", config=release.config)
    rows = {row["env"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"staging", "production"}
    for row in rows.values():
        assert row["release"] == 1 and len(row["instances"]) == 2
        assert all(i["healthy"] and i["release"] == 1 and i["pid"] and i["port"] for i in row["instances"])
    assert rows["production"]["database_url"].startswith("postgresql://")


def test_pytest_m_with_two_environments_is_a_usage_error(release):
    """`pytest -m "staging or production"` is ambiguous: a usage error that lists the known environments."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "staging or production", "--gates-config", str(release.config)],
        cwd=release.config.parent, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 4
    assert "names several environments" in result.stderr and "staging, production" in result.stderr


def _gate(release: Released, env: str, tmp_path: Path, *only: str) -> dict[str, str]:
    """The gate of ``env``, whole, or only the molecules named ``only`` (a check that a repaired fault passes again
    needs no browser): molecule -> 'passed' or its failure."""
    cfg = release.cfg
    (tmp_path / "logs").mkdir(parents=True, exist_ok=True)
    options = ["-k", " or ".join(only)] if only else []
    outcome = run_gate(cfg, cfg.environment(env), env, tmp_path, f"{env}-gate", options=options)
    results = junit_results(tmp_path / f"{env}-gate.xml")
    assert outcome.passed == none_failed(results)
    return results


def test_rls_off_on_one_table_fails_the_staging_gate_naming_it(release, tmp_path):
    """With row level security switched off on one table, the staging gate fails its RLS molecule naming that table."""
    with psycopg.connect(release.staging_db, autocommit=True) as conn:
        (table,) = conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind = 'r' order by c.relname limit 1"
        ).fetchone()
        conn.execute(f'alter table public."{table}" disable row level security')
        try:
            results = _gate(release, "staging", tmp_path)
        finally:
            conn.execute(f'alter table public."{table}" enable row level security')
    failed = failures(results)
    # Supabase's advisors see it too (rls_disabled_in_public / policy_exists_rls_disabled).
    advisors = "test_supabase_advisors_report_nothing_at_the_configured_level"
    assert sorted(failed) == ["test_every_exposed_table_has_rls_enabled", advisors]
    assert f"public.{table}" in failed["test_every_exposed_table_has_rls_enabled"]
    assert f"public.{table}" in failed[advisors]
    again = _gate(release, "staging", tmp_path / "again", *failed)
    assert again == dict.fromkeys(failed, "passed"), again


def test_database_faults_fail_the_named_staging_molecules(release, tmp_path):
    """An edited applied migration and a security-definer view fail the edited-file, RLS and advisors molecules, each naming its object."""
    view = "public.campaign_spend"
    with psycopg.connect(release.staging_db, autocommit=True) as conn:
        (version, statements) = conn.execute(
            "select version, statements from supabase_migrations.schema_migrations order by version limit 1"
        ).fetchone()
        # What the history holds differs from the file: as if the file had been edited after it ran.
        conn.execute(
            "update supabase_migrations.schema_migrations set statements = statements || '{select 1}'::text[] where version = %s",
            (version,),
        )
        conn.execute(f"create view {view} as select name from public.ad_campaigns")
        try:
            results = _gate(release, "staging", tmp_path)
        finally:
            conn.execute(f"drop view {view}")
            conn.execute(
                "update supabase_migrations.schema_migrations set statements = %s where version = %s", (statements, version)
            )
    failed = failures(results)
    assert set(failed) == {
        "test_no_applied_migration_was_edited",
        "test_every_exposed_table_has_rls_enabled",
        "test_supabase_advisors_report_nothing_at_the_configured_level",
    }
    assert f"{version}_" in failed["test_no_applied_migration_was_edited"]
    assert "edited after it was applied" in failed["test_no_applied_migration_was_edited"]
    assert view in failed["test_every_exposed_table_has_rls_enabled"]
    assert "security_definer_view" in failed["test_supabase_advisors_report_nothing_at_the_configured_level"]
    again = _gate(release, "staging", tmp_path / "again", *failed)
    assert again == dict.fromkeys(failed, "passed"), again


def test_a_release_whose_ads_health_returns_500_fails_the_health_molecule(release, tmp_path):
    """A release answering 500 on /api/ads/health fails the health molecule naming the URL and the status."""
    cfg = release.cfg
    env = cfg.environment("staging")
    platform = platform_for(cfg, env)
    platform.deploy(env, str(demo_copy(tmp_path, {"status": {"/api/ads/health": 500}})))
    try:
        results = _gate(release, "staging", tmp_path)
    finally:
        platform.rollback(env)
    message = results["test_every_health_path_answers_200"]
    assert f"GET {env.url}/api/ads/health -> 500, expected 200" in message
    again = _gate(release, "staging", tmp_path / "again", "test_every_health_path_answers_200")
    assert again == {"test_every_health_path_answers_200": "passed"}, again


@dataclass
class Second:
    """A second release of the same environments: code that switches a flag on (healthy, but not fit for production)."""

    config: Path
    result: Streamed
    record: Path

    @property
    def data(self) -> dict[str, Any]:
        return dict(json.loads((self.record / "record.json").read_text()))

    def explain(self) -> str:
        """The steps and their details: what a failed assertion about this release shows."""
        return "\n".join(f"{s['name']} {s['env']} {s['outcome']}: {s['detail']}" for s in self.data["steps"])


@pytest.fixture(scope="module")
def second(release: Released, tmp_path_factory: pytest.TempPathFactory) -> Second:
    source = demo_copy(tmp_path_factory.mktemp("flag-on"), {"flags_on": ["ANALYTICS_REAL_DATA"]})
    config = release.config.with_name("gates-flag-on.toml")
    text = re.sub(r"^source = .*$", f"source = {json.dumps(str(source))}", release.config.read_text(), count=1, flags=re.M)
    config.write_text(text)
    result = _deploy(config, "--events", str(config.with_suffix(".events.jsonl")))
    return Second(config, result, sorted((release.folder / "deploys").iterdir())[-1])


def test_the_rollback_drill_rolls_staging_back_smoke_tests_it_and_rolls_forward(second):
    """On a second release the drill rolls staging back to the previous release, smoke-tests it, rolls forward by a
    switch back to the new release kept warm and checks what a switch can break, timing each part."""
    record = second.data
    assert record["drill"]["passed"] is True and record["drill"]["waived"] == "", second.explain()
    assert set(record["drill"]["timings"]) == {"rollback", "smoke", "roll_forward", "verify"}
    assert all(seconds >= 0 for seconds in record["drill"]["timings"].values())
    cfg = config_mod.load(second.config)
    staging = cfg.environment("staging")
    by_version = {r.version: r for r in platform_for(cfg, staging).releases(staging)}
    versions = record["drill"]["releases"]
    assert versions["new"] == record["releases"]["staging"]["after"] == versions["forward"]
    assert by_version[versions["rollback"]].ref == by_version[versions["previous"]].ref != by_version[versions["new"]].ref
    assert record["drill"]["forward"] == "warm switch" and "every instance answers every health path" in record["drill"]["verified"]
    smoke = junit_results(second.record / "drill-smoke.xml")
    assert "test_dashboard_loads_inside_the_admin_frame[chromium]" in smoke and none_failed(smoke), smoke
    forward = junit_results(second.record / "drill-forward.xml")
    assert {"test_every_machine_answers_every_health_path", "test_dashboard_loads_inside_the_admin_frame[chromium]"} <= set(forward)
    assert none_failed(forward), forward
    assert record["drill"]["report"] == "drill-smoke.html"
    assert record["drill"]["reports"] == ["drill-smoke.html", "drill-forward.html"]
    (step,) = [s for s in record["steps"] if s["name"] == "drill"]
    assert {"drill-smoke.html", "drill-forward.html"} <= set(step["artifacts"])


def test_a_release_failing_a_production_molecule_is_rolled_back_automatically(second):
    """A release that is healthy but fails the production flag molecule is rolled back; the rolled-back release passes the gate; exit 1."""
    assert second.result.returncode == 1, second.result.stdout + second.result.stderr
    record = second.data
    assert record["outcome"] == "rolled_back", second.explain()
    steps = [(s["name"], s["env"], s["outcome"]) for s in record["steps"]]
    assert steps[-3:] == [("gate", "production", "failed"), ("rollback", "production", "passed"), ("rollback-gate", "production", "passed")]
    rollback = record["rollback"]
    releases = record["releases"]["production"]
    assert (rollback["env"], rollback["from"], rollback["to"]) == ("production", releases["after"], releases["before"])
    assert rollback["gate_passed"] is True
    events = [json.loads(line) for line in second.config.with_suffix(".events.jsonl").read_text().splitlines()]
    (told,) = [e for e in events if e["event"] == "rollback"]
    assert (told["env"], told["from_version"], told["to_version"]) == ("production", rollback["from"], rollback["to"])
    assert told["detail"].startswith("passed: ")
    failed_gate, _, _ = second.result.first(_line(r" failed +gate production \("))
    rolled, _, _ = second.result.first(_line(r" rollback +production: release \d+ -> \d+: passed: "))
    regated, _, _ = second.result.first(_line(r" started +rollback-gate production$"))
    assert failed_gate < rolled < regated
    assert [f.split(":")[0] for f in rollback["failed"]] == ["test_every_flag_is_false_in_production"]
    assert "flags false: FAILED" in rollback["failed"][0] and "flags false: FAILED" in record["reason"]
    assert "test_every_flag_is_false_in_production" in rollback["reason"]
    assert "database was not rolled back" in record["reason"]
    assert rollback["backup"] == record["backup"]["path"] and (second.record / rollback["backup"]).is_file()
    assert rollback["restore_command"] == f"gates restore --env production --backup {second.record / rollback['backup']} --yes"
    assert junit_results(second.record / "production-rollback-gate.xml")["test_every_flag_is_false_in_production"] == "passed"
    (step,) = [s for s in record["steps"] if s["name"] == "rollback"]
    assert rollback["restore_command"] in step["detail"] and rollback["restore_command"] in (second.record / "summary.md").read_text()
    status = json.loads(gates("status", "--json", "--env", "production", config=second.config).stdout)[0]
    assert status["release"] == rollback["release"]
    assert all(i["release"] == rollback["release"] and i["healthy"] for i in status["instances"])


def test_the_recorded_restore_command_restores_the_backup(second):
    """The restore command the rollback record names runs as written and restores the production backup."""
    args = shlex.split(second.data["rollback"]["restore_command"])
    assert args[:2] == ["gates", "restore"]
    result = gates(*args[1:], config=second.config)
    assert result.returncode == 0, result.stderr
    assert "restore" in result.stdout.lower() and CANARY not in result.stdout + result.stderr


def test_gates_rollback_picks_the_previous_good_release_and_says_which(second):
    """`gates rollback` skips releases of the same code and releases whose gate failed, and prints from, to and the new release."""
    refused = gates("rollback", "--env", "production", config=second.config)
    # Production runs the old code again; the only other code is the release the gate failed.
    assert refused.returncode == 1 and "nothing to roll back to" in refused.stderr
    cfg = config_mod.load(second.config)
    staging = cfg.environment("staging")
    # The drill rolled forward by a switch: the release it rolled back to is left rolled back, the previous good one
    # (the release before this one) is the target again.
    current = next(r for r in platform_for(cfg, staging).releases(staging) if r.status == "complete")
    drill = second.data["drill"]["releases"]
    result = gates("rollback", "--env", "staging", config=second.config)
    assert result.returncode == 0, result.stderr
    rolled = platform_for(cfg, staging).releases(staging)[0]
    said = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(
        rf"gates: rolled back staging: v{current.version} -> v{drill['previous']} by redeploy in \d+\.\d\ds "
        rf"\(serving v{drill['previous']}'s code as release v{rolled.version}; "
        rf"rollback to v{drill['previous']}: redeploy, [^)]*\); the database was not touched",
        said,
    ), said
    assert rolled.status == "complete" and rolled.ref != current.ref


def test_a_failing_molecule_is_told_while_its_gate_still_runs(release, tmp_path):
    """A release whose dashboard shows an empty tile: the failing tile molecule's line (verdict, DEVOPS step, first
    problem) is printed before the staging gate has ended (its JUnit report not yet written); production never starts."""
    source = demo_copy(tmp_path, {"empty_tiles": ["revenue"]})
    config = release.config.with_name("gates-empty-tile.toml")
    text = re.sub(r"^source = .*$", f"source = {json.dumps(str(source))}", release.config.read_text(), count=1, flags=re.M)
    config.write_text(text)
    seen: dict[str, Any] = {}

    def watch(line: str) -> None:
        found = re.match(r"gates: release \S+: record in (.+)$", line)
        if found:
            seen["record"] = Path(found.group(1))
        elif re.search(r"FAILED +(staging gate: )?test_every_tile_shows_data", line) and "record" in seen:
            seen.setdefault("failed", (line, (seen["record"] / "staging-gate.xml").exists()))

    out = _deploy(config, on_line=watch)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "failed" in seen, out.stdout
    line, gate_over = seen["failed"]
    assert not gate_over, "the molecule's line came only after the gate had ended"
    assert "[DEVOPS-004 " in line and "revenue" in line.split("]: ", 1)[1], line
    told, _, _ = out.first(lambda text: text == line)
    ended, _, _ = out.first(_line(r" failed +gate staging \("))
    assert told < ended
    # Nothing acts on production (its backup only reads, beside the staging gate).
    assert not [text for _, text in out.lines if re.search(r" started +(signoff|migrate|deploy|gate) production$", text)]


def test_down_stops_every_gates_process_and_frees_the_ports(release):
    """After `gates down` no process gates started is left and the environments' ports are free."""
    status = json.loads(gates("status", "--json", config=release.config).stdout)
    pids = [i["pid"] for row in status for i in row["instances"]]
    assert pids
    result = gates("down", config=release.config)
    assert result.returncode == 0, result.stderr
    assert [pid for pid in pids if _alive(pid)] == []
    for env in release.cfg.environments.values():
        assert port_is_free(int(env.url.rsplit(":", 1)[1]))
    assert port_is_free(release.cfg.local.postgres_port)
    again = gates("down", config=release.config)
    assert again.returncode == 0 and "nothing" in again.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
