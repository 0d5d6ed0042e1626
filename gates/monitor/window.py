"""One monitoring window of an environment: sample, alert as it goes, evaluate, and keep the evidence.

Writes into ``out``: ``<stem>-samples.jsonl`` (every sample), ``<stem>.json`` (what was measured,
thresholds, breaches, alerts sent) and ``<stem>.png`` (the plot). The ``monitor`` molecules read
``<stem>.json`` back, so the verdict of the gate and the evidence are the same numbers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gates.config import Config, Environment
from gates.core.errors import GatesError
from gates.core.redact import keep, redact
from gates.evidence.channels import Channel, channel
from gates.monitor.alerts import Alerter, AlertEvent
from gates.monitor.evaluate import Breach, Stats, Thresholds, breaches, rolling, stats
from gates.monitor.plot import plot_window
from gates.monitor.sampler import Sample, sample

WINDOW_ENV = "GATES_MONITOR_WINDOW"  # path of the window's JSON, handed to the monitor gate
BROWSER_ENV = "GATES_MONITOR_BROWSER"  # path of the window browser's visits (gates.release.watch), likewise
PROGRESS_EVERY = 1.0  # seconds between two progress reports of a window (each one sorts every latency so far)


@dataclasses.dataclass(frozen=True)
class WindowProgress:
    """How far a window got: seconds elapsed of its total, and what the samples so far measured."""

    elapsed: float
    total: float
    stats: Stats

    def describe(self) -> str:
        return f"{measured(self.stats)} so far"


def measured(s: Stats, with_source: bool = False) -> str:
    """Samples (and their source), error rate and p95 of ``s`` in a few words ("n/a" for what is unknown)."""
    rate = f"{s.error_rate:.2%}" if s.error_rate is not None else "n/a"
    p95 = f"{s.p95:.3f}s" if s.p95 is not None else "n/a"
    source = f" ({s.source})" if with_source else ""
    return f"{s.count} samples{source}, error rate {rate}, p95 {p95}"


def thresholds(config: Config) -> Thresholds:
    m = config.monitor
    return Thresholds(m.max_error_rate, m.max_p95, m.min_samples)


def monitor_urls(config: Config, env: Environment) -> list[str]:
    paths = config.monitor.paths or (*config.app.health_paths, "/app")
    return [env.url.rstrip("/") + p for p in dict.fromkeys(paths)]


def alert_channel(config: Config) -> Channel:
    """The monitor's alert channel: the webhook in [monitor] webhook_env; without one, every delivery fails saying so."""
    return channel(config.monitor.webhook_env, "monitor")


@dataclasses.dataclass(frozen=True)
class WindowResult:
    stats: Stats
    breaches: tuple[Breach, ...]
    events: tuple[AlertEvent, ...]
    json_path: Path
    samples_path: Path
    plot_path: Path

    @property
    def ok(self) -> bool:
        return not self.breaches

    def describe(self) -> str:
        head = measured(self.stats, with_source=True)
        alerts = sum(1 for e in self.events if e.kind == "alert")
        tail = f"; {alerts} alert(s) sent" if self.events else ""
        if self.breaches:
            return f"{head}: breached: {'; '.join(b.describe() for b in self.breaches)}{tail}"
        return head + tail


def run_window(
    config: Config,
    env: Environment,
    seconds: float,
    out: Path,
    stem: str,
    *,
    stop_after: int | None = None,
    prometheus_client: Any = None,
    on_progress: Callable[[WindowProgress], None] | None = None,
    memory: Callable[[], Mapping[str, int]] | None = None,
) -> WindowResult:
    """Sample ``env`` for ``seconds``, alerting on rolling breaches; evaluate the whole window; write the evidence.

    ``on_progress`` hears how far the window got (at most every PROGRESS_EVERY seconds, and at its end).
    ``memory`` (instance -> resident bytes now) is read through the window by gates.platforms.local.memory's
    sampler, beside how many requests the window had sent by then: the window's JSON keeps the readings
    (``memory``), for the monitor gate's growth molecule."""
    mon = config.monitor
    limits = thresholds(config)
    out.mkdir(parents=True, exist_ok=True)
    json_path, samples_path, plot_path = out / f"{stem}.json", out / f"{stem}-samples.jsonl", out / f"{stem}.png"
    alerter = Alerter(alert_channel(config), where=f"{config.app.name} {env.name}", evidence=str(json_path))
    taken: list[Sample] = []
    started = dt.datetime.now(dt.UTC)
    began = time.monotonic()
    told = [began]
    sampler = _sampler(memory, lambda: len(taken))

    def tell(force: bool = False) -> None:
        now = time.monotonic()
        if on_progress is not None and (force or now - told[0] >= PROGRESS_EVERY):
            told[0] = now
            on_progress(WindowProgress(min(now - began, seconds), seconds, stats(taken)))

    with samples_path.open("w") as fh:

        def on_sample(one: Sample) -> None:
            taken.append(one)
            fh.write(json.dumps(one.as_dict()) + "\n")
            fh.flush()
            recent = rolling(taken, mon.rolling)
            if len(recent) >= mon.rolling:  # judge only a full rolling window: a first slow answer is no breach
                found = [b for b in breaches(stats(recent), limits, min_samples=0) if b.metric != "samples"]
                alerter.observe(one.at, found)
            tell()

        try:
            sample(monitor_urls(config, env), mon.rate, seconds, on_sample=on_sample, stop_after=stop_after)
        finally:
            readings = sampler.stop() if sampler is not None else []
    tell(force=True)
    measured = stats(taken)
    if mon.source == "prometheus":
        measured = _prometheus_stats(config, env, seconds, prometheus_client)
    found = tuple(breaches(measured, limits))
    plot_window(taken, mon.max_p95, f"{config.app.name} {env.name}: monitor window", plot_path)
    result = WindowResult(measured, found, tuple(alerter.events), json_path, samples_path, plot_path)
    trail = None if sampler is None else _trail(sampler, readings, seconds)
    _write(result, config, env, started, seconds, limits, trail)
    return result


