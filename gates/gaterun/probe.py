"""The traffic probe: steady requests to an environment during a deploy, every one recorded.

The probe runs the sampling engine (gates/monitor/sampler.py) in a child process, ``python -m
gates.gaterun.probe``, so the deploy's own work (and its GIL) never stalls it and its CPU cost is its own.
It writes one JSON line per request into ``probe-<env>.jsonl``; the parent adds a header before
and a trailer after::

    {"probe": {"env", "urls", "rate", "concurrency", "timeout", "before", "started_at"}}
    {"at", "url", "status", "seconds", "error", "release", "server"}      one per request
    {"end": {"after", "outcome", "deployed_at", "requests", "seconds", "cpu_seconds", "waived", "settle"}}

The child says ``{"ready": pid}`` on stdout once it runs, before its first request, and its account of
itself at the end. Starting it is two waits, each bounded by what it waits for: the child's start (a
Python start-up and its imports, START_TIMEOUT), then its first request, recorded answered or failed
within the request's own bound (``[probe] timeout``, sampler.request_bound).
The child stops when its stdin closes, so it never outlives the gates process that started it.
The first release of an environment is not probed: nothing served before it, so there is no
downtime to measure, and the trailer says so (``waived``); nor is a rollout into an environment
where no instance served before it (stopped by ``gates down``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from gates.checks.downtime import Limits, Timeline, rollout_without_downtime, switch_at, timeline
from gates.config import Config, Environment
from gates.core.errors import GatesError
from gates.core.measurement import Measurement
from gates.core.procs import wait_until
from gates.core.redact import redact
from gates.monitor.plot import plot_timeline
from gates.monitor.sampler import Sample, request_bound, sample

# The child runs: a Python start-up and the imports of this module, 0.3 s on an idle machine, 0.9 to 2.7 s
# measured at a load of 11 on 2 cores (its first request then took 0.02 to 0.4 s more). Its first request
# has its own bound (request_bound).
START_TIMEOUT = 15.0
READY = "ready"  # the key of the child's first line on stdout: it runs
SETTLE_TIMEOUT = 15.0  # after the deploy: the serving release answers alone, the minimum is reached
STREAK = 20  # answers in a row from one release that show it serves alone
MAX_SECONDS = 3600.0  # a probe never runs longer, whatever happens to its parent


def probe_urls(config: Config, env: Environment) -> list[str]:
    """The URLs the probe requests: [probe] paths, else the health paths and the dashboard."""
    paths = config.probe.paths or (*config.app.health_paths, config.browser.dashboard_path)
    return [env.url.rstrip("/") + p for p in dict.fromkeys(paths)]


# ---------------------------------------------------------------------------
# The evidence file


@dataclasses.dataclass(frozen=True)
class ProbeRun:
    """A probe file read back: its header, its samples and its trailer."""

    path: Path
    header: dict[str, Any]
    samples: tuple[Sample, ...]
    end: dict[str, Any]

    @property
    def before(self) -> int | None:
        return _version(self.header.get("before"))

    @property
    def after(self) -> int | None:
        return _version(self.end.get("after"))

    @property
    def waived(self) -> str:
        return str(self.end.get("waived") or "")

    @property
    def deployed_at(self) -> float | None:
        value = self.end.get("deployed_at")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def timeline(self) -> Timeline:
        return timeline(self.samples)

    def summary(self) -> dict[str, Any]:
        """What the record keeps of the probe (record.json extra["probe"][env])."""
        t = self.timeline
        cpu, seconds = self.end.get("cpu_seconds"), self.end.get("seconds")
        share = (
            cpu / seconds if isinstance(cpu, (int, float)) and isinstance(seconds, (int, float)) and seconds else None
        )
        return {
            "requests": t.requests,
            "failed": t.failed,
            "max_gap_ms": None if t.max_gap_ms is None else round(t.max_gap_ms, 1),
            "rate": round(t.rate, 1),
            "cpu_percent": None if share is None else round(share * 100, 1),
            "releases": list(t.releases),
            "waived": self.waived,
        }

    def describe(self) -> str:
        if self.waived:
            return f"probe: not run ({self.waived})"
        s = self.summary()
        gap = f"{s['max_gap_ms']:.0f} ms" if s["max_gap_ms"] is not None else "n/a"
        return f"probe: {s['requests']} requests at {s['rate']:.0f}/s, {s['failed']} failed, max gap {gap}"


def load(path: Path) -> ProbeRun:
    """A probe file; GatesError naming it when it is absent or not a probe file."""
    header: dict[str, Any] = {}
    end: dict[str, Any] = {}
    samples: list[Sample] = []
    try:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            data = json.loads(line)
            if "probe" in data:
                header = data["probe"]
            elif "end" in data:
                end = data["end"]
            else:
                samples.append(Sample.from_dict(data))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GatesError(f"{path}: no readable probe evidence ({type(exc).__name__}: {exc})") from None
    if not header:
        raise GatesError(f"{path}: not a probe file (no header line)")
    return ProbeRun(path, header, tuple(samples), end)


def probe_path(out: Path, env: Environment, kind: str = "") -> Path:
    """Where a step keeps the traffic probe of ``env``'s rollout: ``probe-<env>[.<kind>].jsonl``."""
    return out / f"probe-{env.name}{'.' + kind if kind else ''}.jsonl"


