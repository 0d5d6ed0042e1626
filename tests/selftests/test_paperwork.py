"""Release paperwork: the production sign-off, notifications, incident reports, WORK COMPLETE and runbook timings.

Plans of fake steps run on a real Record (the same runner, listeners and files as
`gates deploy`), so each behaviour is shown in seconds; test_release.py runs the
whole demo release with all of it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gates import config as config_mod
from gates.cli.paperwork import attach
from gates.core.errors import GatesError
from gates.evidence.incident import IncidentWriter
from gates.evidence.record import Record
from gates.evidence.state import Backup, Drill, ReleaseState, Rollback
from gates.release import Context, Step, StepFn, execute
from gates.release.signoff import signoff_step
from gates.target import open_config
from tests.selftests.demo import REPO, gates, write_config

NOTIFY_ENV = "GATES_SELFTEST_NOTIFY_WEBHOOK"
CANARY = "hook-canary-T0k3n9"
WAIVED = Drill(env="staging", waived="first release: nothing to roll back to (--first-release)")
PASSED_DRILL = Drill(env="staging", passed=True, timings={"rollback": 1.5, "gate": 2.0}, report="drill-staging.html")
BACKUP = Backup(env="production", path="backups/production.dump", bytes=2048, sha256="ab" * 32, verified=True)


def drill_is(drill: Drill) -> Callable[[ReleaseState], None]:
    def sets(state: ReleaseState) -> None:
        state.drill = dataclasses.replace(drill)

    return sets


def backup_taken(state: ReleaseState) -> None:
    state.backups["production"] = BACKUP


def fake(
    artifact: str = "", sets: Callable[[ReleaseState], None] | None = None, fails: str = "", after: int | None = None
) -> StepFn:
    """A step that leaves an evidence file, sets facts of the release state, records a release, or fails with ``fails``."""

    def run(ctx: Context, env: config_mod.Environment, rec: Any) -> None:
        if artifact:
            (ctx.record.dir / artifact).parent.mkdir(parents=True, exist_ok=True)
            (ctx.record.dir / artifact).write_text("evidence")
            rec.artifacts.append(artifact)
        if sets is not None:
            sets(ctx.state)
        if after is not None:
            ctx.record.releases[env.name] = {"before": after - 1 or None, "after": after}
        rec.detail = f"fake {rec.name}"
        if fails:
            raise GatesError(fails)

    return run


def release_plan(drill: Drill | None = None, production_gate: StepFn | None = None) -> list[Step]:
    """The release's order with fake steps around the real sign-off; ``drill`` None: no drill step at all."""
    steps = [
        Step("preflight", "production", fake("preflight.html")),
        Step("migrate", "staging", fake("logs/migrate-staging.log")),
        Step("deploy", "staging", fake(after=1)),
        Step("gate", "staging", fake("staging-gate.html")),
    ]
    steps += [Step("drill", "staging", fake("drill-staging.html", drill_is(drill)))] if drill is not None else []
    return [
        *steps,
        Step("backup", "production", fake(BACKUP.path, backup_taken)),
        Step("signoff", "production", signoff_step),
        Step("migrate", "production", fake("logs/migrate-production.log")),
        Step("deploy", "production", fake(after=1)),
        Step("gate", "production", production_gate or fake("production-gate.html")),
        Step("monitor", "production", fake("monitor-production.png")),
    ]


def make_ctx(tmp_path: Path, notify: str = "", approve: bool = True, listen: bool = True) -> Context:
    extra = f"\n[notify]\n{notify}\n" if notify else ""
    path = write_config(tmp_path / "site", environments={"staging": {}, "production": {}}, extra=extra)
    cfg = open_config(path)
    record = Record(tmp_path / "reports" / "deploys", commit="0123456789abcdef")
    if listen:
        attach(cfg, record)
    return Context(config=cfg, record=record, approve=approve)


@pytest.fixture
def receiver(servers: dict[str, Callable[..., Any]], monkeypatch: pytest.MonkeyPatch) -> Any:
    """A local Slack-compatible receiver; its URL (with a canary path) is in $GATES_SELFTEST_NOTIFY_WEBHOOK."""
    r = servers["receiver"]()
    monkeypatch.setenv(NOTIFY_ENV, f"{r.url}/services/{CANARY}")
    return r


NOTIFY = f'webhook_env = "{NOTIFY_ENV}"'


def outcomes(ctx: Context) -> list[tuple[str, str | None, str]]:
    return [(s.name, s.env, s.outcome) for s in ctx.record.steps]


