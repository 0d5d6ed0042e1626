"""The `gates` command's arguments: one sub-command per command, each calling its ``cmd_*``."""

from __future__ import annotations

import argparse

from gates.cli.diagnostics import cmd_config_check, cmd_doctor, cmd_init
from gates.cli.environments import MAX_HISTORY, cmd_down, cmd_history, cmd_status
from gates.cli.evidence import cmd_report
from gates.cli.release import cmd_backup, cmd_deploy, cmd_migrate, cmd_monitor, cmd_restore, cmd_rollback
from gates.cli.secrets import cmd_secrets_list, cmd_secrets_set, cmd_secrets_unset
from gates.core.errors import UsageError


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
            "naming the holder). Each step starts once the verdicts it needs passed; the preflight runs beside "
            "the build, production's backup beside staging's gate and drill. A failed production gate rolls "
            "production back automatically (exit 1). Ctrl-C or SIGTERM stops the children of every running step, "
            "records 'interrupted at <step>' and exits 130."
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
    p.add_argument(
        "--accept-visual",
        action="store_true",
        help="the release's visual difference from the release it replaces is intended: the visual comparison "
        "passes, recorded with the signer ($GITHUB_ACTOR, else git's user.name, else the OS user)",
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
        help="roll an environment back to an earlier release (the app only: the database is not touched); a switch "
        "to the warm previous release inside its keep_previous_for window, else a redeploy: says which, and how long",
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

    p = sub.add_parser(
        "status",
        parents=[common],
        help="what each environment runs now, and its warm previous release: memory, stop time",
    )
    p.add_argument("--env")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "down",
        parents=[common],
        help="stop everything gates started locally (instances, warm ones too, HAProxy, Postgres)",
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
