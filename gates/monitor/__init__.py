"""The synthetic monitor: a generic sampler, pure evaluation, alerts, a Prometheus source, plots, windows."""

from gates.evidence.channels import Delivery
from gates.monitor.alerts import Alerter, AlertEvent, send_test_alert
from gates.monitor.evaluate import Breach, Stats, Thresholds, breaches, p95, rolling, stats
from gates.monitor.sampler import Sample, sample

__all__ = [
    "AlertEvent",
    "Alerter",
    "Breach",
    "Delivery",
    "Sample",
    "Stats",
    "Thresholds",
    "breaches",
    "p95",
    "rolling",
    "sample",
    "send_test_alert",
    "stats",
]