def signoff_of(ctx: Context) -> dict[str, Any]:
    return json.loads((ctx.record.dir / "record.json").read_text())["signoff"]


# ---------------------------------------------------------------------------
# Sign-off


def test_production_is_refused_when_the_drill_was_skipped(tmp_path, receiver):
    """A release with no rollback drill stops at the sign-off naming that item, even with --approve: production never starts."""
    ctx = make_ctx(tmp_path, NOTIFY)
    assert not execute(ctx, release_plan(drill=None))
    signoff = next(s for s in ctx.record.steps if s.name == "signoff")
    assert signoff.outcome == "failed"
    assert signoff.detail == "production not signed off: unchecked: rollback drill passed in this release"
    assert [s.outcome for s in ctx.record.steps if s.env == "production" and s.name != "preflight"][2:] == ["skipped"] * 4
    state = signoff_of(ctx)
    assert state["signed"] is False and state["by"] == ""
    items = {i["item"]: i for i in state["checklist"]}
    assert items["rollback drill passed in this release"] == {
        "item": "rollback drill passed in this release", "checked": False,
        "note": "no rollback drill ran in this release", "evidence": "record.json",
    }  # fmt: skip
    assert all(i["checked"] for name, i in items.items() if name != "rollback drill passed in this release")


@pytest.mark.parametrize(
    ("drill", "notify", "unchecked"),
    [
        (dataclasses.replace(PASSED_DRILL, passed=False), NOTIFY, "rollback drill passed in this release"),
        (WAIVED, "", "notifications reachable"),
    ],
    ids=["failed-drill", "no-webhook"],
)
def test_each_unchecked_item_is_named_and_blocks_production(tmp_path, receiver, drill, notify, unchecked):
    """A failed drill, or no notification channel, leaves its item unchecked: the sign-off fails naming it."""
    ctx = make_ctx(tmp_path, notify)
    assert not execute(ctx, release_plan(drill=drill))
    signoff = next(s for s in ctx.record.steps if s.name == "signoff")
    assert signoff.detail == f"production not signed off: unchecked: {unchecked}"
    assert ("migrate", "production", "skipped") in outcomes(ctx)


def test_a_missing_backup_or_preflight_is_unchecked(tmp_path, receiver):
    """Without the preflight and the backup of this release, both items are unchecked and named."""
    ctx = make_ctx(tmp_path, NOTIFY)
    steps = [s for s in release_plan(drill=WAIVED) if s.name not in ("preflight", "backup")]
    assert not execute(ctx, steps)
    detail = next(s.detail for s in ctx.record.steps if s.name == "signoff")
    assert detail == "production not signed off: unchecked: preflight passed; proven backup of this release"


def test_a_signoff_is_recorded_with_name_time_how_and_the_checklist(tmp_path, receiver, monkeypatch):
    """With every item checked and --approve, the record keeps who signed ($GITHUB_ACTOR), when, how and the checklist."""
    monkeypatch.setenv("GITHUB_ACTOR", "release-captain")
    ctx = make_ctx(tmp_path, NOTIFY)
    before = dt.datetime.now(dt.UTC)
    assert execute(ctx, release_plan(drill=WAIVED)), ctx.record.reason
    state = signoff_of(ctx)
    assert state["signed"] is True and state["how"] == "--approve" and state["env"] == "production"
    assert state["by"] == "release-captain (GITHUB_ACTOR)"
    assert before <= dt.datetime.fromisoformat(state["at"]) <= dt.datetime.now(dt.UTC)
    items = {i["item"]: (i["checked"], i["note"], i["evidence"]) for i in state["checklist"]}
    assert items["rollback drill passed in this release"] == (True, f"waived: {WAIVED.waived}", "record.json")
    assert items["proven backup of this release"][0] and items["proven backup of this release"][2] == BACKUP.path
    assert items["preflight passed"] == (True, "fake preflight", "preflight.html")
    assert items["notifications reachable"][0]
    # The evidence links are paths inside the record.
    assert all((ctx.record.dir / evidence).exists() for _, _, evidence in items.values())


def test_without_github_actor_the_signer_is_gits_user(tmp_path, receiver, monkeypatch):
    """Outside CI the signer is git's user.name and user.email."""
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\tname = Ada Operator\n\temail = ada@example.com\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    ctx = make_ctx(tmp_path, NOTIFY)
    assert execute(ctx, release_plan(drill=PASSED_DRILL)), ctx.record.reason
    assert signoff_of(ctx)["by"] == "Ada Operator <ada@example.com>"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "signed"), [("yes\n", True), ("no\n", False)])
