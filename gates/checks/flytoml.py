"""fly.toml lint: is this Fly config ready for a zero-downtime release of a React Router app?

Pure over a parsed fly.toml (``findings``) and over the command that serves the app
(``serving_findings``); ``lint_fly_config`` reads the files: the fly.toml, the Dockerfile it builds
and the app's package.json, whose scripts the start command is resolved through (``npm run
docker-start`` -> ``npm start`` -> ``react-router-serve ...``) before it is judged. Every finding
names the file, the key and its line, and the fix. Facts: Fly's seamless-deployments guide and
flyctl's config reference (see the facts file fly.md): service checks gate routing, top-level
[checks] do not; a rolling deploy of one machine has downtime; ``immediate`` skips checks; with
no ``[deploy] strategy`` flyctl deploys ``rolling``; auto-stopped machines cold-start on the next
request and leave a rolling deploy one machine to replace.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gates.checks import dockerfile as df
from gates.checks.packagejson import Package, expand, read_package
from gates.checks.sourcelines import line_of, toml_lines
from gates.flyconfig import seconds, service_checks
from gates.measurement import Measurement

MAX_INTERVAL_S = 30.0
MIN_MACHINES = 2
FLYCTL_DEFAULT_STRATEGY = "rolling"  # flyctl deploy --strategy: "default rolling"
AUTO_STOPS = ("stop", "suspend", True)
REMIX = re.compile(r"\bremix-serve\b|\bremix\s+(?:vite:)?build\b")
DEV_SERVER = re.compile(
    r"\breact-router\s+dev\b|\bremix\s+(?:vite:)?dev\b|\bvite(?:\s+dev)?\s*$|\bvite\s+(?:dev|serve)\b"
)
# What may serve a React Router 7 app: its own server, or a Node server file (the Express template's server.js).
SERVES = re.compile(r"\breact-router-serve\b|\bnode\s+(?:--\S+\s+)*\S+\.(?:m|c)?js\b")
MIGRATES = re.compile(r"migrat|supabase\s+db\s+push|db\s+push", re.IGNORECASE)


def _services(data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(key, table) of [http_service] and each [[services]]."""
    found = [("http_service", data["http_service"])] if isinstance(data.get("http_service"), Mapping) else []
    return found + [(f"services[{i}]", s) for i, s in enumerate(data.get("services") or [])]


def _min_machines(data: Mapping[str, Any]) -> int:
    return max([0] + [int(table.get("min_machines_running", 0) or 0) for _, table in _services(data)])


class Where:
    """Names a key of one fly.toml with its line: ``fly.toml: deploy.strategy = "immediate" (line 14)``."""

    def __init__(self, file: str, text: str = "") -> None:
        self.file = file
        self.lines = toml_lines(text) if text else {}

    def __call__(self, key: str, value: Any = None) -> str:
        shown = f" = {_toml(value)}" if value is not None else ""
        return f"{self.file}: {key}{shown}" + (f" ({self.line(key)})" if self.lines else "")

    def line(self, key: str) -> str:
        """ "line N" where ``key`` is set; else where its nearest enclosing table is; else "not in the file"."""
        if key in self.lines:
            return f"line {self.lines[key]}"
        near = line_of(self.lines, key)
        return f"not set; its table at line {near}" if near else "not in the file"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return json.dumps(value) if isinstance(value, str) else str(value)


def findings(
    data: Mapping[str, Any],
    file: str,
    health_paths: Sequence[str],
    *,
    gates_migrates: bool = True,
    production: bool = False,
    text: str = "",
) -> list[str]:
    """Every reason ``data`` (a parsed fly.toml) is not zero-downtime ready, each naming file, key, line and fix.

    ``text`` is the file's text, for the lines; ``production``: the app serves production traffic.
    """
    at = Where(file, text)
    problems: list[str] = []
    checks = service_checks(data)
    on_health = [(k, c) for k, c in checks if c.get("path") in health_paths]
    if not on_health:
        problems.append(
            f"{at('http_service')}: [[http_service.checks]]: no service HTTP check on a health path "
            f'({", ".join(health_paths)}); add one with path = "{health_paths[0] if health_paths else "/health"}"'
        )
    for key, check in on_health:
        interval = seconds(check.get("interval", "15s"))
        if interval is None or interval > MAX_INTERVAL_S:
            problems.append(
                f"{at(key + '.interval', check.get('interval'))}: checks must run at least every "
                f'{MAX_INTERVAL_S:g}s; set interval = "15s"'
            )
    deploy = data.get("deploy") or {}
    strategy = str(deploy.get("strategy", FLYCTL_DEFAULT_STRATEGY))
    machines = _min_machines(data)
    if "strategy" not in deploy:
        problems.append(
            f"{at('deploy.strategy')}: a plain `fly deploy` falls back to flyctl's default "
            f'"{FLYCTL_DEFAULT_STRATEGY}"; set [deploy] strategy = "rolling" (or "bluegreen") so the strategy '
            "reviewed is the one that runs"
        )
    if strategy == "immediate":
        problems.append(
            f"{at('deploy.strategy', strategy)}: replaces every machine at once without health checks; "
            'use "rolling" with at least 2 machines, or "bluegreen"'
        )
    elif strategy in ("rolling", "canary") and machines < MIN_MACHINES:
        problems.append(
            f"{at('http_service.min_machines_running', machines)}: a {strategy} deploy of fewer than "
            f"{MIN_MACHINES} machines has downtime; set min_machines_running = {MIN_MACHINES} (and run 2 machines)"
        )
    elif strategy not in ("rolling", "canary", "bluegreen"):
        problems.append(f'{at("deploy.strategy", strategy)}: unknown; use "rolling" or "bluegreen"')
    for key, table in _services(data):
        stop = table.get("auto_stop_machines")
        running = int(table.get("min_machines_running", 0) or 0)
        if stop not in AUTO_STOPS:
            continue
        if production:
            problems.append(
                f"{at(key + '.auto_stop_machines', stop)}: a production app whose idle machines stop: the next "
                'request waits for a cold start and a deploy may find one machine to roll; set auto_stop_machines = "off"'
            )
        elif running < MIN_MACHINES:
            problems.append(
                f"{at(key + '.auto_stop_machines', stop)} with {key}.min_machines_running = {running}: machines stop "
                f"until {running} run(s): cold starts, and a rolling deploy of one machine has downtime; "
                f'set auto_stop_machines = "off" or min_machines_running = {MIN_MACHINES}'
            )
    release_command = str(deploy.get("release_command", ""))
    if gates_migrates and MIGRATES.search(release_command):
        problems.append(
            f"{at('deploy.release_command', release_command)}: gates applies migrations in its migrate "
            "step before the deploy; remove the release_command (or stop gates migrating) so they run once"
        )
    return problems


