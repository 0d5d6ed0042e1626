"""The `gates` command: run a release, operate environments, find the evidence.

Bad input exits 2 with one line naming where and what; a failed release
step exits 1 naming the step; nothing prints a secret.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from gates.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from gates.cli.parser import build_parser
from gates.core.errors import GatesError, UsageError
from gates.core.redact import redact


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
