"""Monitoring checks: health checks configured and passing, the alert channel, the monitor window."""

from __future__ import annotations

from collections.abc import Sequence

from gates.core.measurement import Measurement
from gates.monitor.alerts import AlertEvent
from gates.monitor.evaluate import Stats, Thresholds, breaches
from gates.platforms.base import HealthCheck


def health_checks_configured(checks: Sequence[HealthCheck], max_interval: float, source: str) -> Measurement:
    """Every instance has a health check running at most every ``max_interval`` seconds, passing now."""
    problems: list[str] = []
    for c in checks:
        if c.interval is None:
            problems.append(f"{c.instance} {c.name}: interval unknown (fail closed)")
        elif c.interval > max_interval:
            problems.append(f"{c.instance} {c.name}: every {c.interval:g}s, more than {max_interval:g}s")
        if c.status != "passing":
            problems.append(f"{c.instance} {c.name}: {c.status}{f' ({c.output})' if c.output else ''}")
    if not checks:
        problems.append("no health checks found: nothing watches the instances")
    passing = sum(1 for c in checks if c.status == "passing")
    return Measurement(
        name="health checks",
        question=f"every instance has a health check at most every {max_interval:g}s, passing now",
        observed=f"{passing} of {len(checks)} checks passing, intervals "
        + (", ".join(sorted({f"{c.interval:g}s" if c.interval is not None else "?" for c in checks})) or "none"),
        expected=f"every check passing, interval <= {max_interval:g}s",
        ok=not problems,
        source=source,
        details=[{"instance": c.instance, "check": c.name, "interval": c.interval, "status": c.status} for c in checks],
        problems=problems,
    )


def alert_delivered(event: AlertEvent, channel: str) -> Measurement:
    """A test alert reached the channel: the webhook answered 2xx."""
    d = event.delivery
    return Measurement(
        name="alert channel",
        question="a test alert is delivered to the alert webhook (2xx)",
        observed=d.describe(),
        expected="HTTP 2xx",
        ok=d.ok,
        source=f"POST {channel} (Slack-compatible JSON)",
        problems=[] if d.ok else [f"the test alert was not delivered: {d.describe()}"],
    )


def window_within_thresholds(measured: Stats, limits: Thresholds, source: str) -> Measurement:
    """The monitor window's error rate and p95 are under their limits, over at least the minimum samples."""
    found = breaches(measured, limits)
    rate = f"{measured.error_rate:.3%}" if measured.error_rate is not None else "no data"
    p95 = f"{measured.p95:.3f}s" if measured.p95 is not None else "no data"
    return Measurement(
        name="monitor window",
        question="error rate and p95 of the monitor window are within thresholds",
        observed=f"{measured.count} samples, error rate {rate}, p95 {p95} ({measured.source})",
        expected=f">= {limits.min_samples} samples, error rate < {limits.max_error_rate:.3%}, p95 < {limits.max_p95:g}s",
        ok=not found,
        source=source,
        problems=[b.describe() for b in found],
    )
