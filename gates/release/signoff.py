"""The ``signoff`` step, production's sign-off (DEVOPS-006): a checklist with evidence, then a named person's approval.

Placed after the production backup and before the production migrate: every
item can then be proven from this release's record. An unchecked item fails
the step naming it; no one can sign past it. With every item checked the
release asks for confirmation on a terminal, or takes ``gates deploy
--approve`` (CI, where the environment's reviewers already approved); with
neither it refuses. The state's ``signoff`` keeps who signed, when, how,
and the checklist as it stood.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import subprocess
import sys

from gates.config import Environment
from gates.core.errors import GatesError
from gates.core.measurement import utcnow
from gates.evidence.notify import Notifier
from gates.evidence.record import Record
from gates.evidence.state import Signoff, StepRecord
from gates.release.context import Context


@dataclasses.dataclass(frozen=True)
class Item:
    item: str
    checked: bool
    note: str
    evidence: str

    def line(self) -> str:
        return f"[{'x' if self.checked else ' '}] {self.item}: {self.note} (evidence: {self.evidence})"


def _preflight(record: Record) -> Item:
    step = next((s for s in record.steps if s.name == "preflight"), None)
    evidence = step.artifacts[0] if step and step.artifacts else "record.json"
    if step is None:
        return Item("preflight passed", False, "no preflight ran in this release", evidence)
    return Item("preflight passed", step.outcome == "passed", step.detail or step.outcome, evidence)


def _drill(record: Record) -> Item:
    drill = record.state.drill
    evidence = drill.evidence if drill else "record.json"
    return Item("rollback drill passed in this release", record.state.drill_ok(), record.state.drill_said(), evidence)


def _backup(record: Record, env: str) -> Item:
    backup = record.state.proven_backup(env)
    name = "proven backup of this release"
    if backup is None:
        return Item(name, False, f"no proven backup of {env} was taken in this release", "record.json")
    return Item(name, True, backup.said, backup.path)


def _notifications(ctx: Context) -> Item:
    name = "notifications reachable"
    if not ctx.config.notify.webhook_env:
        return Item(name, False, "no [notify] webhook_env configured", "record.json")
    if not ctx.state.delivered():
        # Nothing reached the channel yet in this release: prove it now with a message that says it is a test.
        notifier = next((n for n in ctx.record.listeners if isinstance(n, Notifier)), None)
        (notifier or Notifier(ctx.config, ctx.record)).test_message()
    ok = ctx.state.delivered()
    if ok:
        return Item(name, True, f"{len(ok)} delivered in this release (last: {ok[-1].event})", "record.json")
    last = ctx.state.notifications[-1].delivery if ctx.state.notifications else "nothing sent"
    return Item(name, False, f"no delivery succeeded ({last})", "record.json")


def checklist(ctx: Context, env: Environment) -> list[Item]:
    return [_preflight(ctx.record), _drill(ctx.record), _backup(ctx.record, env.name), _notifications(ctx)]


def signer() -> str:
    """Who signs: $GITHUB_ACTOR in CI, else git's user.name <user.email>, else the OS user."""
    actor = os.environ.get("GITHUB_ACTOR", "").strip()
    if actor:
        return f"{actor} (GITHUB_ACTOR)"
    name, email = _git_config("user.name"), _git_config("user.email")
    if name:
        return f"{name} <{email}>" if email else name
    return getpass.getuser()


def _git_config(key: str) -> str:
    try:
        result = subprocess.run(["git", "config", key], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _confirm(env: str) -> bool:
    answer = input(f"Sign off the release to {env}? Type 'yes' to go on: ")
    return answer.strip().lower() == "yes"


def signoff_step(ctx: Context, env: Environment, rec: StepRecord) -> None:
    """Show the checklist with its evidence; refuse an unchecked item; then take --approve or a terminal's yes."""
    items = checklist(ctx, env)
    state = ctx.state.signoff = Signoff(env=env.name, checklist=[dataclasses.asdict(i) for i in items])
    rec.artifacts.append("record.json")
    print(f"gates: sign-off of the release to {env.name}:")
    for item in items:
        print(f"  {item.line()}")
    unchecked = [i.item for i in items if not i.checked]
    if unchecked:
        raise GatesError(f"{env.name} not signed off: unchecked: {'; '.join(unchecked)}")
    if ctx.approve:
        how = "--approve"
    elif sys.stdin is not None and sys.stdin.isatty():
        if not _confirm(env.name):
            raise GatesError(f"{env.name} not signed off: the confirmation was declined")
        how = "interactive"
    else:
        raise GatesError(
            f"{env.name} needs a sign-off: run on a terminal to confirm, or pass --approve "
            "(in CI, once the environment's reviewers approved)"
        )
    state.signed, state.by, state.at, state.how = True, signer(), utcnow().isoformat(), how
    rec.detail = f"signed by {state.by} ({how}) at {state.at}; {len(items)} items checked"
