"""The gate runner: one gate is `pytest -m <gate>` in a child process, run where the config lives.

The child is a plain pytest in the team's own repository (the config's folder), as the team would
run it by hand: the gates plugin adds the shipped molecules to whatever the repository's own
marked tests are. The child writes a self-contained HTML report, JUnit XML and the measurements
into the record; its exit code and the JUnit XML give the verdict. A gate that ran nothing fails.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from gates.config import Config, Environment
from gates.core.errors import GatesError
from gates.core.markers import WAIVED_PREFIX
from gates.core.procs import STOP_GRACE, run, stop_group
from gates.core.redact import keep_file, redact
from gates.evidence.junit import first_cause, junit_summary
from gates.evidence.progress import Reporter, ticking
from gates.gaterun.holdword import GO, say
from gates.gaterun.probe import latest_probe

GATE_TIMEOUT = 900.0
TAIL_EVERY = 0.1  # seconds between reads of a running gate's events file


@dataclasses.dataclass(frozen=True)
class GateOutcome:
    passed: bool
    detail: str
    failed: tuple[str, ...]
    artifacts: tuple[Path, ...]
    waived: tuple[tuple[str, str], ...] = ()  # (molecule, reason) of each molecule waived in [gate] waive

    @property
    def said(self) -> str:
        return ("passed: " if self.passed else "FAILED: ") + self.detail


def gate_marker(env: Environment) -> str:
    """The gate an environment is promoted through: production's, or staging's for any other."""
    return "production" if env.is_production else "staging"


def gate_command(
    config: Config, env: Environment, marker: str, out: Path, stem: str, expected: int | None, workers: int
) -> list[str]:
    """The child pytest's argv: no path of gates itself, no -c, no rootdir: the plugin brings the molecules.

    It writes one JSON line per finished molecule (``events_path``), and its HTML report names the
    record it belongs to (``out``), so the report stands alone."""
    args = [
        sys.executable, "-m", "pytest",
        "-m", marker, "--env", env.name, "--gates-config", str(config.path),
        f"--html={out / (stem + '.html')}", "--self-contained-html",
        f"--junitxml={out / (stem + '.xml')}", f"--measurements={out / (stem + '-measurements.jsonl')}",
        "--gates-events", str(events_path(out, stem)), "--gates-record", str(out),
        "-p", "no:cacheprovider", "-q", "-rfE", "--color=no",
    ]  # fmt: skip
    if expected is not None:
        args += ["--expect-release", str(expected)]
    probe = latest_probe(out, env)
    if probe is not None:  # only the zero_downtime molecule (production) reads it
        args += ["--probe-samples", str(probe)]
    if workers:
        args += ["-n", str(workers)]
    return args


def child_bytecode(config: Config, environ: Mapping[str, str]) -> dict[str, str]:
    """The child pytest's bytecode settings: where the environment forbids writing bytecode beside the sources
    (PYTHONDONTWRITEBYTECODE) and names no cache folder of its own, the child caches it under the state folder.

    Why: without a cache every gate recompiles gates' modules and re-rewrites the asserts of every pytest
    plugin (anyio, pytest-html, xdist, ...): 0.3-0.4 s of one core before the first molecule, each gate.
    Nothing is written beside the sources, which is what the variable asks for."""
    if not environ.get("PYTHONDONTWRITEBYTECODE") or environ.get("PYTHONPYCACHEPREFIX"):
        return {}
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(config.state_dir / "pycache")}


def events_path(out: Path, stem: str) -> Path:
    """The running gate's events: one JSON line per finished molecule (kept with the logs)."""
    return out / "logs" / f"{stem}-events.jsonl"


