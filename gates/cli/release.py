"""Commands that run release steps: deploy, migrate, backup, restore, rollback, monitor."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from gates import config as config_mod
from gates.cli.common import EXIT_FAILED, EXIT_OK, load, recover_crashed
from gates.core.errors import GatesError, UsageError
from gates.core.redact import keep, redact

if TYPE_CHECKING:
    from gates import release
    from gates.coordination.lock import ReleaseLock
    from gates.evidence.notify import Notifier
    from gates.evidence.progress import Reporter
    from gates.evidence.record import Record


def cmd_deploy(args: argparse.Namespace) -> int:
    from gates import release
    from gates.cli.paperwork import listen
    from gates.coordination.journal import Journal
    from gates.core.vcs import commit_of
    from gates.evidence.record import Record

    cfg = load(args)
    for env in cfg.environments.values():
        cfg.check_secrets_present(env)
    if args.workers < 0:
        raise UsageError(f"gates deploy: --workers: expected 0 or more, got {args.workers}")
    _require_tools(cfg)
    # The release's code is loaded before the lock is taken and the record opened: its first use would otherwise
    # import the runner, the gate runner, the probe and pytest (seconds on a busy machine) with the release already
    # under way, and a SIGTERM landing in that import was seen to end the process as killed by SIGINT (-2), not
    # with 130, though the record said interrupted (test_ledger.py, about one run in four).
    from gates.release import runner  # noqa: F401

    root = _records_root(args, cfg)
    with _locked(cfg, list(cfg.environments)) as lock, _telling(args) as reporter:
        recover_crashed(cfg)
        record = Record(root, commit=commit_of(cfg.app_source), config_path=str(cfg.path))
        record.state.stale_locks, record.state.lock_scope = list(lock.stale), dict(lock.scope)
        notifier = listen(cfg, record)  # before anything can end the record: its ledger entry is never lost
        try:
            lock.set_record(record.id)
            record.write()
            reporter.message(f"gates: release {record.id}: record in {record.dir}")
            journal = Journal(cfg.state_dir, "deploy", record.dir)
            ctx = release.Context(
                config=cfg, record=record, workers=args.workers, approve=args.approve,
                first_release=args.first_release, journal=journal, reporter=reporter,
                accept_visual=release.signer() if args.accept_visual else "",
            )  # fmt: skip
            with journal:
                ok = _run_release(args, ctx, reporter, notifier)
                pruned = release.prune_builds(ctx)
                if pruned:
                    reporter.message(f"gates: {pruned}")
        except KeyboardInterrupt:
            if record.outcome == "running":  # interrupted before the release could say so itself
                record.finish("interrupted", "interrupted before the first step")
            raise
        except GatesError as exc:  # the database lock's session died between taking the lock and now, say
            if record.outcome == "running":
                record.finish("failed", str(exc))
            raise
    return EXIT_OK if ok else EXIT_FAILED


def _run_release(args: argparse.Namespace, ctx: release.Context, reporter: Reporter, notifier: Notifier) -> bool:
    """Execute the plan, announcing it; say how it ended and where the summary is, whatever happens."""
    from gates import release

    cfg, record = ctx.config, ctx.record
    try:
        try:
            notifier.started()  # the release's first notification
        except GatesError as exc:  # a required notification that could not be delivered
            record.finish("failed", str(exc))
            raise
        return release.execute(ctx, release.plan(cfg))
    except KeyboardInterrupt:
        if record.outcome == "running":  # interrupted before the first step began
            record.finish("interrupted", "interrupted before the first step")
        raise
    finally:
        _the_end(args, reporter, record, "release")
        _job_summary(record)


def _records_root(args: argparse.Namespace, cfg: config_mod.Config) -> Path:
    """The folder records go to (--reports, else [record] dir), proven writable before anything starts: one
    that cannot be made or written is a UsageError naming it (not a traceback once the release has begun).
    Tried, not asked (os.access): root passes every permission check yet cannot write /proc or a read-only mount."""
    import tempfile

    root = Path(args.reports).resolve() if args.reports else cfg.record_dir
    where = f"--reports {args.reports}" if args.reports else f"{cfg.path}: record.dir"
    # The nearest folder that exists must take a new folder (made and removed again: nothing is left behind).
    existing = next((p for p in (root, *root.parents) if p.exists()), Path(root.anchor))
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, "not a folder", str(existing))
        with tempfile.TemporaryDirectory(dir=existing, prefix=".gates-write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"{where}: cannot write records to {root}: {exc.strerror or exc}") from None
    return root


@contextlib.contextmanager
def _telling(args: argparse.Namespace) -> Iterator[Reporter]:
    """The reporter of a command that runs steps: text lines (live on a terminal, plain in a log, grouped in
    GitHub Actions), JSON lines on stdout (--json) or nothing (--quiet); and the --events file besides.

    With --json, stdout carries only events: anything else a step prints goes to stderr."""
    from gates.evidence.progress import LIVE_EVERY, PLAIN_EVERY, JsonLines, Reporter, Sink, TextSink

    sinks: list[Sink] = []
    live = sys.stdout.isatty() and not args.json and not args.quiet
    if args.json:
        sinks.append(JsonLines(sys.stdout))
    elif not args.quiet:
        sinks.append(TextSink(sys.stdout, live=live, github=os.environ.get("GITHUB_ACTIONS") == "true"))
    if args.events:
        path = Path(args.events)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = path.open("a")
        except OSError as exc:
            raise UsageError(f"--events {path}: cannot write: {exc.strerror or exc}") from None
        sinks.append(JsonLines(stream, owned=True))
    reporter = Reporter(sinks, every=LIVE_EVERY if live else PLAIN_EVERY)
    try:
        with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
            yield reporter
    finally:
        reporter.close()


def _the_end(args: argparse.Namespace, reporter: Reporter, record: Record, what: str) -> None:
    """The end of a command that ran steps: the finished event, and the summary's path (each step too, with --quiet)."""
    reporter.notifications(record.state.notifications)
    summary = record.dir / "summary.md"
    reporter.finished(record.outcome, record.reason, str(summary))
    if args.json:
        return
    if args.quiet:
        for step in record.steps:
            print(redact(f"  {step.outcome:<11} {step.title}: {step.detail}"))
    print(f"gates: {what} {record.outcome}; summary: {summary}", flush=True)


