"""The locks of the local platform's state: one deploy at a time per environment, one build at a time.

Unlike the release lock (gates.coordination.lock), these wait: a deploy or rollback of an environment takes
seconds, and a second one should follow it, not fail.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from gates.core.measurement import utcnow
from gates.core.procs import wait_until

LOCK_TIMEOUT = 10.0  # seconds another deploy of the same environment takes to finish


@contextlib.contextmanager
def locked(path: Path, what: str, timeout: float | None = None) -> Iterator[None]:
    """Hold the flock of ``path``; GatesError naming ``what``, the file and its holder if not free in time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        fh.seek(0)
        holder = fh.read().strip() or "another process"

        def take() -> bool:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        wait_until(f"{what} ({path}, held by {holder})", take, timeout=LOCK_TIMEOUT if timeout is None else timeout)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} since {utcnow().isoformat(timespec='seconds')}\n")
            fh.flush()
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