def test_on_a_terminal_the_signoff_asks_and_takes_only_yes(tmp_path, receiver, monkeypatch, answer, signed):
    """Without --approve, a terminal is asked to type yes; anything else declines and production does not start."""
    monkeypatch.setattr("sys.stdin", _Terminal(answer))
    ctx = make_ctx(tmp_path, NOTIFY, approve=False)
    assert execute(ctx, release_plan(drill=PASSED_DRILL)) is signed
    state = signoff_of(ctx)
    assert state["signed"] is signed and state["how"] == ("interactive" if signed else "")
    if not signed:
        assert ctx.record.reason == "signoff production failed: production not signed off: the confirmation was declined"


def test_no_terminal_and_no_approve_is_refused_saying_how_to_sign(tmp_path, receiver, monkeypatch):
    """Not on a terminal and without --approve, the sign-off refuses and says to confirm on a terminal or pass --approve."""
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    ctx = make_ctx(tmp_path, NOTIFY, approve=False)
    assert not execute(ctx, release_plan(drill=PASSED_DRILL))
    detail = next(s.detail for s in ctx.record.steps if s.name == "signoff")
    assert detail.startswith("production needs a sign-off: run on a terminal to confirm, or pass --approve")
    assert ("deploy", "production", "skipped") in outcomes(ctx)


# ---------------------------------------------------------------------------
# Notifications


def test_a_local_receiver_gets_the_notifications_of_a_release_in_order(tmp_path, receiver):
    """started, staging passed, production promoted, completed: each with its evidence; the URL is written nowhere."""
    ctx = make_ctx(tmp_path, NOTIFY)
    assert execute(ctx, release_plan(drill=PASSED_DRILL)), ctx.record.reason
    texts = [m["text"] for m in receiver.messages]
    kept = json.loads((ctx.record.dir / "record.json").read_text())["notifications"]
    assert [n["event"] for n in kept] == ["started", "staging passed", "production promoted", "completed"]
    assert [n["text"] for n in kept] == texts and all(n["delivered"] for n in kept)
    assert f"release {ctx.record.id} started" in texts[0] and str(ctx.record.dir / "summary.md") in texts[0]
    assert str(ctx.record.dir / "staging-gate.html") in texts[1]
    assert "production promoted to release 1" in texts[2] and str(ctx.record.dir / "production-gate.html") in texts[2]
    assert "completed" in texts[3]
    for path in ctx.record.dir.rglob("*"):
        assert not path.is_file() or CANARY.encode() not in path.read_bytes(), path


def test_a_rolled_back_release_notifies_the_rollback_then_the_failure(tmp_path, receiver):
    """A production gate that fails and is rolled back sends: started, staging passed, rolled back, failed (with the incident report)."""
    ctx = make_ctx(tmp_path, NOTIFY)
    rolled_back(ctx)
    events = [n.event for n in ctx.state.notifications]
    assert events == ["started", "staging passed", "rolled back", "failed"]
    texts = [m["text"] for m in receiver.messages]
    assert "production rolled back 3 -> 2 (passed)" in texts[2]
    assert "rolled back: 1 of 12 molecules failed" in texts[3] and "incident report:" in texts[3]


def test_links_use_the_configured_base(tmp_path, receiver):
    """[notify] link_base makes evidence links point where the records are published."""
    ctx = make_ctx(tmp_path, NOTIFY + '\nlink_base = "https://ci.example.com/artifacts/"')
    assert execute(ctx, release_plan(drill=PASSED_DRILL))
    assert f"https://ci.example.com/artifacts/{ctx.record.id}/staging-gate.html" in receiver.messages[1]["text"]


