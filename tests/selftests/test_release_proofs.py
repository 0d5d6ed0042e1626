"""The plan's proofs on real records: the Foreground Proof table, the runbooks' commit, the feedback entries.

Plans of fake steps run on a real Record with its listeners (as in test_paperwork.py); the docs
commit runs `gates report` as a user does, in a throw-away git repository.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from gates.cli.paperwork import attach
from gates.evidence.proofs import PROVEN, proof_rows
from gates.evidence.record import Record
from gates.release import Context, execute
from gates.target import open_config
from tests.selftests import test_paperwork as paperwork
from tests.selftests.demo import REPO, gates

receiver = paperwork.receiver  # the local Slack-compatible receiver the sign-off's checklist needs
RUNBOOKS = ("docs/runbooks/production_deploy.md", "docs/runbooks/rollback_procedures.md")
FEEDBACK = "feedback/devops/{date}.md"


def released(tmp_path: Path, feedback: str = "") -> Context:
    """A release of fake steps around the real sign-off, with a passed drill, on a record under tmp_path/reports."""
    ctx = paperwork.make_ctx(tmp_path, paperwork.NOTIFY, listen=not feedback)
    if feedback:  # the same site with a feedback log: [record] is already a table of the written config
        path = ctx.config.path
        path.write_text(path.read_text().replace("[record]\n", f"[record]\nfeedback = {json.dumps(feedback)}\n", 1))
        ctx = Context(config=open_config(path), record=ctx.record, approve=True)
        attach(ctx.config, ctx.record)
    assert execute(ctx, paperwork.release_plan(drill=paperwork.PASSED_DRILL)), ctx.record.reason
    return ctx


def again(ctx: Context) -> Context:
    """A second release with the same config, into the same records folder (it fails at the sign-off)."""
    second = Context(config=ctx.config, record=Record(ctx.record.dir.parent), approve=True)
    attach(second.config, second.record)
    assert not execute(second, paperwork.release_plan(drill=None))
    return second


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def team_repository(tmp_path: Path) -> Path:
    """A git repository holding the runbooks, an app file with a staged change and an untracked file."""
    repo = tmp_path / "team"
    shutil.copytree(REPO / "docs" / "runbooks", repo / "docs" / "runbooks")
    (repo / "app.txt").write_text("v1\n")
    git(repo.parent, "init", "-q", str(repo))
    git(repo, "config", "user.name", "Ada Operator")
    git(repo, "config", "user.email", "ada@example.com")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "start")
    (repo / "app.txt").write_text("v2\n")
    git(repo, "add", "app.txt")
    (repo / "notes.txt").write_text("untracked\n")
    return repo


def report_timings(ctx: Context, runbooks: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return gates("report", "--runbook-timings", "--reports", str(ctx.record.dir.parent), "--runbooks", str(runbooks),
                 *extra, config=ctx.config.path)  # fmt: skip


def record_json(record: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((record / "record.json").read_text())
    return data


def test_report_commit_commits_only_the_runbooks_and_the_record_names_the_sha(tmp_path, receiver):
    """`--commit`: one commit touching only the two runbooks, its message naming the release; record.json and
    summary.md of that release name its SHA; what else was staged stays staged; unchanged runbooks: no new commit."""
    ctx = released(tmp_path)
    repo = team_repository(tmp_path)
    result = report_timings(ctx, repo / "docs" / "runbooks", "--commit")
    assert result.returncode == 0, result.stderr
    sha, subject = git(repo, "log", "-1", "--format=%H%n%s").splitlines()
    assert git(repo, "show", "--name-only", "--format=", "HEAD").splitlines() == list(RUNBOOKS)
    assert subject == f"Runbooks: step timings as of release {ctx.record.id}"
    assert git(repo, "diff", "--cached", "--name-only") == "app.txt" and "notes.txt" in git(repo, "status", "-s")
    assert record_json(ctx.record.dir)["docs"] == {"updated": list(RUNBOOKS), "commit": sha}
    assert sha in (ctx.record.dir / "summary.md").read_text() and sha in result.stdout
    row = proof_rows(Record.load(ctx.record.dir))[13]
    assert row.status == PROVEN and sha in row.note
    # Again with nothing new recorded: no empty commit; the record still names the commit holding the runbooks.
    assert report_timings(ctx, repo / "docs" / "runbooks", "--commit").returncode == 0
    assert git(repo, "rev-parse", "HEAD") == sha and record_json(ctx.record.dir)["docs"]["commit"] == sha  # type: ignore[index]


def test_without_commit_the_record_says_not_committed_and_outside_git_commit_is_refused(tmp_path, receiver):
    """Outside a git repository `--commit` exits 2 saying so and writes nothing; without it the runbooks are
    rewritten and the record says they were updated but not committed."""
    ctx = released(tmp_path)
    runbooks = paperwork._runbooks(tmp_path)
    before = {p.name: p.read_text() for p in runbooks.iterdir()}
    refused = report_timings(ctx, runbooks, "--commit")
    assert refused.returncode == 2 and "is not in a git repository" in refused.stderr
    assert {p.name: p.read_text() for p in runbooks.iterdir()} == before
    assert "docs" not in record_json(ctx.record.dir)
    result = report_timings(ctx, runbooks)
    assert result.returncode == 0, result.stderr
    docs = record_json(ctx.record.dir)["docs"]
    assert docs == {"updated": [str((runbooks / Path(p).name).resolve()) for p in RUNBOOKS], "commit": None}
    summary = (ctx.record.dir / "summary.md").read_text()
    assert "| 14 | Docs updated | Commit SHA | not committed |" in summary and "not committed (`gates report" in summary


def test_two_releases_append_two_feedback_entries_and_the_first_is_unchanged(tmp_path, receiver):
    """[record] feedback: each release appends its heading (id, outcome, time) and its completion block;
    the first entry stays byte for byte; each record names the log; the entry's links resolve."""
    first = released(tmp_path, "feedback/devops/releases.md")  # no {date}: a release after midnight goes here too
    log = tmp_path / "site" / "feedback" / "devops" / "releases.md"
    text = log.read_text()
    assert re.search(rf"^## Release {first.record.id}: passed, \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", text, re.M)
    assert "### WORK COMPLETE" in text and "- Next: 24-hour monitoring period" in text
    for link in re.findall(r"\]\(([^)]+)\)", text):
        assert (log.parent / link).is_file(), link
    assert (first.record.dir / record_json(first.record.dir)["feedback"]).resolve() == log.resolve()  # type: ignore[operator]
    second = again(first)
    both = log.read_text()
    assert both.startswith(text) and both.count("\n## Release ") == 2
    assert f"## Release {second.record.id}: failed" in both and "### Work not complete (failed)" in both
    row = proof_rows(Record.load(second.record.dir))[14]
    assert row.status == PROVEN and row.evidence == (record_json(second.record.dir)["feedback"],)