def _sampler(memory: Callable[[], Mapping[str, int]] | None, served: Callable[[], int]) -> Any:
    """The memory sampler of a window, started; None without ``memory`` to read."""
    if memory is None:
        return None
    from gates.platforms.local.memory import RssSampler

    return RssSampler(memory, served=served).start()


def _trail(sampler: Any, readings: Sequence[Any], seconds: float) -> dict[str, Any]:
    """The window's memory for its JSON: per instance, (requests sent so far, RSS bytes) readings."""
    from gates.platforms.local.memory import EVERY

    points: dict[str, list[tuple[int, int]]] = {}
    for r in readings:
        points.setdefault(r.instance, []).append((r.served, r.rss))
    return {"every": EVERY, "seconds": seconds, "points": points, "trouble": sampler.trouble}


def _prometheus_stats(config: Config, env: Environment, seconds: float, client: Any) -> Stats:
    from gates.monitor.prometheus import window_stats

    mon = config.monitor
    token = os.environ.get(mon.prometheus_token_env, "")
    if not token:
        return Stats("prometheus", 0, None, None)  # fail closed: breaches() reports the missing data
    try:
        return window_stats(mon.prometheus_url, token, env.app or config.app.name, round(seconds), client)
    except GatesError as exc:
        return Stats(f"prometheus: {redact(str(exc))}", 0, None, None)


def _write(
    result: WindowResult,
    config: Config,
    env: Environment,
    started: dt.datetime,
    seconds: float,
    limits: Thresholds,
    memory: dict[str, Any] | None = None,
) -> None:
    data = {
        "env": env.name,
        "started_at": started.isoformat(),
        "ended_at": dt.datetime.now(dt.UTC).isoformat(),
        "seconds": seconds,
        "rate": config.monitor.rate,
        "urls": monitor_urls(config, env),
        "stats": dataclasses.asdict(result.stats),
        "thresholds": dataclasses.asdict(limits),
        "breaches": [dataclasses.asdict(b) | {"text": b.describe()} for b in result.breaches],
        "events": [e.as_dict() for e in result.events],
        "samples": result.samples_path.name,
        "plot": result.plot_path.name,
        "memory": memory,
    }
    keep(result.json_path, json.dumps(data, indent=2) + "\n")


def load_window(path: Path) -> tuple[dict[str, Any], list[Sample]]:
    """A window's JSON and its samples, as the monitor gate reads them back; GatesError if absent."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        lines = (path.parent / str(data["samples"])).read_text().splitlines()
    except (OSError, ValueError, KeyError) as exc:
        raise GatesError(f"{path}: no readable monitor window ({type(exc).__name__}: {exc})") from None
    return data, [Sample.from_dict(json.loads(line)) for line in lines if line.strip()]


def stats_of(data: dict[str, Any], samples: Sequence[Sample]) -> Stats:
    """The window's stats: recomputed from the samples for the synthetic source, as recorded otherwise."""
    recorded = data.get("stats") or {}
    if str(recorded.get("source", "synthetic")) == "synthetic":
        return stats(samples)
    return Stats(**recorded)


@dataclasses.dataclass(frozen=True)
class WindowMemory:
    """What was read of the instances' memory through the window: per instance, (requests sent so far, bytes)
    readings; ``points`` None when none was read (a platform whose instances are not processes of this machine,
    and whose memory is not read elsewhere)."""

    points: dict[str, list[tuple[float, float]]] | None
    seconds: float = 0.0  # the window's length
    every: float = 1.0  # seconds between two readings
    trouble: str = ""  # why the sampler stopped early, if it did
    source: str = ""
    noun: str = "instance"  # what an instance is called where it runs (a Fly machine)
    notes: Mapping[str, str] = dataclasses.field(default_factory=dict)  # instance -> why its readings fall short


def memory_from_env() -> WindowMemory:
    """The memory read through the window handed to the monitor gate ($GATES_MONITOR_WINDOW); no window, or an
    unreadable one, is no readings at all (the molecule fails closed)."""
    path = os.environ.get(WINDOW_ENV, "")
    if not path:
        return WindowMemory({}, trouble=f"no window: {WINDOW_ENV} is not set (run `gates monitor`)")
    try:
        data, _ = load_window(Path(path))
    except GatesError as exc:
        return WindowMemory({}, trouble=str(exc), source=path)
    trail = data.get("memory")
    if not isinstance(trail, dict):
        return WindowMemory(None, source=path)
    points = {str(i): [(float(n), float(b)) for n, b in seen] for i, seen in dict(trail.get("points") or {}).items()}
    return WindowMemory(points, float(trail.get("seconds") or 0.0), float(trail.get("every") or 1.0),
                        str(trail.get("trouble") or ""), path)  # fmt: skip


def window_from_env() -> tuple[Stats, str]:
    """The stats of the window the pipeline handed to the monitor gate ($GATES_MONITOR_WINDOW); none is no data."""
    path = os.environ.get(WINDOW_ENV, "")
    if not path:
        return Stats(f"no window: {WINDOW_ENV} is not set (run `gates monitor`)", 0, None, None), WINDOW_ENV
    try:
        data, samples = load_window(Path(path))
    except GatesError as exc:
        return Stats(f"no window: {exc}", 0, None, None), path
    return stats_of(data, samples), f"{path} ({data.get('seconds')}s over {', '.join(data.get('urls', []))})"
