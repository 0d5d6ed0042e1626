"""The Python default's instances started together share one import of the server.

Without ``[app] start`` an instance is ``python -m uvicorn app:app ...`` in its release's snapshot. Its
start is about 0.2 s of CPU, half of it uvicorn's own import (and asyncio's): the same work for every
instance. A rolling deploy that starts several at once starts one fork server for the whole rollout: a
process that imports the server once, then forks each instance it is asked for; each fork does what
``python -m uvicorn`` would do with its own arguments, in a session of its own, in the snapshot, with its
own environment (nothing of the fork server's), its output appended to its log. The app itself is
imported by each instance, after its environment is set: an app reading ``APP_INSTANCE`` or ``PORT`` at
import sees its own.

The fork server answers each instance's pid and start time (read while it is still its child, so even an
instance that died at once is named exactly), and exits when its stdin closes, at the rollout's end; its
instances then belong to init. Why: on 2 cores, the 8 instances of a deploy were 8 x 0.2 s of CPU
against 2 x 0.2 s for a deploy of 2, so a deploy of 8 could not take less than twice as long as one of
2, however the batches were cut; and one server for the rollout, not one per batch, keeps its own start
(a Python start and the import, 0.25 s of wall time on a quiet machine) out of every batch but the first.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from gates.core.errors import GatesError
from gates.core.redact import redact

FORK_TIMEOUT = 60.0  # seconds: the server's import and a batch's forks, on a busy machine
STOP_TIMEOUT = 5.0  # seconds the fork server has to exit once its stdin is closed

# Reads one JSON line per batch on stdin, [[cwd, log, env, uvicorn's arguments], ...]: neither in its own
# environment nor in argv (visible to every user of the machine); answers "pid ticks" per instance, then "done".
# The server's modules an instance's start would import anyway are imported here, once.
_FORKER = """\
import json, os, sys, traceback
import uvicorn.main, uvicorn.config, uvicorn.server, uvicorn.lifespan.on, uvicorn.loops.auto
import uvicorn.protocols.http.auto, uvicorn.protocols.websockets.auto
null = os.open(os.devnull, os.O_RDONLY)
print("ready", flush=True)
for line in sys.stdin:
    for cwd, log, env, args in json.loads(line):
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
    print("done", flush=True)
"""

Fork = tuple[Path, dict[str, str], Sequence[str]]  # an instance: its log, its environment, uvicorn's arguments


class ForkServer:
    """One fork server of a rollout: ``fork`` a batch of instances, each (pid, start ticks) or why not."""

    def __init__(self, proc: subprocess.Popen[bytes], python: str, cwd: Path, log: Path) -> None:
        self.proc, self.python, self.cwd, self.log = proc, python, cwd, log
        self.ready = False
        self.unread = b""  # read from its stdout, not yet a whole line
        self.gone = ""  # why it answers no more

    @classmethod
    @contextlib.contextmanager
    def running(cls, python: str, cwd: Path, env: dict[str, str], log: Path) -> Iterator[ForkServer]:
        """A fork server of ``python`` for instances in ``cwd``, stopped when the block ends; what it says on its
        own (an import that failed) goes to ``log``. ``env``: the environment it starts in (an instance's: the
        interpreter's own settings -- bytecode, buffering, PYTHONPATH -- are read from it at start, and every
        instance shares them)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as err:
            proc = subprocess.Popen(
                [python, "-c", _FORKER], cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=err, bufsize=0, start_new_session=True,
            )  # fmt: skip
        server = cls(proc, python, cwd, log)
        try:
            yield server
        finally:
            server.stop()

    def fork(self, instances: Sequence[Fork]) -> list[tuple[int, int] | GatesError]:
        """Start ``instances``, each forked from the server; per instance, (pid, start ticks) or why it did not
        start (the server is gone: its exit and the end of its log)."""
        started: list[tuple[int, int] | GatesError] = []
        batch = [[str(self.cwd), str(log), env, list(args)] for log, env, args in instances]
        for log, _, _ in instances:
            log.parent.mkdir(parents=True, exist_ok=True)
        try:
            if not self.gone:
                if not self.ready:
                    self._expect("ready")
                    self.ready = True
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps(batch).encode() + b"\n")
                while (line := self._line()) != "done":
                    pid, ticks = line.split()
                    started.append((int(pid), int(ticks)))
        except (GatesError, OSError, ValueError) as exc:
            self.gone = str(exc)
        why = GatesError(f"could not start the instance: the fork server ({self.python}) {self.gone}")
        return started + [why] * (len(instances) - len(started))

    def _expect(self, word: str) -> None:
        said = self._line()
        if said != word:
            raise GatesError(f"said {said!r} where {word!r} was expected")

    def _line(self) -> str:
        """Its next line, within FORK_TIMEOUT; GatesError when it ends or says nothing in time. Read from the pipe
        itself (no buffered reader: a line it holds would leave select waiting for the next one)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + FORK_TIMEOUT
        while b"\n" not in self.unread:
            ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0.0))
            if not ready:
                raise GatesError(f"said nothing within {FORK_TIMEOUT:g}s")
            chunk = os.read(fd, 4096)
            if not chunk:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=STOP_TIMEOUT)
                tail = self.log.read_text(errors="replace").strip().splitlines()[-3:] if self.log.is_file() else []
                raise GatesError(f"exited {self.proc.poll()}: {redact(' | '.join(tail))} (its log: {self.log})")
            self.unread += chunk
        line, _, self.unread = self.unread.partition(b"\n")
        return line.decode(errors="replace").strip()

    def stop(self) -> None:
        """Close its stdin (it exits); SIGKILL it when it does not within STOP_TIMEOUT."""
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