def probe_files(out: Path, env: Environment) -> list[Path]:
    """The probe files of ``env`` in one record folder: the deploy's first, then other kinds (a rollback)."""
    return [p for p in (probe_path(out, env), *sorted(out.glob(f"probe-{env.name}.*.jsonl"))) if p.is_file()]


def latest_probe(out: Path, env: Environment) -> Path | None:
    """The newest probe file of ``env`` in ``out``: the rollout the environment serves now."""
    found = probe_files(out, env)
    return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None


def find(config: Config, env: Environment, release: int | None) -> ProbeRun:
    """The newest probe evidence under the record dir of a rollout of ``env`` to ``release`` (a deploy or a
    rollback: ``probe-<env>[.<kind>].jsonl``); GatesError if none."""
    root = config.record_dir
    name = probe_path(root, env).name
    folders = sorted((p for p in root.iterdir() if p.is_dir()), reverse=True) if root.is_dir() else []
    for folder in folders:
        for path in probe_files(folder, env):
            if release is not None and (run := load(path)).after == release:
                return run
    raise GatesError(
        f"no probe evidence of the deploy of release {release} to {env.name}: no {name} under {root} for it."
        f" The deploy step of `gates deploy` probes every rollout; or pass --probe-samples PATH"
    )


def judge(run: ProbeRun, expected: int | None, config: Config) -> Measurement:
    """The zero_downtime verdict on a probe file, for the release the environment must serve now."""
    limits = Limits(config.probe.max_gap_ms, config.probe.min_requests)
    return rollout_without_downtime(
        run.samples, old=run.before, new=expected, deployed_at=run.deployed_at, limits=limits,
        source=f"{run.path} (GET {', '.join(run.header.get('urls', []))})", probed=run.after,
    )  # fmt: skip


def plot(run: ProbeRun, path: Path) -> Path:
    """The probe's timeline: durations by release, failures in red, the switch and the deploy's end marked."""
    marks: list[tuple[float, str]] = []
    if run.after is not None and (at := switch_at(run.samples, str(run.after))) is not None:
        marks.append((at, f"release {run.after} answers"))
    if run.deployed_at is not None:
        marks.append((run.deployed_at, "deploy done"))
    title = f"traffic probe of {run.header.get('env', '?')}: release {run.before} -> {run.after}"
    return plot_timeline(run.samples, title, path, marks=marks, by_release=True)


def _said(line: str) -> dict[str, Any]:
    """A line the child printed: its JSON object, or an empty one when it printed something else."""
    try:
        data = json.loads(line)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _version(value: Any) -> int | None:
    return int(value) if isinstance(value, int) or (isinstance(value, str) and value.isdigit()) else None


def _append(path: Path, data: dict[str, Any]) -> None:
    with path.open("a") as fh:
        fh.write(json.dumps(data) + "\n")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


# ---------------------------------------------------------------------------
# Around a deploy