def test_a_failed_delivery_is_recorded_and_blocks_only_when_required(tmp_path, servers, monkeypatch):
    """A webhook answering 500 is kept as undelivered; the release goes on, unless [notify] required stops it."""
    down = servers["receiver"](status=500)
    monkeypatch.setenv(NOTIFY_ENV, f"{down.url}/services/{CANARY}")
    ctx = make_ctx(tmp_path / "optional", NOTIFY)
    assert not execute(ctx, release_plan(drill=PASSED_DRILL))  # no delivery: the sign-off item stays unchecked
    kept = ctx.state.notifications
    assert (kept[0].event, kept[0].delivered, kept[0].delivery) == ("started", False, "HTTP 500")
    assert next(s.outcome for s in ctx.record.steps if s.name == "gate" and s.env == "staging") == "passed"
    assert "notifications reachable" in next(s.detail for s in ctx.record.steps if s.name == "signoff")
    # Required: a release whose start cannot be announced does not begin ...
    required = NOTIFY + "\nrequired = true"
    refused = make_ctx(tmp_path / "refused", required, listen=False)
    with pytest.raises(GatesError, match=r"notification 'started' not delivered: HTTP 500 \(\[notify\] required\)"):
        attach(refused.config, refused.record)
    # ... and the step whose message is not delivered fails, naming the notification; nothing after it runs.
    down.status = 200
    ctx = make_ctx(tmp_path / "required", required)
    down.status = 500
    assert not execute(ctx, release_plan(drill=PASSED_DRILL))
    gate = next(s for s in ctx.record.steps if s.name == "gate")
    assert gate.outcome == "failed"
    assert gate.detail == "fake gate; notification 'staging passed' not delivered: HTTP 500 ([notify] required)"
    assert ("backup", "production", "skipped") in outcomes(ctx)


def test_a_closed_port_is_reported_without_the_url(tmp_path, monkeypatch):
    """A webhook nobody listens on is an undelivered notification whose reason never shows the URL."""
    from gates.bench.sandbox import free_port

    monkeypatch.setenv(NOTIFY_ENV, f"http://127.0.0.1:{free_port()}/services/{CANARY}")
    ctx = make_ctx(tmp_path, NOTIFY)
    (started,) = ctx.state.notifications
    assert started.delivered is False and started.delivery.startswith("ConnectError")
    assert CANARY not in (ctx.record.dir / "record.json").read_text()


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [('webhook_env = "not a name"', "notify.webhook_env", "environment variable name"),
     ("required = true", "notify.required", "need a webhook_env")],
)  # fmt: skip
def test_a_bad_notify_config_names_the_key(tmp_path, table, key, words):
    """[notify] is checked like every section: one line naming the key, exit 2."""
    path = write_config(tmp_path, environments={"production": {}}, extra=f"\n[notify]\n{table}\n")
    result = gates("config", "check", config=path)
    assert result.returncode == 2 and key in result.stderr and words in result.stderr


# ---------------------------------------------------------------------------
# Incident report

MEASUREMENT = {
    "name": "health", "question": "every health path answers 200", "observed": {"/api/ads/health": 500},
    "expected": 200, "ok": False, "source": "GET http://127.0.0.1:8082/api/ads/health", "at": "2026-01-01T00:00:00+00:00",
    "problems": ["GET /api/ads/health -> 500, expected 200"], "details": [],
}  # fmt: skip


def rolled_back(ctx: Context) -> None:
    """Drive the record as the automatic rollback does: the production gate fails, rollback, its gate, outcome rolled_back."""
    failing = "1 of 12 molecules failed: test_every_health_path_answers_200: health: FAILED"
    plan = release_plan(drill=PASSED_DRILL, production_gate=fake("production-gate.html", fails=failing))
    plan[-1:] = []  # the monitor never runs after a failed gate
    for step in plan:
        env = ctx.config.environment(step.env)
        try:
            with ctx.record.step(step.name, env.name) as rec:
                if step.name == "deploy" and env.name == "production":
                    ctx.record.releases["production"] = {"before": 2, "after": 3}
                    continue
                step.run(ctx, env, rec)
        except GatesError:
            break
    lines = [{"test": "tests/molecules/test_health.py::test_every_health_path_answers_200", "outcome": "failed",
              "measurement": MEASUREMENT},
             {"test": "tests/molecules/test_health.py::test_release_is_served", "outcome": "passed",
              "measurement": {**MEASUREMENT, "name": "release", "ok": True}}]  # fmt: skip
    (ctx.record.dir / "production-gate-measurements.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    ctx.state.rollback = Rollback(
        env="production", from_version=3, to_version=2, reason=failing,
        failed=["test_every_health_path_answers_200: health: FAILED", "test_every_machine_serves: FAILED"],
        gate_passed=True, backup=BACKUP.path,
        restore_command=f"gates restore --env production --backup {ctx.record.dir / BACKUP.path} --yes",
    )  # fmt: skip
    with ctx.record.step("rollback", "production") as rec:
        rec.detail = "release 2 serves again"
    with ctx.record.step("rollback-gate", "production") as rec:
        (ctx.record.dir / "rollback-gate.html").write_text("evidence")
        rec.artifacts.append("rollback-gate.html")
    ctx.record.finish("rolled_back", failing)


