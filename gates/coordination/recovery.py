"""After a crash: the next gates command finds what a dead release left unfinished, says so, repairs it.

A journal file whose process died (gates.coordination.journal) names the record and the step it was in. The
record is closed as ``interrupted (crashed at <step>)`` (its summary and page too, with an end time)
and written to the ledger of each environment it worked on, as a finished release would be; each environment the dead process was
working on is put back to serving one release (the platform's ``repair``, where it has one).
Environments a live gates process is working on are never touched: only dead processes' intents
are read.
"""

from __future__ import annotations

from pathlib import Path

from gates.config import Config
from gates.coordination.dblock import who
from gates.coordination.journal import unfinished
from gates.coordination.ledger import entry_of, touched, write
from gates.evidence.record import mark_crashed
from gates.platforms import platform_for


def recover(config: Config) -> list[str]:
    """Repair what crashed gates processes left; one line per thing found or done (empty: nothing)."""
    said: list[str] = []
    for left in unfinished(config.state_dir):
        intent = left.intent
        head = f"gates {intent.command} (pid {intent.pid}) died at {intent.where}"
        closed = mark_crashed(Path(intent.record), *intent.steps) if intent.record else None
        if closed is not None:
            head += f"; its record {intent.record} is marked interrupted (crashed at {intent.where})"
        said.append(head)
        if closed is not None:
            # The dead process never reached its finish, where the ledger is written: say it for it.
            holder, machine = who()
            for name in touched(closed):
                if name in config.environments:
                    entry = entry_of(config, closed, name, holder, machine)
                    closed.state.ledger[name] = write(config, config.environments[name], entry)
            closed.write()
        # Only the environments its steps in progress were acting on (steps may run beside each other): one that
        # died before its first step changed nothing, and another environment may be mid-rollout under a live
        # release right now.
        envs = [e for e in dict.fromkeys(env for _, env in intent.steps) if e in config.environments]
        for name in envs:
            env = config.environments[name]
            repair = getattr(platform_for(config, env), "repair", None)
            if repair is not None:
                said += [f"{name}: {line}" for line in repair(env)]
        left.close()
    return said
