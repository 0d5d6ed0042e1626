"""Run the benchmark: ``python -m gates.bench [--quick | --smoke] [--out reports/bench.json]``.

Every figure is the median of at least 5 runs, with min and max beside it; the report says the
machine's load (1-minute load average before, during and after, and nproc) while it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import sys
import tempfile
import time
from pathlib import Path

from gates.bench import comparison, saturation, scenarios, window
from gates.bench.load import LoadWatch
from gates.bench.registry import SCENARIOS, Scenario
from gates.bench.sandbox import CHECKOUT
from gates.bench.stats import MIN_RUNS, Figure, table

# Their scenarios register on import.
REGISTERED_BY = (scenarios, window, comparison, saturation)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gates.bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true",
        help=f"only the cheap scenarios ({', '.join(s.name for s in SCENARIOS if s.cheap)}), "
             f"each with its {MIN_RUNS}+ runs; the others are skipped and named",
    )  # fmt: skip
    parser.add_argument(
        "--smoke", action="store_true",
        help="the quick run's scenarios, once each: proves the bench runs and writes its JSON (one run is no figure)",
    )  # fmt: skip
    parser.add_argument(
        "--only", action="append", default=[], metavar="SCENARIO", choices=[s.name for s in SCENARIOS],
        help="run only this scenario (repeatable), with its full runs: one figure measured again",
    )  # fmt: skip
    parser.add_argument("--out", default=str(CHECKOUT / "reports" / "bench.json"))
    parser.add_argument(
        "--saturated", type=int, default=saturation.SATURATED_RELEASES, metavar="N",
        help=f"healthy releases of the React Router demo with every core busy (default "
             f"{saturation.SATURATED_RELEASES}, at least {MIN_RUNS}; not in --quick)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.saturated < MIN_RUNS:
        parser.error(f"--saturated: at least {MIN_RUNS} releases, got {args.saturated}")
    quick = args.quick or args.smoke
    chosen = [s for s in SCENARIOS if (s.cheap or not quick) and (not args.only or s.name in args.only)]
    skipped = [s.name for s in SCENARIOS if s not in chosen]
    if skipped:
        said = "smoke" if args.smoke else "quick" if quick else "only"
        print(f"bench: {said}: skipped (run `make bench` for them): {', '.join(skipped)}", flush=True)
    started = time.monotonic()
    figures: list[Figure] = []
    ran: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="gates-bench-") as tmp, LoadWatch() as watch:
        for s in chosen:
            runs = 1 if args.smoke else args.saturated if s.measure is saturation.saturated_releases else s.runs
            figures += _run(s, Path(tmp) / s.name.replace(" ", "-"), runs, ran)
    assert watch.load is not None
    print(table(figures))
    print(f"bench: {watch.load.line()}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": {"python": sys.version.split()[0], "platform": host.platform(), "cpus": watch.load.nproc},
        "load": watch.load.as_dict(),
        "quick": args.quick,
        "smoke": args.smoke,
        "only": args.only,
        "skipped": skipped,
        "seconds": round(time.monotonic() - started, 1),
        "scenarios": ran,
        "figures": [f.as_dict() for f in figures],
    }
    out.write_text(json.dumps(data, indent=2, allow_nan=True) + "\n")
    print(f"bench: wrote {out}")
    return 0


def _run(s: Scenario, folder: Path, runs: int, ran: list[dict[str, object]]) -> list[Figure]:
    """One scenario, with the load average at its start and end (a figure's neighbours may differ in load)."""
    folder.mkdir(parents=True)
    before, started = os.getloadavg()[0], time.monotonic()
    figures = s.measure(folder, runs)
    ran.append({
        "name": s.name, "runs": runs, "seconds": round(time.monotonic() - started, 1),
        "load_before": before, "load_after": os.getloadavg()[0],
    })  # fmt: skip
    return figures


if __name__ == "__main__":
    raise SystemExit(main())
