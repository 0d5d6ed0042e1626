"""The word a held gate waits for (gates/gaterun/plugin/hold.py): a small JSON file, ``go`` with the options only
known by then, or why the gate was called off, written whole by the process that started the gate. No pytest here:
the gates process writes it."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

GO = "go"
POLL = 0.02  # seconds between two looks at the word
# The options a word may set (pytest's dest names): what is only known once the gate may go.
# The release it must find; the probe of the rollout it judges; the comparison's baseline (or why there is none) and
# its accepted visual change.
LATE_OPTIONS = frozenset({
    "gates_expect_release", "gates_probe_samples", "gates_baseline_release", "gates_no_baseline", "gates_accept_visual",
})  # fmt: skip


def say(path: Path, word: str, options: Mapping[str, Any] | None = None) -> None:
    """Tell a held gate ``word`` (GO, or why it is called off) and the late ``options`` (LATE_OPTIONS), whole:
    written aside, then renamed into place."""
    unknown = set(options or {}) - LATE_OPTIONS
    if unknown:
        raise ValueError(f"not options a held gate takes late: {', '.join(sorted(unknown))}")
    aside = path.with_name(path.name + ".tmp")
    aside.write_text(json.dumps({"word": word, "options": dict(options or {})}) + "\n")
    aside.replace(path)


def read_word(path: Path, timeout: float) -> tuple[str, dict[str, Any]]:
    """Wait (bounded) for the word at ``path``: ("", the late options) for go, else (why no molecule may run, {})."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            data = json.loads(path.read_text())  # renamed into place: never half written
        except FileNotFoundError:
            data = None
        except ValueError:
            return f"the word to go ({path}) is not JSON (fail closed)", {}
        if isinstance(data, dict):
            word = str(data.get("word", ""))
            if word != GO:
                return f"the gate was called off before its molecules ran: {word or '(no reason)'}", {}
            options = data.get("options") or {}
            return "", {k: v for k, v in options.items() if k in LATE_OPTIONS}
        if time.monotonic() >= deadline:
            return f"the word to go ({path}) never came within {timeout:g}s (fail closed)", {}
        time.sleep(POLL)