class Probe:
    """One probe of one deploy: start before, ``finish`` after (in a ``finally``), the file in ``path``."""

    def __init__(self, config: Config, env: Environment, path: Path, before: int | None, idle: str = "") -> None:
        self.config = config
        self.env = env
        self.path = path
        self.before = before
        # Why nothing to measure: a first release, or an environment that served nothing before
        # the rollout (stopped by `gates down`): its outage is not the deploy's.
        self.waived = (
            f"first release of {env.name}: nothing served before the deploy, no downtime to measure"
            if before is None
            else idle
        )
        self.proc: subprocess.Popen[str] | None = None
        self.after: int | None = None
        self.deployed_at: float | None = None
        self._offset = 0
        self._seen: list[Sample] = []
        self._said = b""  # what the child said on stdout while it started

    def start(self) -> Probe:
        """Write the header; unless this is the first release, start the child and wait for its first request."""
        p = self.config.probe
        urls = probe_urls(self.config, self.env)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "env": self.env.name, "urls": urls, "rate": p.rate, "concurrency": p.concurrency,
            "timeout": p.timeout, "before": self.before, "started_at": _now(),
        }  # fmt: skip
        self.path.write_text(json.dumps({"probe": header}) + "\n")
        self._offset = self.path.stat().st_size
        if self.waived:
            return self
        self.proc = subprocess.Popen(
            self._argv(urls), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        first = max(request_bound(url, p.timeout) for url in urls)
        try:
            state = wait_until(
                f"the probe of {self.env.name} to start (a Python process)", self._running, timeout=START_TIMEOUT
            )
            if state != "exited":
                bounded = f"answered or failed: [probe] timeout = {p.timeout:g}s bounds its connect and each read"
                what = f"the probe of {self.env.name} to send its first request ({bounded})"
                state = wait_until(what, self._started, timeout=first)
        except GatesError:
            self._stop()
            raise
        if state == "exited":
            raise GatesError(f"the probe of {self.env.name} did not start: {self._stop().get('error', '')}")
        return self

    def deployed(self, version: int) -> None:
        """The platform says release ``version`` is rolled out: from now on the old release must not answer."""
        self.after = version
        self.deployed_at = time.time()

    def finish(self, *, settle: bool = True) -> ProbeRun:
        """Let the serving release answer alone for a moment (``settle``), stop the child, write the trailer."""
        end: dict[str, Any] = {"after": self.after, "outcome": "complete" if self.after is not None else "failed"}
        end["deployed_at"] = self.deployed_at
        if self.waived:
            end["waived"] = self.waived
        elif self.proc is not None:
            serving = self.after if self.after is not None else self.before
            if settle and serving is not None:
                end["settle"] = self._settle(serving)
            end.update(self._stop())
        _append(self.path, {"end": end})
        return load(self.path)

    # -- internals -------------------------------------------------------------

    def _read(self) -> list[Sample]:
        """Samples the child wrote since the last read (complete lines only)."""
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        fresh = [Sample.from_dict(json.loads(line)) for line in complete.splitlines() if line.strip()]
        self._seen += fresh
        return fresh

    def _argv(self, urls: list[str]) -> list[str]:
        p = self.config.probe
        args = [sys.executable, "-m", "gates.gaterun.probe", "--out", str(self.path), "--rate", str(p.rate)]
        return [*args, "--concurrency", str(p.concurrency), "--timeout", str(p.timeout), *urls]

    def _running(self) -> str | None:
        """ "running" once the child said so on stdout, "exited" if it ended first."""
        proc = self.proc
        if proc is None or proc.stdout is None:
            return "exited"
        # The raw pipe, never its buffered reader: what is left stays for the account read at the end.
        fd = proc.stdout.fileno()
        while b"\n" not in self._said and select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                return "exited"
            self._said += chunk
        if b"\n" in self._said:
            return "running" if READY in _said(self._said.split(b"\n", 1)[0].decode(errors="replace")) else "exited"
        return "exited" if proc.poll() is not None else None

    def _started(self) -> str | None:
        if self.proc is not None and self.proc.poll() is not None:
            return "exited"
        return "started" if self._read() or self._seen else None

    def _settle(self, serving: int) -> str:
        """Keep probing until STREAK requests sent after the rollout returned were answered by ``serving``."""
        minimum = self.config.probe.min_requests
        since = self.deployed_at or time.time()
        what = f"{STREAK} answers in a row from release {serving} after the rollout and at least {minimum} requests"

        def done() -> bool:
            self._read()
            tail = [s for s in self._seen[-STREAK:] if s.at >= since]
            alone = len(tail) == STREAK and all(not s.failed and s.release == str(serving) for s in tail)
            return alone and len(self._seen) >= minimum

        try:
            wait_until(f"the probe to see {what}", done, timeout=SETTLE_TIMEOUT)
        except GatesError as exc:
            return str(exc)
        return f"seen: {what}"

    def _stop(self) -> dict[str, Any]:
        """Close the child's stdin (its signal to stop) and read its account of itself."""
        proc = self.proc
        if proc is None:
            return {}
        try:
            out, err = proc.communicate(timeout=self.config.probe.timeout + 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        try:
            lines = (self._said.decode(errors="replace") + out).splitlines()
            account = next(d for d in map(_said, reversed(lines)) if d and READY not in d)
        except StopIteration:
            return {"error": redact(f"the probe exited {proc.returncode}: {err.strip()[-300:]}")}
        return account


# ---------------------------------------------------------------------------
# The child process


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gates.gaterun.probe", description="Probe URLs until stdin closes.")
    parser.add_argument("--out", required=True, help="append one JSON line per request to this file")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args(argv)
    print(json.dumps({READY: os.getpid()}), flush=True)  # the parent's wait for the first request starts now
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Ctrl-C reaches the whole process group: the parent decides when the probe stops (it closes stdin).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_stop_on_eof, args=(sys.stdin, stop), daemon=True).start()
    with open(args.out, "a") as fh:

        def write(one: Sample) -> None:
            fh.write(json.dumps(one.as_dict()) + "\n")
            fh.flush()  # the parent reads the file as it grows

        cpu, started = _cpu(), time.monotonic()
        taken = sample(
            args.urls, args.rate, args.max_seconds,
            timeout=args.timeout, on_sample=write, stop=stop, concurrency=args.concurrency,
        )  # fmt: skip
        account = {"requests": len(taken), "seconds": time.monotonic() - started, "cpu_seconds": _cpu() - cpu}
    print(json.dumps(account), flush=True)
    return 0


def _stop_on_eof(stream: IO[str], stop: threading.Event) -> None:
    stream.read()
    stop.set()


def _cpu() -> float:
    """CPU seconds of this process, every thread, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