def test_a_rolled_back_release_writes_an_incident_report(tmp_path, receiver):
    """reports/incidents/<date>-<id>.md names the failed molecule with its measurement, the restore command, and what is left to fill."""
    ctx = make_ctx(tmp_path, NOTIFY)
    rolled_back(ctx)
    (path,) = (tmp_path / "reports" / "incidents").iterdir()
    assert path.name == f"{ctx.record.started_at.date().isoformat()}-{ctx.record.id}.md"
    text = path.read_text()
    assert text.startswith(f"# Incident: release {ctx.record.id} rolled back")
    assert "### test_every_health_path_answers_200 (gate production)" in text
    assert "health: FAILED: GET http://127.0.0.1:8082/api/ads/health -> {'/api/ads/health': 500}, expected 200" in text
    assert "  - GET /api/ads/health -> 500, expected 200" in text
    assert "- test_every_machine_serves: FAILED" in text  # named by the rollback, no measurement line of its own
    assert "test_release_is_served" not in text  # passed molecules are not incidents
    assert f"    gates restore --env production --backup {ctx.record.dir / BACKUP.path} --yes" in text
    assert "| gate | production | failed |" in text and "| rollback-gate | production | passed |" in text
    assert "rolled back production: 3 -> 2, gate after the rollback passed" in text
    assert "## Cause" in text and "## Follow-ups" in text and "_To fill" in text
    assert "[production-gate.html](../deploys/" in text
    # The record links the report; the summary's next step points to it.
    incident = json.loads((ctx.record.dir / "record.json").read_text())["incident"]
    assert (ctx.record.dir / incident).resolve() == path.resolve()
    assert f"([evidence]({incident}))" in (ctx.record.dir / "summary.md").read_text()


def test_a_failed_production_gate_without_rollback_writes_a_report_with_the_backup_command(tmp_path):
    """A production gate that fails (no rollback) also writes a report, restoring from the backup of this release."""
    ctx = make_ctx(tmp_path, listen=False)
    ctx.state.production_env = "production"
    ctx.record.listeners.append(IncidentWriter(ctx.config))
    ctx.state.drill = dataclasses.replace(PASSED_DRILL)
    steps = release_plan(drill=PASSED_DRILL, production_gate=fake("production-gate.html", fails="2 molecules failed"))
    steps = [s for s in steps if s.name != "signoff"]
    assert not execute(ctx, steps)
    (path,) = (tmp_path / "reports" / "incidents").iterdir()
    text = path.read_text()
    assert f"gates restore --env production --backup {ctx.record.dir / BACKUP.path} --yes" in text
    assert "- gate production: no measurements file in the record (2 molecules failed)" in text


def test_an_unwritable_incidents_folder_is_recorded_and_the_verdict_stands(tmp_path, receiver):
    """A file where the incidents folder goes: the record says the report was not written, and why; the release stays rolled back."""
    ctx = make_ctx(tmp_path, NOTIFY)
    (tmp_path / "reports" / "incidents").write_text("a file, not a folder")
    rolled_back(ctx)
    data = json.loads((ctx.record.dir / "record.json").read_text())
    assert data["outcome"] == "rolled_back" and "incident" not in data
    assert data["incident_error"].startswith("incident report not written: ")
    assert data["notifications"][-1]["event"] == "failed"


def test_a_failure_before_production_writes_no_incident_report(tmp_path, receiver):
    """A release refused at the sign-off changed nothing in production: no incident report."""
    ctx = make_ctx(tmp_path, NOTIFY)
    assert not execute(ctx, release_plan(drill=None))
    assert not (tmp_path / "reports" / "incidents").exists()


# ---------------------------------------------------------------------------
# WORK COMPLETE