def _job_summary(record: Record) -> None:
    """In GitHub Actions, the release's WORK COMPLETE block goes to the job summary (once: the shipped
    workflow does not append it again)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY", "")
    if os.environ.get("GITHUB_ACTIONS") != "true" or not target:
        return
    from gates.evidence.completion import block_of_summary

    try:
        block = block_of_summary(record.dir / "summary.md")
        with open(target, "a") as fh:
            fh.write(f"## gates release {record.id}\n\n{block}")
    except (OSError, GatesError) as exc:  # the job summary is a courtesy: the record holds the block
        print(f"gates: job summary not written: {redact(str(exc))}", file=sys.stderr)


@contextlib.contextmanager
def _locked(cfg: config_mod.Config, envs: list[str]) -> Iterator[ReleaseLock]:
    """Hold the release lock of ``envs`` (on this machine, and in each one's database), saying on stderr which
    stale locks were taken over and which environments only this machine's lock guards."""
    from gates.coordination.lock import ReleaseLock

    with ReleaseLock(cfg, envs) as lock:
        for line in [*lock.stale, *lock.machine_only()]:
            print(f"gates: {line}", file=sys.stderr, flush=True)
        yield lock


def _require_tools(cfg: config_mod.Config) -> None:
    """Before anything changes: the tools the release needs are installed (ToolMissing, exit 2, names the install)."""
    from gates.core.tools import path_of
    from gates.database import has_database

    if any(has_database(e) for e in cfg.environments.values()):
        path_of("supabase")


def cmd_migrate(args: argparse.Namespace) -> int:
    from gates.database import prepare_database
    from gates.database.migrations import local_migrations
    from gates.release.migrating import migrate, watch

    cfg = load(args)
    env = cfg.environment(args.env)
    cfg.check_secrets_present(env)
    _require_tools(cfg)
    # The files themselves first (two sharing a version, a name the CLI skips): exit 2 before any lock or connection.
    local_migrations(cfg.migrations_dir)
    log = cfg.state_dir / env.name / "logs" / "migrate.log"
    with _locked(cfg, [env.name]), _telling(args) as reporter:
        url = prepare_database(cfg, env)
        with reporter.waiting(f"migrate {env.name}", detail=watch(cfg, url).detail):
            said = migrate(cfg, url, log)
        end = f"gates: {env.name}: {said} (log: {log})"
        reporter.message(end)  # the text line, or an event with --json
        if args.quiet:  # --quiet prints only the end
            print(end)
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    from gates.database.backup import backup_environment

    cfg = load(args)
    env = cfg.environment(args.env)
    cfg.check_secrets_present(env)
    folder = cfg.state_dir / env.name / "backups"
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    backup = backup_environment(cfg, env, folder / f"{stamp}.dump", folder / f"{stamp}.log")
    keep(Path(backup.path).with_suffix(".json"), json.dumps(backup.as_dict(), indent=2) + "\n")
    print(
        f"gates: {env.name}: backup {backup.path}: {backup.bytes} bytes, sha256 {backup.sha256}, "
        f"server {backup.server_version}; restored and compared: {backup.tables} tables, {backup.rows} rows"
    )
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from gates.database import prepare_database
    from gates.database.backup import restore

    cfg = load(args)
    env = cfg.environment(args.env)
    path = Path(args.backup).resolve()
    if not args.yes:
        raise UsageError(f"restore replaces the objects of the {env.name} database: add --yes to confirm")
    if not path.is_file():
        raise UsageError(f"--backup {path}: no such file")
    cfg.check_secrets_present(env)
    log = cfg.state_dir / env.name / "logs" / "restore.log"
    with _locked(cfg, [env.name]):
        print(f"gates: {env.name}: {restore(prepare_database(cfg, env), path, log, cfg.database)} (log: {log})")
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    from gates.coordination import ledger
    from gates.coordination.journal import Journal
    from gates.platforms import platform_for, rollback_path
    from gates.release.goodness import judge, pick

    cfg = load(args)
    env = cfg.environment(args.env)
    cfg.check_secrets_present(env)
    root = Path(args.reports).resolve() if args.reports else cfg.record_dir
    platform = platform_for(cfg, env)
    with _locked(cfg, [env.name]), _telling(args) as reporter:
        recover_crashed(cfg)
        releases = platform.releases(env)
        # What serves is the newest complete release (as rollbacks pick it), not `platform.status`: that asks each
        # instance's health over HTTP (and imports httpx), most of a rollback's time inside the warm window.
        serving = max((r.version for r in releases if r.status == "complete"), default=None)
        if args.to is not None and args.to == serving:  # a redeploy of it would prove nothing
            raise UsageError(f"gates rollback: --to {args.to}: {env.name} is already serving release {args.to}")
        judged = judge(cfg, env, root)
        print(f"gates: {env.name}: releases judged by {judged.source}", file=sys.stderr)
        current, target = pick(releases, env.name, args.to, judged.verdicts.unfit(releases))
        with Journal(cfg.state_dir, "rollback") as journal, reporter.waiting(f"rollback {env.name}"):
            journal.intend("rollback", env.name)
            started = time.monotonic()
            try:
                release = platform.rollback(env, to=target.version)
            except GatesError as exc:
                ledger.write_rollback(cfg, env, (current, target, None), "failed", str(exc))
                raise
        ledger.write_rollback(cfg, env, (current, target, release), "passed")
        took = time.monotonic() - started
        said = f"serving v{target.version}'s code as release v{release.version}"
        said += f"; {release.description}" if release.description else ""  # a switch: how soon it served
        path = rollback_path(target.version, release)
        reporter.rollback(
            env.name, current.version, target.version, f"by {path} in {took:.2f}s: {said}; the database was not touched"
        )
        if args.json:
            return EXIT_OK
    print(
        f"gates: rolled back {env.name}: v{current.version} -> v{target.version} by {path} in {took:.2f}s ({said}); "
        "the database was not touched"
    )
    return EXIT_OK


def cmd_monitor(args: argparse.Namespace) -> int:
    from gates import release
    from gates.core.durations import parse_duration
    from gates.core.vcs import commit_of
    from gates.evidence.record import Record
    from gates.release.monitor import monitor_step_for

    seconds = parse_duration(args.duration, "gates monitor: --for")
    cfg = load(args)
    env = cfg.environment(args.env)
    cfg.check_secrets_present(env)
    root = _records_root(args, cfg)
    record = Record(root, commit=commit_of(cfg.app_source), config_path=str(cfg.path))
    with _telling(args) as reporter:
        reporter.message(f"gates: monitoring {env.name} for {args.duration}: record in {record.dir}")
        ctx = release.Context(cfg, record, reporter=reporter)
        try:
            ok = release.execute(ctx, [release.Step("monitor", env.name, monitor_step_for(seconds))])
        finally:
            _the_end(args, reporter, record, "monitor")
    return EXIT_OK if ok else EXIT_FAILED
