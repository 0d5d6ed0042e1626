"""The Python default's instances started together share one import of the server.

Without ``[app] start`` an instance is ``python -m uvicorn app:app ...`` in its release's snapshot. Its
start is about 0.2 s of CPU, half of it uvicorn's own import (and asyncio's): the same work for every
instance of a batch. When a rolling deploy starts several at once, one short-lived process imports the
server, then forks each instance from there; each fork then does what ``python -m uvicorn`` would do
with its own arguments, in a session of its own, in the snapshot, with its own environment (nothing of
the forking process's), its output appended to its log. The app itself is imported by each instance,
after its environment is set: an app reading ``APP_INSTANCE`` or ``PORT`` at import sees its own.

The forking process prints each instance's pid and start time (read while it is still its child, so
even an instance that died at once is named exactly) and exits; the instances then belong to init, as
they did when each was started by a launcher of its own. Why: on 2 cores, the 8 instances of a deploy
were 8 x 0.2 s of CPU against 2 x 0.2 s for a deploy of 2, so a deploy of 8 could not take less than
twice as long as one of 2, however the batches were cut.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from gates.core.errors import GatesError
from gates.core.procs import run

FORK_TIMEOUT = 60.0  # seconds: the server's import and the forks, on a busy machine

# Reads [cwd, log, env, uvicorn's arguments] of each instance on stdin: neither in its own environment nor in
# argv (visible to every user of the machine). The server's modules an instance's start would import anyway
# are imported here, once.
_FORKER = """\
import json, os, sys, traceback
import uvicorn.main, uvicorn.config, uvicorn.server, uvicorn.lifespan.on, uvicorn.loops.auto
import uvicorn.protocols.http.auto, uvicorn.protocols.websockets.auto
todo = json.load(sys.stdin)
null = os.open(os.devnull, os.O_RDONLY)
for cwd, log, env, args in todo:
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setsid()
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(env)
            sys.argv = ["uvicorn", *args]
            uvicorn.main.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(out)
    with open(f"/proc/{pid}/stat") as stat:
        print(pid, stat.read().rpartition(")")[2].split()[19], flush=True)
"""


def fork_all(
    python: str, cwd: Path, instances: Sequence[tuple[Path, dict[str, str], Sequence[str]]]
) -> list[tuple[int, int] | GatesError]:
    """Start ``instances`` ((log, environment, uvicorn's arguments) each) in ``cwd``, forked from one process of
    ``python`` that imported the server once; per instance, (pid, start ticks) or why it did not start."""
    todo = [[str(cwd), str(log), env, list(args)] for log, env, args in instances]
    for log, _, _ in instances:
        log.parent.mkdir(parents=True, exist_ok=True)
    # The forking process runs in the first instance's environment: the interpreter's own settings (bytecode,
    # buffering, PYTHONPATH) are read from it at start, and every instance of a batch shares them.
    first = instances[0][1] if instances else {}
    try:
        done = run([python, "-c", _FORKER], timeout=FORK_TIMEOUT, cwd=cwd, env=first, inherit=False,
                   input=json.dumps(todo), check=False)  # fmt: skip
        output, code, said = done.stdout, done.returncode, done.output
    except GatesError as exc:  # it timed out: what it printed before is lost with it
        output, code, said = "", None, str(exc)
    started: list[tuple[int, int] | GatesError] = []
    for line in output.splitlines():
        pid, ticks = line.split()
        started.append((int(pid), int(ticks)))
    why = GatesError(
        f"could not start the instance: the process forking them from {python} exited {code}: "
        + " | ".join(said.strip().splitlines()[-3:])
    )
    return started + [why] * (len(instances) - len(started))
