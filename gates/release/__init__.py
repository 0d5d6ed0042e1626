"""The release: a plan of steps (one module each), each naming the steps whose verdicts it waits on, and
the runner that executes it (gates.release.schedule: a step starts once those passed, a few at once).

Data flows one way: the runner hands each step the release's Context (config, record and its
typed state, platform drivers); a step reads the facts the steps it waits on established from the
state and adds its own. No step imports the runner.
"""

from gates.release.context import Context, Step, StepFn
from gates.release.prune import prune_builds
from gates.release.runner import execute, plan
from gates.release.signoff import signer

__all__ = ["Context", "Step", "StepFn", "execute", "plan", "prune_builds", "signer"]
