"""The command that finds the evidence: report."""

from __future__ import annotations

import argparse
from pathlib import Path

from gates.cli.common import EXIT_OK, load
from gates.core.errors import UsageError


def cmd_report(args: argparse.Namespace) -> int:
    from gates.evidence.record import latest

    if (args.runbooks or args.commit) and not args.runbook_timings:
        raise UsageError("gates report: --runbooks and --commit go with --runbook-timings")
    root = Path(args.reports).resolve() if args.reports else load(args).record_dir
    if args.runbook_timings:
        from gates.evidence.runbooks import update_docs

        runbooks = Path(args.runbooks).resolve() if args.runbooks else load(args).root / "docs" / "runbooks"
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
        from gates.evidence.completion import block_of_summary

        print(block_of_summary(folder / "summary.md"), end="")
        return EXIT_OK
    print(folder / "summary.md")
    return EXIT_OK
