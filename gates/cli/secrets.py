"""The commands of the local platform's secrets: secrets set, unset, list."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gates.cli.common import EXIT_OK, load
from gates.core.errors import UsageError


def _secret_store(args: argparse.Namespace) -> Any:
    from gates.platforms.local import Site
    from gates.platforms.secrets import SecretStore

    cfg = load(args)
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
