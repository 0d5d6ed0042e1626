"""What every command of the `gates` command shares: its exit codes and its config."""

from __future__ import annotations

import argparse
import sys

from gates import config as config_mod
from gates.core.redact import redact

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def load(args: argparse.Namespace) -> config_mod.Config:
    from gates.target import open_config

    return open_config(args.config)


def recover_crashed(cfg: config_mod.Config) -> None:
    """Repair what a crashed gates process left (its journal), saying so on stderr before anything else."""
    from gates.coordination.recovery import recover

    for line in recover(cfg):
        print(f"gates: recovered: {redact(line)}", file=sys.stderr, flush=True)