def test_the_summary_carries_the_15_proofs_each_linking_existing_evidence_or_naming_why_not(tmp_path, receiver):
    """A full plan of fake steps: 15 rows in the plan's order, before the WORK COMPLETE block; every link is a
    file of the record (or the feedback log beside it); a row without evidence says why."""
    ctx = released(tmp_path, FEEDBACK)
    assert ctx.record.state.feedback.endswith(f"site/feedback/devops/{ctx.record.started_at.date().isoformat()}.md")
    rows = proof_rows(ctx.record)
    assert [r.number for r in rows] == list(range(1, 16))
    for r in rows:
        assert all((ctx.record.dir / e).is_file() for e in r.evidence), r
        assert r.evidence or r.note, r
    assert {r.number for r in rows if r.status != PROVEN} == {5, 14}  # the fake monitor left no gate report; no docs
    summary = (ctx.record.dir / "summary.md").read_text()
    table = summary.split("## Foreground Proof\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(table) == 17 and table[3].startswith("| 2 | Staging deployed | Fly.io status | proven |")
    assert summary.index("## Foreground Proof") < summary.index("## WORK COMPLETE")


def test_a_loaded_record_writes_back_the_same_files_and_keeps_keys_it_does_not_know(tmp_path, receiver):
    """Record.load then write: record.json and summary.md unchanged; a key another gates version wrote stays."""
    ctx = released(tmp_path, FEEDBACK)
    folder = ctx.record.dir
    data = record_json(folder)
    (folder / "record.json").write_text(json.dumps({**data, "video": {"production": "x.webp"}}, indent=2) + "\n")
    before = {name: (folder / name).read_text() for name in ("record.json", "summary.md")}
    Record.load(folder).write()
    assert {name: (folder / name).read_text() for name in ("record.json", "summary.md")} == before
