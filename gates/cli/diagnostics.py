"""Commands that check before a release: config check, init, doctor."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gates.cli.common import EXIT_OK, EXIT_USAGE, load
from gates.core.redact import redact


def cmd_config_check(args: argparse.Namespace) -> int:
    from gates.coordination.schema import check_not_exposed

    cfg = load(args)
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