def run_gate(
    config: Config,
    env: Environment,
    marker: str,
    out: Path,
    stem: str,
    expected: int | None = None,
    workers: int = 0,
    env_vars: Mapping[str, str] | None = None,
    reporter: Reporter | None = None,
    options: Sequence[str] = (),
    timeout: float = GATE_TIMEOUT,
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
    going: Callable[[], bool] | None = None,
) -> GateOutcome:
    """Run one gate in a child pytest, in the config's folder; its exit code and JUnit XML give the verdict.

    While it runs, each molecule's verdict is told to ``reporter`` as the child finishes it; ``options`` are more
    options of the child (the comparison's baseline); ``on_start`` is handed the child as it starts. ``going``
    (a held gate's): waits for the word and says whether it was go; what the gate prefetches (the advisors' run)
    starts only then, on what the gate judges."""
    log = out / "logs" / f"{stem}.log"
    args = [*gate_command(config, env, marker, out, stem, expected, workers), *options]
    events = events_path(out, stem)
    events.parent.mkdir(parents=True, exist_ok=True)
    events.unlink(missing_ok=True)  # an earlier run of this gate into the same folder is not this one
    advisors = _prefetch_advisors(config, env, marker, out / f"{stem}-advisors.json", going)
    if advisors is not None:
        args += ["--advisors-report", str(advisors[0])]
    reporter = reporter or Reporter()
    watch = GateWatch(reporter, stem.replace("-", " "), env.name)
    try:
        with reporter.waiting(watch.what), tailing(events, watch):
            variables = {**child_bytecode(config, os.environ), **(env_vars or {})}
            result = run(args, timeout=timeout, cwd=config.root, log=log, check=False, env=variables, on_start=on_start)
    except subprocess.SubprocessError as exc:  # pragma: no cover - run() converts the usual ones
        raise GatesError(f"gate {marker} on {env.name}: {exc}") from None
    except BaseException:
        if advisors is not None:  # interrupted: do not wait out the CLI's whole timeout
            advisors[1].join(timeout=STOP_GRACE)
        raise
    if advisors is not None:
        advisors[1].join()  # bounded by the CLI's own timeout; usually done long before the gate
    extra = (advisors[0],) if advisors is not None and advisors[0].exists() else ()
    artifacts = tuple(p for p in (out / f"{stem}.html", out / f"{stem}.xml", log, *extra) if p.exists())
    # The child masked what it knew; this process may know more secrets (a platform's, set since it started).
    for written in (*artifacts, events, out / f"{stem}-measurements.jsonl"):
        keep_file(written)
    counts, failed = junit_summary(out / f"{stem}.xml")
    waived = waivers(out / f"{stem}.xml")
    if result.returncode == 0 and counts.get("tests", 0) > 0:
        return GateOutcome(True, _passed(counts, waived), (), artifacts, waived)
    if result.returncode in (0, 5):
        # Fail closed: a gate that ran nothing proved nothing.
        return GateOutcome(False, f"gate {marker} on {env.name} ran no molecule", (), artifacts)
    if failed:
        names = "; ".join(failed[:5])
        return GateOutcome(
            False, f"{len(failed)} of {counts.get('tests', '?')} molecules failed: {names}", failed, artifacts
        )
    tail = " | ".join(result.output.strip().splitlines()[-3:])
    return GateOutcome(
        False, f"gate {marker} on {env.name} could not run (exit {result.returncode}): {tail}", (), artifacts
    )


