"""Run the benchmark: ``python -m gates.bench [--quick] [--out reports/bench.json]``."""

from __future__ import annotations

import argparse
import json
import platform as host
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gates.bench import saturation, scenarios
from gates.bench.sandbox import CHECKOUT
from gates.bench.stats import Figure, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gates.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one or two runs of each, for a smoke test")
    parser.add_argument("--out", default=str(CHECKOUT / "reports" / "bench.json"))
    parser.add_argument(
        "--saturated", type=int, default=20, metavar="N",
        help="healthy releases of the React Router demo with every core busy (default 20; --quick: the Python stand-in once, not saturated)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    runs = 2 if args.quick else 5
    started = time.monotonic()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="gates-bench-") as tmp:
        figures += scenarios.collection(Path(tmp), runs)
        figures += scenarios.release_and_gate(Path(tmp), runs=1 if args.quick else 3)
        figures += scenarios.rollback(Path(tmp), runs=1 if args.quick else 3)
        figures += scenarios.hung_target(Path(tmp))
        figures += scenarios.deploy_scaling(Path(tmp), runs=1 if args.quick else 3)
        figures += scenarios.database_scale(Path(tmp), runs=1 if args.quick else 3)
        figures += scenarios.probe_resolution(Path(tmp), quick=args.quick)
        # Last: its busy loops would load every figure measured beside them.
        saturated = 1 if args.quick else max(args.saturated, 1)
        figures += saturation.saturated_releases(Path(tmp), saturated, saturate=not args.quick)
    print(table(figures))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": {"python": sys.version.split()[0], "platform": host.platform(), "cpus": _cpus()},
        "quick": args.quick,
        "seconds": round(time.monotonic() - started, 1),
        "figures": [f.as_dict() for f in figures],
    }
    out.write_text(json.dumps(data, indent=2, allow_nan=True) + "\n")
    print(f"bench: wrote {out}")
    return 0


def _cpus() -> int:
    out = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    return int(out) if out.isdigit() else 0


if __name__ == "__main__":
    raise SystemExit(main())
