"""The `gates` command: run a release, operate environments, find the evidence.

Bad input exits 2 with one line naming where and what; a failed release
step exits 1 naming the step; nothing prints a secret.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gates import config as config_mod
from gates.errors import GatesError, UsageError
from gates.redact import keep, redact

if TYPE_CHECKING:
    from gates import release
    from gates.lock import ReleaseLock
    from gates.notify import Notifier
    from gates.platforms import WarmSet
    from gates.progress import Reporter
    from gates.record import Record

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_HISTORY = 10_000  # entries `gates history` lists at most: beyond a bigint, and beyond what anyone reads


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, exit 2: the same shape as every other usage error.
        raise UsageError(f"{self.prog}: {message}")


def _output_options() -> _Parser:
    """--events, --json, --quiet: how a command that runs release steps tells them as they happen."""
    output = _Parser(add_help=False)
    output.add_argument(
        "--events", metavar="PATH", help="append one JSON line per event (step started/ended, molecule, rollback, "
        "notification, progress) to PATH, as it happens",
    )  # fmt: skip
    said = output.add_mutually_exclusive_group()
    said.add_argument("--json", action="store_true", help="print the events as JSON lines on stdout instead of text")
    said.add_argument("--quiet", action="store_true", help="print only the end: each step's outcome and the summary")
    return output


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gates", description="A deployment gate written as a pytest suite.")
    config_help = "config file (default: $GATES_CONFIG, ./gates.toml, or [tool.gates] in ./pyproject.toml)"
    parser.add_argument("--config", help=config_help)
    parser.add_argument("--version", action="version", version=f"gates {_version()}")
    # `--config` is also taken after the subcommand (`gates status --config x.toml`): same meaning.
    common = _Parser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help=config_help)
    output = _output_options()
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "deploy",
        parents=[common, output],
        help="run the whole release: preflight, build, migrate, deploy and gate staging, drill the rollback, then production",
        description=(
            "Run the whole release under a lock of every environment (a second deploy is refused, exit 1, "
            "naming the holder). A failed production gate rolls production back automatically (exit 1). "
            "Ctrl-C or SIGTERM stops the children, records 'interrupted at <step>' and exits 130."
        ),
    )
    p.add_argument("--reports", help="folder for release records (default: [record] dir of the config)")
    p.add_argument("--workers", type=int, default=0, help="pytest-xdist workers per gate (default 0: in process)")
    p.add_argument(
        "--first-release",
        action="store_true",
        help="the app's first release: staging has nothing to roll back to, so the rollback drill is waived",
    )
    p.add_argument(
        "--approve",
        action="store_true",
        help="sign off production without a terminal (CI, once the environment's reviewers approved); "
        "the checklist must still be complete",
    )
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser(
        "migrate", parents=[common, output], help="apply pending migrations to an environment with the Supabase CLI"
    )
    p.add_argument("--env", required=True)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser(
        "backup", parents=[common], help="pg_dump an environment's database and prove it by a scratch restore"
    )
    p.add_argument("--env", required=True)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore", parents=[common], help="restore a backup into an environment's database (replaces its objects)"
    )
    p.add_argument("--env", required=True)
    p.add_argument("--backup", required=True, help="path of a backup file taken by `gates backup` or a release")
    p.add_argument("--yes", action="store_true", help="confirm: the database's objects are replaced")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser(
        "rollback",
        parents=[common, output],
        help="roll an environment back to an earlier release (the app only: the database is not touched)",
    )
    p.add_argument("--env", required=True)
    p.add_argument(
        "--to",
        type=int,
        help="release version (default: the previous good release: complete, other code, no failed gate in the "
        "environment's ledger or a local record)",
    )
    p.add_argument("--reports", help="folder of release records to judge releases by (default: [record] dir)")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser(
        "history",
        parents=[common],
        help="the releases and rollbacks of an environment, from the ledger in its database (newest first)",
    )
    p.add_argument("--env", required=True)
    p.add_argument("--limit", type=int, default=20, help=f"how many entries, 1 to {MAX_HISTORY} (default 20)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("status", parents=[common], help="what each environment runs now")
    p.add_argument("--env")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "down", parents=[common], help="stop everything gates started locally (instances, HAProxy, Postgres)"
    )
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("report", parents=[common], help="print the path of the latest release summary")
    p.add_argument("--reports", help="folder of release records (default: [record] dir of the config)")
    p.add_argument("--markdown", action="store_true", help="print the latest release's WORK COMPLETE block")
    p.add_argument(
        "--runbook-timings",
        action="store_true",
        help="rewrite the timing tables of the runbooks from the recorded releases (median per step, with count)",
    )
    p.add_argument("--runbooks", help="folder of the runbooks (default: docs/runbooks beside the config)")
    p.add_argument(
        "--commit",
        action="store_true",
        help="with --runbook-timings: commit the rewritten runbooks (only them); the latest record names the SHA",
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "monitor",
        parents=[common, output],
        help="watch an environment for a while: samples, alerts, plot and the monitor gate",
    )
    p.add_argument("--env", required=True)
    p.add_argument("--for", dest="duration", required=True, help="how long, e.g. 30s, 5m, 1h")
    p.add_argument("--reports", help="folder for records (default: [record] dir of the config)")
    p.set_defaults(func=cmd_monitor)

    p = sub.add_parser(
        "secrets", parents=[common], help="secrets of a local environment (names and digests shown, never values)"
    )
    ssub = p.add_subparsers(dest="secrets_command", required=True, parser_class=_Parser)
    c = ssub.add_parser("set", parents=[common], help="set NAME=VALUE, or NAME with the value on stdin")
    c.add_argument("--env", required=True)
    c.add_argument("assignment", metavar="NAME[=VALUE]")
    c.set_defaults(func=cmd_secrets_set)
    c = ssub.add_parser("unset", parents=[common], help="remove a secret")
    c.add_argument("--env", required=True)
    c.add_argument("name", metavar="NAME")
    c.set_defaults(func=cmd_secrets_unset)
    c = ssub.add_parser("list", parents=[common], help="names and digests")
    c.add_argument("--env", required=True)
    c.set_defaults(func=cmd_secrets_list)

    p = sub.add_parser("config", parents=[common], help="config commands")
    csub = p.add_subparsers(dest="config_command", required=True, parser_class=_Parser)
    c = csub.add_parser(
        "check",
        parents=[common],
        help="validate the config, the files it names and the secrets it needs, and say what a release would refuse",
    )
    c.set_defaults(func=cmd_config_check)

    p = sub.add_parser(
        "doctor",
        parents=[common],
        help="each tool the config (or, before there is one, the defaults) needs: found where, its version, or how "
        "to install it (exit 2 when one is missing)",
    )
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser(
        "init",
        parents=[common],
        help="write a commented gates.toml from what this repository holds (never overwrites one) and ignore "
        "gates' state in .gitignore",
        description="Reads package.json, fly*.toml, supabase/config.toml, the migrations, the app's routes, "
        "shopify.app.toml and .github/workflows of the current folder (or --config's folder).",
    )
    p.set_defaults(func=cmd_init)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-gates")
    except PackageNotFoundError:
        return "(not installed as pytest-gates)"


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM takes Ctrl-C's path: steps stop their children, the record and the locks are closed.
    # A second one must not cut the clean-up short. A handler, not SIG_IGN: an ignored signal would
    # stay ignored in the children started meanwhile, which are stopped with SIGTERM.
    signal.signal(signal.SIGTERM, _ignore)
    raise KeyboardInterrupt


def _ignore(signum: int, frame: object) -> None:
    return None


def main(argv: Sequence[str] | None = None) -> int:
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)  # only the main thread may set signal handlers
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except UsageError as exc:
        print(f"gates: error: {redact(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except GatesError as exc:
        print(f"gates: failed: {redact(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("gates: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _load(args: argparse.Namespace) -> config_mod.Config:
    from gates.target import open_config

    return open_config(args.config)


def cmd_deploy(args: argparse.Namespace) -> int:
    from gates import release
    from gates.journal import Journal
    from gates.paperwork import listen
    from gates.record import Record
    from gates.vcs import commit_of

    cfg = _load(args)
    for env in cfg.environments.values():
        cfg.check_secrets_present(env)
    if args.workers < 0:
        raise UsageError(f"gates deploy: --workers: expected 0 or more, got {args.workers}")
    _require_tools(cfg)
    root = _records_root(args, cfg)
    with _locked(cfg, list(cfg.environments)) as lock, _telling(args) as reporter:
        _recover(cfg)
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


def _recover(cfg: config_mod.Config) -> None:
    """Repair what a crashed gates process left (its journal), saying so on stderr before anything else."""
    from gates.recovery import recover

    for line in recover(cfg):
        print(f"gates: recovered: {redact(line)}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _telling(args: argparse.Namespace) -> Iterator[Reporter]:
    """The reporter of a command that runs steps: text lines (live on a terminal, plain in a log, grouped in
    GitHub Actions), JSON lines on stdout (--json) or nothing (--quiet); and the --events file besides.

    With --json, stdout carries only events: anything else a step prints goes to stderr."""
    from gates.progress import LIVE_EVERY, PLAIN_EVERY, JsonLines, Reporter, Sink, TextSink

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
    from gates.completion import block_of_summary

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
    from gates.lock import ReleaseLock

    with ReleaseLock(cfg, envs) as lock:
        for line in [*lock.stale, *lock.machine_only()]:
            print(f"gates: {line}", file=sys.stderr, flush=True)
        yield lock


def _require_tools(cfg: config_mod.Config) -> None:
    """Before anything changes: the tools the release needs are installed (ToolMissing, exit 2, names the install)."""
    from gates.database import has_database
    from gates.tools import path_of

    if any(has_database(e) for e in cfg.environments.values()):
        path_of("supabase")


def cmd_migrate(args: argparse.Namespace) -> int:
    from gates.database import prepare_database
    from gates.database.migrations import local_migrations
    from gates.migrate import migrate, watch

    cfg = _load(args)
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

    cfg = _load(args)
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

    cfg = _load(args)
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
    from gates import ledger
    from gates.journal import Journal
    from gates.platforms import platform_for, rollback_path
    from gates.rollback import judge, pick

    cfg = _load(args)
    env = cfg.environment(args.env)
    cfg.check_secrets_present(env)
    root = Path(args.reports).resolve() if args.reports else cfg.record_dir
    platform = platform_for(cfg, env)
    with _locked(cfg, [env.name]), _telling(args) as reporter:
        _recover(cfg)
        if args.to is not None and args.to == platform.status(env).release:  # a redeploy of it would prove nothing
            raise UsageError(f"gates rollback: --to {args.to}: {env.name} is already serving release {args.to}")
        judged = judge(cfg, env, root)
        print(f"gates: {env.name}: releases judged by {judged.source}", file=sys.stderr)
        releases = platform.releases(env)
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


def cmd_status(args: argparse.Namespace) -> int:
    from gates.platforms import KeepsPrevious, platform_for

    cfg = _load(args)
    _recover(cfg)
    envs = [cfg.environment(args.env)] if args.env else list(cfg.environments.values())
    rows: list[dict[str, Any]] = []
    from gates.platforms.external import Unsupported

    for env in envs:
        try:
            platform = platform_for(cfg, env)
            st = platform.status(env)
            warm = platform.warm(env) if isinstance(platform, KeepsPrevious) else None
        except Unsupported as exc:
            rows.append({"env": env.name, "platform": env.platform, "url": env.url, "release": None, "database_url": "",
                         "instances": [], "note": str(exc), "ledger": _ledger_status(cfg, env)})  # fmt: skip
            continue
        rows.append(
            {
                "env": env.name,
                "platform": env.platform,
                "url": st.url,
                "release": st.release,
                "database_url": st.database_url,
                "instances": [
                    {
                        "id": i.id,
                        "pid": i.pid,
                        "port": i.port,
                        "release": i.release,
                        "healthy": i.healthy,
                        "state": i.state,
                    }
                    for i in st.instances
                ],
                "serving": sorted({i.release for i in st.instances if i.state != "stopped" and i.release is not None}),
                "warm": _warm_row(warm),
                "ledger": _ledger_status(cfg, env),
            }
        )
    from gates.platforms.local.builds import state_usage

    state = state_usage(cfg)
    for row in rows:
        row["state_dir"] = state
    if args.json:
        print(redact(json.dumps(rows, indent=2)))
        return EXIT_OK
    for row in rows:
        serving = f"release {row['release']}" if row["release"] is not None else "no release yet"
        print(redact(f"{row['env']} ({row['platform']}): {row['url']} {serving}"))
        if row["database_url"]:
            print(redact(f"  database: {row['database_url']}"))
        for i in row["instances"]:
            health = "healthy" if i["healthy"] else "UNHEALTHY"
            print(f"  {i['id']}: pid {i['pid']} port {i['port']} release {i['release']} {health}")
        if row.get("note"):
            print(f"  {row['note']}")
        elif not row["instances"]:
            print("  no instances")
        if row.get("warm"):
            print(f"  {row['warm']['line']} (out of rotation, kept for an instant rollback)")
        if len(row.get("serving", [])) > 1:
            serving = ", ".join(str(v) for v in row["serving"])
            print(f"  WARNING: {row['env']} serves more than one release ({serving}): a rollout did not finish")
        known = row["ledger"]
        if known.get("unavailable"):
            print(f"  {known['unavailable']}")
        elif known["last"] is None:
            print("  ledger: no release recorded yet")
        else:
            print(redact(f"  last release (ledger): {known['last']['line']}"))
            print(f"  previous good release (ledger): {known['previous_good'] or 'none'}")
    apart = (
        "" if state["builds_bytes"] is None else f" in {state['builds_path']} ({state['builds_bytes'] / 2**20:.1f} MB)"
    )
    print(f"state folder {state['path']}: {state['bytes'] / 2**20:.1f} MB, {state['builds']} build(s) kept{apart}")
    return EXIT_OK


def _warm_row(warm: WarmSet | None) -> dict[str, Any] | None:
    if warm is None:
        return None
    return {"release": warm.release, "instances": warm.instances, "rss_bytes": warm.rss_bytes, "line": warm.describe()}


def _ledger_status(cfg: config_mod.Config, env: config_mod.Environment) -> dict[str, Any]:
    """What the environment's ledger says: its last entry and the previous good release (judged as `gates rollback`
    and the drill judge, gates/rollback.py), or why it says nothing."""
    import dataclasses

    from gates.rollback import judge

    judged = judge(cfg, env, cfg.record_dir)
    if judged.ledger.unavailable:
        return {"unavailable": judged.ledger.unavailable}
    last = judged.ledger.last
    return {
        "last": None if last is None else {**dataclasses.asdict(last), "line": last.line()},
        "previous_good": judged.previous_good(),
    }


def cmd_history(args: argparse.Namespace) -> int:
    import dataclasses

    from gates.ledger import ledger_of

    cfg = _load(args)
    env = cfg.environment(args.env)
    if not 1 <= args.limit <= MAX_HISTORY:
        raise UsageError(f"gates history: --limit: expected 1 to {MAX_HISTORY}, got {args.limit}")
    known = ledger_of(cfg, env, limit=args.limit)
    if known.unavailable:
        raise GatesError(f"{env.name}: {known.unavailable}")
    if args.json:
        print(redact(json.dumps([dataclasses.asdict(e) for e in known.entries], indent=2)))
        return EXIT_OK
    if not known.entries:
        print(f"{env.name}: the ledger has no release of {cfg.app.name} yet")
    for entry in known.entries:
        print(redact(entry.line()))
    return EXIT_OK


def cmd_down(args: argparse.Namespace) -> int:
    from gates.database.cluster import LocalCluster
    from gates.platforms.registry import down

    cfg = _load(args)
    stopped = down(cfg)
    cluster = LocalCluster.for_config(cfg)
    was_running = cluster.running()
    cluster.stop()  # also clears the data folder a crashed cluster left behind
    if was_running:
        stopped.append("postgres cluster")
    print("gates: stopped " + (", ".join(stopped) if stopped else "nothing (nothing was running)"))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from gates.record import latest

    if (args.runbooks or args.commit) and not args.runbook_timings:
        raise UsageError("gates report: --runbooks and --commit go with --runbook-timings")
    root = Path(args.reports).resolve() if args.reports else _load(args).record_dir
    if args.runbook_timings:
        from gates.runbooks import update_docs

        runbooks = Path(args.runbooks).resolve() if args.runbooks else _load(args).root / "docs" / "runbooks"
        updated, record = update_docs(root, runbooks, args.commit)
        for path, count in updated:
            print(f"gates: {path}: timing table rewritten from {count} recorded releases")
        if record is not None and record.state.docs is not None:
            print(f"gates: release {record.id}: {record.state.docs.said}")
        return EXIT_OK
    folder = latest(root)
    if folder is None:
        raise UsageError(f"{root}: no release record yet; run gates deploy")
    if args.markdown:
        from gates.completion import block_of_summary

        print(block_of_summary(folder / "summary.md"), end="")
        return EXIT_OK
    print(folder / "summary.md")
    return EXIT_OK


def cmd_monitor(args: argparse.Namespace) -> int:
    from gates import release
    from gates.durations import parse_duration
    from gates.record import Record
    from gates.release.monitor import monitor_step_for
    from gates.vcs import commit_of

    seconds = parse_duration(args.duration, "gates monitor: --for")
    cfg = _load(args)
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


def _secret_store(args: argparse.Namespace) -> Any:
    from gates.platforms.local import Site
    from gates.platforms.secrets import SecretStore

    cfg = _load(args)
    env = cfg.environment(args.env)
    from gates.platforms.registry import driver

    if not driver(cfg, env).runs_locally:
        raise UsageError(f"gates secrets: {env.name} is on {env.platform}; use that platform's own tool (fly secrets)")
    return SecretStore(Site(cfg, env).dir)


def cmd_secrets_set(args: argparse.Namespace) -> int:
    name, eq, value = args.assignment.partition("=")
    if not eq:
        # From stdin: the value stays out of argv (visible to every user) and shell history.
        value = sys.stdin.read().rstrip("\n")
    store = _secret_store(args)
    secret = store.set(name, value)
    print(f"gates: {args.env}: {secret.name} set (digest {secret.digest}); instances get it at their next start")
    return EXIT_OK


def cmd_secrets_unset(args: argparse.Namespace) -> int:
    if not _secret_store(args).unset(args.name):
        raise UsageError(f"gates secrets unset: {args.env} has no secret {args.name!r}")
    print(f"gates: {args.env}: {args.name} removed; instances lose it at their next start")
    return EXIT_OK


def cmd_secrets_list(args: argparse.Namespace) -> int:
    for secret in _secret_store(args).list():
        print(f"{secret.name}\t{secret.digest}")
    return EXIT_OK


def cmd_config_check(args: argparse.Namespace) -> int:
    from gates.gatesschema import check_not_exposed

    cfg = _load(args)
    cfg.check_files()
    check_not_exposed(cfg)  # gates' own schema (lock, ledger) is never one the API serves
    for env in cfg.environments.values():
        cfg.check_secrets_present(env)
    from gates.checks.refusals import refusals

    refused = refusals(cfg, os.environ)  # what a release would refuse later, said now
    for line in refused:
        print(f"gates: error: {redact(line)}", file=sys.stderr)
    if refused:
        return EXIT_USAGE
    names = ", ".join(f"{e.name} ({e.platform})" for e in cfg.environments.values())
    print(f"gates: {cfg.path}: ok: app {cfg.app.name}; environments {names}")
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from gates.release.init import init

    target = Path(args.config or "gates.toml").resolve()
    for line in init(target.parent, target.name):
        print(line)
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from gates.release.doctor import load_if_any, survey

    cfg = load_if_any(args.config)
    lines = survey(cfg, Path.cwd())
    print(f"gates: tools for {cfg.path if cfg else 'a config gates init would write (none here yet)'}:")
    for line in lines:
        print(line.text())
    return EXIT_OK if all(line.ok for line in lines) else EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
