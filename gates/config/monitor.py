"""``[monitor]``: the monitoring window and its alerts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gates.config.reader import ENV_VAR_NAME
from gates.core.errors import ConfigError, UsageError


@dataclasses.dataclass(frozen=True)
class MonitorConfig:
    """The monitoring window and its alerts (see gates/monitor/).

    ``window`` empty: no monitor step in the release plan. ``paths`` empty: the app's health
    paths and ``/app``. ``rolling`` is the number of latest samples alerts are evaluated over.
    ``browser_every``: through the window the dashboard is visited in a real browser at this interval,
    each visit watched until the next (errors logged long after load count); "off" never.
    """

    window: str = ""
    rate: float = 5.0
    paths: tuple[str, ...] = ()
    rolling: int = 20
    min_samples: int = 20
    max_error_rate: float = 0.001
    max_p95: float = 3.0
    max_check_interval: float = 30.0
    webhook_env: str = ""
    source: str = "synthetic"
    prometheus_url: str = ""
    prometheus_token_env: str = ""
    browser_every: str = "30s"


MONITOR_SOURCES = ("synthetic", "prometheus")


def validate_monitor(mon: MonitorConfig, path: Path, key: str) -> None:
    from gates.core.durations import parse_duration

    if mon.window:
        try:
            parse_duration(mon.window, f"{key}.window")
        except UsageError as exc:
            raise ConfigError(path, f"{key}.window", str(exc).split(": ", 1)[-1]) from None
    if mon.source not in MONITOR_SOURCES:
        raise ConfigError(path, f"{key}.source", f"expected one of: {', '.join(MONITOR_SOURCES)}, got {mon.source!r}")
    if mon.source == "prometheus" and not (mon.prometheus_url and mon.prometheus_token_env):
        raise ConfigError(
            path, f"{key}.prometheus_url", "the prometheus source needs prometheus_url and prometheus_token_env"
        )
    if mon.browser_every != "off":
        try:
            parse_duration(mon.browser_every, f"{key}.browser_every")
        except UsageError as exc:
            raise ConfigError(path, f"{key}.browser_every", str(exc).split(": ", 1)[-1] + ' (or "off")') from None
    for name in ("rate", "max_p95", "max_check_interval"):
        if getattr(mon, name) <= 0:
            raise ConfigError(path, f"{key}.{name}", f"expected a positive number, got {getattr(mon, name)!r}")
    for name in ("rolling", "min_samples"):
        if getattr(mon, name) < 1:
            raise ConfigError(path, f"{key}.{name}", f"expected at least 1, got {getattr(mon, name)!r}")
    if not 0 < mon.max_error_rate < 1:
        raise ConfigError(path, f"{key}.max_error_rate", f"expected a fraction in (0, 1), got {mon.max_error_rate!r}")
    for name in ("webhook_env", "prometheus_token_env"):
        value = getattr(mon, name)
        if value and not ENV_VAR_NAME.match(value):
            raise ConfigError(path, f"{key}.{name}", f"expected an environment variable name, got {value!r}")
