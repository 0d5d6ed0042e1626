"""The release: a plan of steps (one module each), each naming the steps whose verdicts it waits on, and
the runner that executes it (gates.release.schedule: a step starts once those passed, a few at once).

Data flows one way: the runner hands each step the release's Context (config, record and its
typed state, platform drivers); a step reads the facts the steps it waits on established from the
state and adds its own. No step imports the runner.

The names below are imported when first used, not with the package: importing any module of it
(``gates rollback`` needs only gates.release.goodness) would otherwise import the runner and through it
the gate runner, the traffic probe, the monitor, pytest and httpx -- most of a rollback's wall time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gates.release.context import Context, Step, StepFn
    from gates.release.prune import prune_builds
    from gates.release.runner import execute, plan
    from gates.release.signoff import signer

__all__ = ["Context", "Step", "StepFn", "execute", "plan", "prune_builds", "signer"]
_HOME = {"Context": "context", "Step": "context", "StepFn": "context", "prune_builds": "prune", "execute": "runner",
         "plan": "runner", "signer": "signoff"}  # fmt: skip


def __getattr__(name: str) -> Any:
    """``gates.release.<name>`` of ``__all__``, imported from its module on first use (PEP 562)."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value  # once: the next lookup finds it without this function
    return value
