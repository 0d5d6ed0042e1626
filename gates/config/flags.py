"""``[flags]``: feature flags that must be false in production, and where their values are read."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gates.core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class FlagsConfig:
    """Feature flags that must be false in production, and where their values are read.

    ``source``: ``platform`` (the local platform's secrets), ``endpoint`` (a JSON document the
    app serves at ``endpoint``, flags under ``json_path``), or ``digest`` (the platform's secret
    digests compared with the digest of ``calibration``, a secret known to hold ``false``).
    """

    names: tuple[str, ...] = ()
    prefix: str = ""
    source: str = "platform"
    endpoint: str = "/api/flags"
    json_path: str = "flags"
    calibration: str = ""


FLAG_SOURCES = ("platform", "endpoint", "digest")


def validate_flags(flags: FlagsConfig, path: Path, fkey: str) -> None:
    if flags.source not in FLAG_SOURCES:
        raise ConfigError(path, f"{fkey}.source", f"expected one of: {', '.join(FLAG_SOURCES)}, got {flags.source!r}")
    if flags.source == "digest" and not flags.calibration:
        raise ConfigError(
            path, f"{fkey}.calibration", "the digest source needs a calibration secret known to hold false"
        )
