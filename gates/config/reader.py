"""The generic reader: a TOML table into a section's dataclass, every error naming the file, the key and what
was expected; and the bounds the sections' checks share."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from gates.core.errors import ConfigError

ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_WAIT = 600.0  # seconds: the longest any single bounded wait of a gate may be configured to take


def bounded(value: float, path: Path, key: str, most: float = MAX_WAIT, unit: str = "seconds") -> None:
    """A positive number no larger than ``most`` (by default a duration in seconds)."""
    if not 0 < value <= most:
        raise ConfigError(path, key, f"expected {unit} in (0, {most:g}], got {value!r}")


T = TypeVar("T")


def read_section(cls: type[T], table: Any, path: Path, key: str) -> T:
    """Build dataclass ``cls`` from a TOML table, checking names and types."""
    if not isinstance(table, Mapping):
        raise ConfigError(path, key, "expected a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for name, raw in table.items():
        if name not in fields:
            raise ConfigError(
                path, f"{key}.{name}", f"unknown key (expected one of: {', '.join(f for f in fields if f != 'name')})"
            )
        values[name] = _coerce(raw, hints[name], path, f"{key}.{name}")
    for name, f in fields.items():
        if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(path, f"{key}.{name}", "missing required key")
    return cls(**values)


def _coerce(raw: Any, hint: Any, path: Path, key: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return read_section(hint, raw, path, key)
    if origin in (Mapping, dict):
        _, item = typing.get_args(hint)
        if not isinstance(raw, Mapping):
            raise ConfigError(path, key, f"expected a table, got {raw!r}")
        return {str(k): _coerce(v, item, path, f"{key}.{k}") for k, v in raw.items()}
    if origin is tuple:
        (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
        if not isinstance(raw, list):
            raise ConfigError(path, key, f"expected a list of {_type_name(item)}, got {_type_name(type(raw))}")
        return tuple(_coerce(v, item, path, f"{key}[{i}]") for i, v in enumerate(raw))
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if arg is type(None) and raw is None:
                return None
            try:
                return _coerce(raw, arg, path, key)
            except ConfigError:
                continue
        raise ConfigError(path, key, f"expected {hint}, got {raw!r}")
    if hint is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if hint is int and isinstance(raw, bool):
        raise ConfigError(path, key, f"expected an integer, got {raw!r}")
    if isinstance(hint, type) and not isinstance(raw, hint):
        raise ConfigError(path, key, f"expected {_type_name(hint)}, got {raw!r}")
    return raw


def _type_name(t: Any) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }.get(t, getattr(t, "__name__", str(t)))