def start_commands(
    data: Mapping[str, Any], at: Where, stages: Sequence[df.Stage], dockerfile: str
) -> list[tuple[str, str]]:
    """(where, command) of what starts the serving machines: fly.toml [processes] (the ones http_service
    routes to) or [experimental] cmd, else the image's ENTRYPOINT and CMD."""
    processes: Mapping[str, Any] = data.get("processes") or {}
    if processes:
        routed = set((data.get("http_service") or {}).get("processes") or [])
        names = [n for n in processes if n in routed] or list(processes)
        return [(at(f"processes.{n}"), str(processes[n])) for n in names]
    cmd = (data.get("experimental") or {}).get("cmd")
    if cmd:
        return [(at("experimental.cmd"), " ".join(cmd) if isinstance(cmd, list) else str(cmd))]
    return [(f"{dockerfile}:{line}: {keyword}", command) for line, keyword, command in df.start_command(stages)]


def serving_findings(commands: Sequence[tuple[str, str]], package: Package | None, file: str) -> list[str]:
    """What serves the app, each command resolved through package.json scripts, judged: React Router's
    server (or a Node server file), not Remix, not a development server."""
    if not commands:
        return [
            f"{file}: [processes] / Dockerfile CMD: nothing says what serves the app (the base image's default "
            "command would run); start it with `react-router-serve ./build/server/index.js`"
        ]
    problems: list[str] = []
    chain: list[tuple[str, str]] = []
    for where, command in commands:
        steps, missing = expand(where, command, package)
        chain += steps
        problems += missing
    for where, text in chain:
        remix, dev = REMIX.search(text), DEV_SERVER.search(text)
        if remix:
            problems.append(
                f"{where}: runs Remix ({remix.group(0)!r}); a React Router 7 app builds with "
                "`react-router build` and starts with `react-router-serve ./build/server/index.js`"
            )
        elif dev:
            problems.append(
                f"{where}: runs a development server ({dev.group(0).strip()!r}); serve the production build"
            )
    if not problems and not any(SERVES.search(t) for _, t in chain):
        path = " -> ".join(f"{w}: `{t}`" for w, t in chain)
        problems.append(
            f"{path}: nothing starts `react-router-serve` (or a Node server file); "
            "start the app with `react-router-serve ./build/server/index.js`"
        )
    return problems


def lint_fly_config(
    path: Path,
    health_paths: Sequence[str],
    *,
    gates_migrates: bool = True,
    production: bool = False,
    source: Path | None = None,
) -> Measurement:
    """Lint one fly.toml, the Dockerfile it builds and the package.json of ``source`` (default: its folder)."""
    problems: list[str] = []
    text = ""
    try:
        text = path.read_text()
        data: Mapping[str, Any] = tomllib.loads(text)
    except OSError as exc:
        data, problems = {}, [f"{path}: cannot read: {exc.strerror}"]
    except tomllib.TOMLDecodeError as exc:
        data, problems = {}, [f"{path}: not valid TOML: {exc}"]
    if not problems:
        problems = findings(
            data, str(path), health_paths, gates_migrates=gates_migrates, production=production, text=text
        )
        dockerfile = path.parent / str((data.get("build") or {}).get("dockerfile", "Dockerfile"))
        stages = df.stages(dockerfile.read_text()) if dockerfile.is_file() else []
        package_json = (source or path.parent) / "package.json"
        package, _ = read_package(package_json) if package_json.is_file() else (None, "")
        commands = start_commands(data, Where(str(path), text), stages, str(dockerfile))
        if commands or not (data.get("build") or {}).get("image"):  # a prebuilt image's command is not in view
            problems += serving_findings(commands, package, str(path))
    return Measurement(
        name="fly.toml is zero-downtime ready",
        question=(
            "service HTTP check on a health path every <= 30s, an explicit zero-downtime strategy, "
            "no auto-stop that leaves one machine, React Router's server behind the start command"
        ),
        observed=f"{len(problems)} finding(s)" if problems else "no findings",
        expected="no findings",
        ok=not problems,
        source=f"lint of {path}",
        problems=problems,
    )