class HeldGate:
    """A gate whose child starts now and holds its molecules until ``go`` (gates/gaterun/plugin/hold.py): pytest's
    start-up, its plugins and the collection happen while what it judges is still being made. ``outcome`` waits for
    its verdict; ``call_off`` stops it (what it would judge never came)."""

    def __init__(self, word: Path, run_it: Callable[[HeldGate], GateOutcome]) -> None:
        self.word = word
        self.told = False  # go or called off: it no longer waits
        self.went = False  # told go
        self._decided = threading.Event()  # set once told go or called off
        self._lock = threading.Lock()  # a child starting while the gate is called off is stopped either way
        self._child: list[subprocess.Popen[str]] = []
        self._result: list[GateOutcome | BaseException] = []
        # In a copy of the starting thread's context: a step that is stopped (gates.core.procs.Stopper) stops this
        # child with its own commands.
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run, run_it), name=f"gates-held {word.name}",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def _run(self, run_it: Callable[[HeldGate], GateOutcome]) -> None:
        try:
            self._result.append(run_it(self))
        except BaseException as exc:  # handed to whoever waits for the outcome
            self._result.append(exc)

    def go(self, expect_release: int | None = None, options: Mapping[str, Any] | None = None) -> None:
        """Let its molecules run, expecting ``expect_release`` when it is only known now, with the other ``options``
        only known now (gates.gaterun.holdword's LATE_OPTIONS)."""
        late = {**(options or {}), **({} if expect_release is None else {"gates_expect_release": expect_release})}
        say(self.word, GO, late)
        self.told = self.went = True
        self._decided.set()

    def started(self, child: subprocess.Popen[str]) -> None:
        """Its child, as it starts (``call_off`` stops it; one that starts after it was called off is stopped now)."""
        with self._lock:
            self._child.append(child)
            off = self._decided.is_set() and not self.went
        if off:
            stop_group(child)

    def going(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until it is told go or called off; whether it was go."""
        self._decided.wait(timeout)
        return self.went

    def call_off(self, why: str) -> None:
        """Stop the child (and everything it started) before it judges anything, and leave it the word why (a child
        not started yet fails its molecules saying so); wait for its thread."""
        self.told = True
        with self._lock:
            self._decided.set()
            children = list(self._child)
        for child in children:
            stop_group(child)
        say(self.word, why)
        self._thread.join(STOP_GRACE * 2)

    @property
    def running(self) -> bool:
        """Whether its child process still runs."""
        return any(child.poll() is None for child in self._child)

    def outcome(self) -> GateOutcome:
        """The gate's verdict once its child ended (bounded by the child's own timeout)."""
        self._thread.join()
        (found,) = self._result
        if isinstance(found, BaseException):
            raise found
        return found


def start_held(
    config: Config, env: Environment, marker: str, out: Path, stem: str, *, hold_for: float, workers: int = 0,
    env_vars: Mapping[str, str] | None = None, reporter: Reporter | None = None,
) -> HeldGate:  # fmt: skip
    """``run_gate`` started now, its molecules held until told ``go`` (at most ``hold_for`` seconds). Whoever starts
    it tells it go or calls it off (``held_gate`` does as its block ends)."""
    word = events_path(out, stem).with_name(f"{stem}-go")
    word.parent.mkdir(parents=True, exist_ok=True)
    word.unlink(missing_ok=True)  # an earlier run's word is not this one's
    hold = ["--gates-hold", str(word), "--gates-hold-timeout", f"{hold_for:g}"]
    return HeldGate(word, lambda gate: run_gate(
        config, env, marker, out, stem, workers=workers, env_vars=env_vars, reporter=reporter, options=hold,
        timeout=GATE_TIMEOUT + hold_for, on_start=gate.started, going=lambda: gate.going(hold_for),
    ))  # fmt: skip


@contextlib.contextmanager
def held_gate(
    config: Config, env: Environment, marker: str, out: Path, stem: str, *, hold_for: float, workers: int = 0,
    env_vars: Mapping[str, str] | None = None, reporter: Reporter | None = None,
) -> Iterator[HeldGate]:  # fmt: skip
    """``run_gate`` started now, its molecules held until the block says ``go`` (at most ``hold_for`` seconds);
    an exception in the block (an interrupt too) calls the gate off and stops its child before it propagates, and a
    gate the block neither let go nor called off is called off as it ends (nothing waits on for a word)."""
    gate = start_held(config, env, marker, out, stem, hold_for=hold_for, workers=workers, env_vars=env_vars,
                      reporter=reporter)  # fmt: skip
    try:
        yield gate
    except BaseException as exc:
        gate.call_off(f"what it judges was not made: {type(exc).__name__}: {redact(str(exc))}")
        raise
    if not gate.told:
        gate.call_off("not needed: nothing was made for it to judge")


class GateWatch:
    """Turns the child's events into the reporter's: each molecule's verdict, and molecules done of collected."""

    def __init__(self, reporter: Reporter, what: str, env: str) -> None:
        self.reporter, self.what, self.env = reporter, what, env
        self.total: int | None = None
        self.done = 0

    def __call__(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        if kind == "collected":
            self.total = int(event.get("total") or 0)
        if kind != "molecule":
            return
        self.done += 1
        message = str(event.get("message") or "")
        self.reporter.molecule(
            gate=self.what, env=self.env, name=str(event.get("name", "?")), outcome=str(event.get("outcome", "?")),
            problem=first_cause(message.removeprefix("Failed: ")) if message else "", seed_step=str(event.get("seed_step") or ""),
            concern=str(event.get("concern") or ""), seconds=event.get("seconds"),
        )  # fmt: skip
        self.reporter.progress(self.what, self.done, self.total, unit="molecules")


@contextlib.contextmanager
def tailing(path: Path, on_event: Callable[[Mapping[str, Any]], None]) -> Iterator[None]:
    """Read the JSON lines another process appends to ``path`` while the block runs, each once, in order;
    the lines left when the block ends are read too. A line that is not JSON is skipped."""
    offset = 0

    def read() -> None:
        nonlocal offset
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
        except FileNotFoundError:
            return
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a half-written line waits for its end
        offset += len(complete)
        for line in complete.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                on_event(event)

    try:
        with ticking(TAIL_EVERY, read, f"gates-tail {path.name}"):
            yield
    finally:
        read()


def _passed(counts: Mapping[str, int], waived: tuple[tuple[str, str], ...]) -> str:
    skipped = counts.get("skipped", 0) - len(waived)
    ran = counts["tests"] - skipped - len(waived)
    said = f"{ran} molecules passed" + (f", {skipped} skipped" if skipped else "")
    return said + "".join(f"; waived: {name} ({reason})" for name, reason in waived)


def waivers(path: Path) -> tuple[tuple[str, str], ...]:
    """(molecule, reason) of each molecule the JUnit XML shows skipped as waived."""
    if not path.is_file():
        return ()
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return ()
    found = []
    for case in root.iter("testcase"):
        node = case.find("skipped")
        message = (node.get("message") or "") if node is not None else ""
        if WAIVED_PREFIX in message:
            name = case.get("name", "?").split("[", 1)[0]  # one waiver covers every parametrisation
            found.append((name, message.split(WAIVED_PREFIX, 1)[1].strip()))
    return tuple(found)


def _prefetch_advisors(
    config: Config, env: Environment, marker: str, path: Path, going: Callable[[], bool] | None = None
) -> tuple[Path, threading.Thread] | None:
    """Start `supabase db advisors` for a gate whose marker expression selects the advisors molecule
    (`staging`, `production`, `staging and database`, ...) in a thread, now: it runs on the core the child
    pytest leaves idle while it starts up, instead of after the browser molecules. Everything else, the
    imports and naming the database included, happens in the thread: the child starts at once. A held gate's
    (``going``) runs once the gate may go, on the database as it is then; none when it was called off."""
    if not selects_advisors(marker):
        return None
    path.unlink(missing_ok=True)  # a run left by an earlier gate of this record is not this gate's
    thread = threading.Thread(target=_advisors, args=(config, env, path, going), name="gates-advisors", daemon=True)
    thread.start()
    return path, thread


def _advisors(config: Config, env: Environment, path: Path, going: Callable[[], bool] | None = None) -> None:
    """The advisors' run into ``path``; a database that cannot be named is a run that could not happen, which
    the molecule fails (when its own database fixture has not already said why)."""
    from gates.checks.advisors import AdvisorsRun, keep_run, prefetch
    from gates.database import database_url
    from gates.database.exposed import exposed_schemas

    if going is not None and not going():
        return  # called off (or no word within its bound): no molecule reads a run
    try:
        url = database_url(config, env)
        schemas = exposed_schemas(config).schemas
    except Exception as exc:  # any failure must reach the molecule, never leave it waiting on a file
        keep_run(path, AdvisorsRun("", -1, redact(f"supabase db advisors could not run: {exc}")))
        return
    prefetch(url, path, read_only=env.is_production, schemas=schemas)


ADVISORS_MARKERS = frozenset({"staging", "production", "database"})  # the advisors molecule's markers


def selects_advisors(marker: str) -> bool:
    """Whether ``pytest -m <marker>`` collects the advisors molecule (marked staging, production, database)."""
    from _pytest.mark.expression import Expression  # the parser `-m` itself uses

    try:
        return Expression.compile(marker).evaluate(lambda name, /, **_: name in ADVISORS_MARKERS)
    except SyntaxError:  # pytest refuses the expression itself, naming it
        return False
