"""fly.toml lint: is this Fly config ready for a zero-downtime release of a React Router app?

Pure over a parsed fly.toml (``findings``); ``lint_fly_config`` reads the file and the Dockerfile
it builds. Every finding names the file, the key and the fix. Facts: Fly's seamless-deployments
guide and flyctl's config reference (see the facts file fly.md): service checks gate routing,
top-level [checks] do not; a rolling deploy of one machine has downtime; ``immediate`` skips checks.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gates.measurement import Measurement

MAX_INTERVAL_S = 30.0
MIN_MACHINES = 2
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
REMIX = re.compile(r"\bremix-serve\b|\bremix\s+(?:vite:)?build\b")
REACT_ROUTER_SERVE = re.compile(r"\breact-router-serve\b")
MIGRATES = re.compile(r"migrat|supabase\s+db\s+push|db\s+push", re.IGNORECASE)


def seconds(value: Any) -> float | None:
    """A Fly duration in seconds: "15s", "1m", "500ms", or a bare number of milliseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) / 1000.0
    m = _DURATION.match(str(value))
    return float(m.group(1)) * _UNIT[m.group(2) or "ms"] if m else None


def _service_checks(data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(key, check) of every HTTP check that gates routing: http_service.checks and services.http_checks."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    http_service = data.get("http_service") or {}
    for i, check in enumerate(http_service.get("checks") or []):
        found.append((f"http_service.checks[{i}]", check))
    for s, service in enumerate(data.get("services") or []):
        for i, check in enumerate(service.get("http_checks") or []):
            found.append((f"services[{s}].http_checks[{i}]", check))
    return found


def _min_machines(data: Mapping[str, Any]) -> int:
    values = [int((data.get("http_service") or {}).get("min_machines_running", 0) or 0)]
    values += [int(s.get("min_machines_running", 0) or 0) for s in data.get("services") or []]
    return max(values)


def findings(
    data: Mapping[str, Any],
    file: str,
    health_paths: Sequence[str],
    *,
    gates_migrates: bool = True,
    start_texts: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """Every reason ``data`` (a parsed fly.toml) is not zero-downtime ready, each naming file, key and fix.

    ``start_texts`` are (where, text) of how the image is built and started (Dockerfile, package.json).
    """
    problems: list[str] = []
    checks = _service_checks(data)
    on_health = [(k, c) for k, c in checks if c.get("path") in health_paths]
    if not on_health:
        problems.append(
            f"{file}: [[http_service.checks]]: no service HTTP check on a health path "
            f'({", ".join(health_paths)}); add one with path = "{health_paths[0] if health_paths else "/health"}"'
        )
    for key, check in on_health:
        interval = seconds(check.get("interval", "15s"))
        if interval is None or interval > MAX_INTERVAL_S:
            problems.append(
                f"{file}: {key}.interval = {check.get('interval')!r}: checks must run at least every "
                f'{MAX_INTERVAL_S:g}s; set interval = "15s"'
            )
    deploy = data.get("deploy") or {}
    strategy = str(deploy.get("strategy", "rolling"))
    machines = _min_machines(data)
    if strategy == "immediate":
        problems.append(
            f'{file}: deploy.strategy = "immediate": replaces every machine at once without health checks; '
            'use "rolling" with at least 2 machines, or "bluegreen"'
        )
    elif strategy in ("rolling", "canary") and machines < MIN_MACHINES:
        problems.append(
            f"{file}: http_service.min_machines_running = {machines}: a {strategy} deploy of fewer than "
            f"{MIN_MACHINES} machines has downtime; set min_machines_running = {MIN_MACHINES} (and run 2 machines)"
        )
    elif strategy not in ("rolling", "canary", "bluegreen"):
        problems.append(f'{file}: deploy.strategy = {strategy!r}: unknown; use "rolling" or "bluegreen"')
    release_command = str(deploy.get("release_command", ""))
    if gates_migrates and MIGRATES.search(release_command):
        problems.append(
            f"{file}: deploy.release_command = {release_command!r}: gates applies migrations in its migrate "
            "step before the deploy; remove the release_command (or stop gates migrating) so they run once"
        )
    texts = list(start_texts)
    for name, cmd in (data.get("processes") or {}).items():
        texts.append((f"{file}: processes.{name}", str(cmd)))
    if (data.get("experimental") or {}).get("cmd"):
        texts.append((f"{file}: experimental.cmd", str(data["experimental"]["cmd"])))
    for where, text in texts:
        remix = REMIX.search(text)
        if remix:
            problems.append(
                f"{where}: runs Remix ({remix.group(0)!r}); a React Router 7 app builds with "
                "`react-router build` and starts with `react-router-serve ./build/server/index.js`"
            )
    if texts and not any(REACT_ROUTER_SERVE.search(t) for _, t in texts):
        problems.append(
            f"{file}: [processes] / Dockerfile CMD: nothing starts `react-router-serve`; "
            "start the app with `react-router-serve ./build/server/index.js`"
        )
    return problems


def lint_fly_config(path: Path, health_paths: Sequence[str], *, gates_migrates: bool = True) -> Measurement:
    """Lint one fly.toml and the Dockerfile it builds (when present next to it)."""
    problems: list[str] = []
    try:
        data: Mapping[str, Any] = tomllib.loads(path.read_text())
    except OSError as exc:
        data, problems = {}, [f"{path}: cannot read: {exc.strerror}"]
    except tomllib.TOMLDecodeError as exc:
        data, problems = {}, [f"{path}: not valid TOML: {exc}"]
    if not problems:
        texts: list[tuple[str, str]] = []
        dockerfile = path.parent / str((data.get("build") or {}).get("dockerfile", "Dockerfile"))
        if dockerfile.is_file():
            texts.append((str(dockerfile), dockerfile.read_text()))
        problems = findings(data, str(path), health_paths, gates_migrates=gates_migrates, start_texts=texts)
    return Measurement(
        name="fly.toml is zero-downtime ready",
        question="service HTTP check on a health path every <= 30s, a zero-downtime strategy, React Router's server",
        observed=f"{len(problems)} finding(s)" if problems else "no findings",
        expected="no findings",
        ok=not problems,
        source=f"lint of {path}",
        problems=problems,
    )