def test_every_summary_ends_with_the_work_complete_block_and_report_markdown_prints_it(tmp_path, receiver):
    """A passed release ends summary.md with WORK COMPLETE: each line checked with its evidence; `gates report --markdown` prints it."""
    ctx = make_ctx(tmp_path, NOTIFY)
    assert execute(ctx, release_plan(drill=PASSED_DRILL))
    summary = (ctx.record.dir / "summary.md").read_text()
    block = summary[summary.index("## WORK COMPLETE") :]
    assert block.splitlines()[2:] == [
        "- [x] Staging deployed and validated: staging release 1, gate passed ([evidence](staging-gate.html))",
        "- [x] Production deployed: production release 1, gate passed ([evidence](production-gate.html))",
        "- [x] Monitoring active: fake monitor ([evidence](monitor-production.png))",
        "- [x] Rollback tested: drill passed on staging ([evidence](drill-staging.html))",
        "- Next: 24-hour monitoring period (`gates monitor --env production --for 24h`) ([evidence](summary.md))",
    ]
    result = gates("report", "--markdown", "--reports", str(ctx.record.dir.parent), config=ctx.config.path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == block


def test_a_release_refused_at_the_signoff_is_not_complete(tmp_path, receiver):
    """Unproven lines stay unchecked and the heading says the work is not complete."""
    ctx = make_ctx(tmp_path, NOTIFY)
    assert not execute(ctx, release_plan(drill=None))
    summary = (ctx.record.dir / "summary.md").read_text()
    assert "## Work not complete (failed)" in summary and "## WORK COMPLETE" not in summary
    assert "- [ ] Production deployed: production release -, gate skipped ([evidence](record.json))" in summary
    assert "- [ ] Rollback tested: no rollback drill ran in this release ([evidence](record.json))" in summary
    assert summary.endswith("- Next: fix the cause (signoff production failed: production not signed off: unchecked: "
                            "rollback drill passed in this release), release again ([evidence](record.json))\n")


# ---------------------------------------------------------------------------
# Runbook timings


def _runbooks(tmp_path: Path) -> Path:
    folder = tmp_path / "runbooks"
    shutil.copytree(REPO / "docs" / "runbooks", folder)
    return folder


def _timings(folder: Path, name: str) -> str:
    text = (folder / name).read_text()
    return text[text.index("<!-- gates:timings:begin -->") : text.index("<!-- gates:timings:end -->")]


def test_runbook_timing_tables_change_after_releases_are_recorded(tmp_path, receiver):
    """`gates report --runbook-timings` rewrites only the marked tables: median per step with its count, from the records."""
    runbooks = _runbooks(tmp_path)
    deploys = tmp_path / "reports" / "deploys"
    outside = (runbooks / "production_deploy.md").read_text().split("<!-- gates:timings:begin -->")[0]

    def rewrite() -> None:
        result = gates("report", "--runbook-timings", "--reports", str(deploys), "--runbooks", str(runbooks),
                       config=tmp_path / "site" / "gates.toml")  # fmt: skip
        assert result.returncode == 0, result.stderr

    ctx = make_ctx(tmp_path, NOTIFY)
    assert execute(ctx, release_plan(drill=PASSED_DRILL))
    rewrite()
    first = _timings(runbooks, "production_deploy.md")
    assert "| gate | staging |" in first and first.count(" | 1 |") >= 9 and "from 1 recorded releases" in first
    assert "| signoff | production |" in first and "| drill" not in first
    rollback = _timings(runbooks, "rollback_procedures.md")
    assert "| drill | staging |" in rollback and "| drill: rollback | staging | 1.5 s | 1 |" in rollback
    # A second release (it fails at the sign-off: only the steps that passed count).
    second = Context(config=ctx.config, record=Record(deploys), approve=True)
    assert not execute(second, release_plan(drill=None))
    rewrite()
    again = _timings(runbooks, "production_deploy.md")
    assert again != first and "| gate | staging |" in again and "from 2 recorded releases" in again
    assert next(line for line in again.splitlines() if line.startswith("| gate | staging |")).endswith(" | 2 |")
    assert next(line for line in again.splitlines() if line.startswith("| gate | production |")).endswith(" | 1 |")
    assert (runbooks / "production_deploy.md").read_text().startswith(outside)


def test_a_runbook_without_markers_is_a_usage_error_and_nothing_is_written(tmp_path):
    """Missing timing markers: exit 2 naming the file; neither runbook changes."""
    runbooks = _runbooks(tmp_path)
    broken = runbooks / "rollback_procedures.md"
    broken.write_text(broken.read_text().replace("<!-- gates:timings:end -->", ""))
    before = (runbooks / "production_deploy.md").read_text()
    path = write_config(tmp_path / "site", environments={"production": {}})
    result = gates("report", "--runbook-timings", "--reports", str(tmp_path), "--runbooks", str(runbooks), config=path)
    assert result.returncode == 2 and "rollback_procedures.md" in result.stderr and "timing table" in result.stderr
    assert (runbooks / "production_deploy.md").read_text() == before
