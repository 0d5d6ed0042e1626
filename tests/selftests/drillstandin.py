"""`python -m tests.selftests.drillstandin <gates arguments>`: the gates CLI, with a stand-in for the rollback drill.

The production sign-off needs a rollback drill in the release, or its waiver. Until gates has its
drill (gates/drill.py), the whole releases of the self-tests and the benchmark run through this
module (see gates.sandbox.release_cli): it puts a ``drill`` step where the drill goes (after the
last staging gate) that records the drill as waived, saying it is a stand-in, and it accepts
``--first-release``. With gates.drill present it is the plain CLI and changes nothing.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

from gates import cli, pipeline
from gates.config import Config, Environment
from gates.record import StepRecord

WAIVER = "stand-in: this build of gates has no rollback drill (tests/selftests/drillstandin.py)"
_plan = pipeline.plan


def _waive(ctx: pipeline.Context, env: Environment, rec: StepRecord) -> None:
    ctx.record.extra["drill"] = {"passed": False, "env": env.name, "waived": WAIVER, "timings": {}, "report": ""}
    rec.detail = f"waived: {WAIVER}"


def plan_with_drill(config: Config) -> list[pipeline.Step]:
    steps = _plan(config)
    staged = [i for i, s in enumerate(steps) if s.name == "gate" and not config.environment(s.env).is_production]
    if staged and not any(s.name == "drill" for s in steps):
        steps.insert(staged[-1] + 1, pipeline.Step("drill", steps[staged[-1]].env, _waive))
    return steps


def main(argv: Sequence[str]) -> int:
    if importlib.util.find_spec("gates.drill") is None:
        pipeline.plan = plan_with_drill
        argv = [a for a in argv if a != "--first-release"]
    return cli.main(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
