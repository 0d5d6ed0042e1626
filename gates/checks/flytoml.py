"""fly.toml lint: is this Fly config ready for a zero-downtime release of a React Router app?

Pure over a parsed fly.toml (``findings``) and over the command that serves the app
(``serving_findings``); ``lint_fly_config`` reads the files: the fly.toml, the Dockerfile it builds
and the app's package.json, whose scripts the start command is resolved through (``npm run
docker-start`` -> ``npm start`` -> ``react-router-serve ...``) before it is judged. Every finding
names the file, the key and its line, and the fix. Facts: Fly's seamless-deployments guide and
flyctl's config reference (see the facts file fly.md): service checks gate routing, top-level
[checks] do not; a rolling deploy of one machine has downtime; ``immediate`` skips checks; the
strategy judged is the one that runs: ``--strategy`` when gates passes one (gates.toml's
``strategy``), else ``[deploy] strategy``, else flyctl's ``rolling``. The machines counted are those
of each routed process group as ``fly status`` lists them, else the 2 per group ``fly deploy --ha``
creates; ``min_machines_running`` is only how many stay running when auto-stop is on (production
must not auto-stop: cold starts). A bare number under ``[[http_service.checks]]`` is nanoseconds to
flyctl (a Go duration), under ``[[services.http_checks]]`` milliseconds.
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
from gates.core.flyconfig import NANOSECONDS, bare_unit, check_seconds, service_checks
from gates.core.measurement import Measurement

MAX_INTERVAL_S = 30.0
MIN_MACHINES = 2
HA_MACHINES = 2  # fly deploy --ha (the default) creates 2 machines per process group
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


def routed_groups(data: Mapping[str, Any]) -> list[str]:
    """The process groups a service routes to: each service's ``processes``, else every group ([processes]
    or the one ``app`` group)."""
    every = list(data.get("processes") or {}) or ["app"]
    found: list[str] = []
    for _, table in _services(data):
        for group in table.get("processes") or every:
            if group not in found:
                found.append(str(group))
    return found


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
    strategy: tuple[str, str] | None = None,
    machines: tuple[Mapping[str, int], str] | None = None,
) -> list[str]:
    """Every reason ``data`` (a parsed fly.toml) is not zero-downtime ready, each naming file, key, line and fix.

    ``text`` is the file's text, for the lines; ``production``: the app serves production traffic;
    ``strategy``: (value, where it is set) of the ``--strategy`` gates passes; ``machines``: (machines
    per process group, where they were counted), None before the app exists (``--ha``'s 2 per group).
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
    for key, check in checks:
        for field in ("interval", "timeout", "grace_period"):
            value = check.get(field)
            if bare_unit(key) == NANOSECONDS and isinstance(value, int) and not isinstance(value, bool):
                problems.append(
                    f"{at(f'{key}.{field}', value)}: a bare number under [[http_service.checks]] is nanoseconds "
                    f'to flyctl ({value} ns), not milliseconds; write it with a unit, e.g. "{value // 1000 or 1}s"'
                )
    for key, check in on_health:
        interval = check_seconds(key, check.get("interval", "15s"))
        if interval is None or interval > MAX_INTERVAL_S:
            problems.append(
                f"{at(key + '.interval', check.get('interval'))}: checks must run at least every "
                f'{MAX_INTERVAL_S:g}s; set interval = "15s"'
            )
    deploy = data.get("deploy") or {}
    runs = strategy[0] if strategy else str(deploy.get("strategy", FLYCTL_DEFAULT_STRATEGY))
    where = f"{strategy[1]} (passed as --strategy, over fly.toml's deploy.strategy)" if strategy else ""
    if strategy is None and "strategy" not in deploy:
        problems.append(
            f"{at('deploy.strategy')}: a plain `fly deploy` falls back to flyctl's default "
            f'"{FLYCTL_DEFAULT_STRATEGY}"; set [deploy] strategy = "rolling" (or "bluegreen") so the strategy '
            "reviewed is the one that runs"
        )
    named = f'{where} = "{runs}"' if strategy else at("deploy.strategy", runs)
    if runs == "immediate":
        problems.append(
            f"{named}: replaces every machine at once without health checks; "
            'use "rolling" with at least 2 machines, or "bluegreen"'
        )
    elif runs in ("rolling", "canary"):
        problems += _too_few(data, runs, machines, named)
    elif runs != "bluegreen":
        problems.append(f'{named}: unknown; use "rolling" or "bluegreen"')
    for key, table in _services(data):
        stop = table.get("auto_stop_machines")
        if production and stop in AUTO_STOPS:
            problems.append(
                f"{at(key + '.auto_stop_machines', stop)}: a production app whose idle machines stop: the next "
                'request waits for a cold start and a deploy may find one machine to roll; set auto_stop_machines = "off"'
            )
    release_command = str(deploy.get("release_command", ""))
    if gates_migrates and MIGRATES.search(release_command):
        problems.append(
            f"{at('deploy.release_command', release_command)}: migrates on every `fly deploy`, while gates applies "
            "migrations in its migrate step before the deploy (its rollbacks pass --skip-release-command); remove "
            "the release_command (or stop gates migrating) so they run once"
        )
    return problems


def _too_few(
    data: Mapping[str, Any], runs: str, machines: tuple[Mapping[str, int], str] | None, named: str
) -> list[str]:
    """A rolling or canary deploy of a routed process group of one machine updates it in place: downtime,
    whatever min_machines_running says (that is how many stay running under auto-stop, not how many exist)."""
    counts, source = machines if machines is not None else ({}, f"not deployed yet: fly deploy --ha's {HA_MACHINES}")
    problems = []
    for group in routed_groups(data):
        count = counts.get(group, 0) if machines is not None else HA_MACHINES
        if count < MIN_MACHINES:
            problems.append(
                f"{named}: process group {group!r} has {count} machine(s) ({source}): a {runs} deploy of fewer "
                f"than {MIN_MACHINES} machines has downtime; run `fly scale count {MIN_MACHINES} --process-group "
                f'{group}`, or use "bluegreen"'
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
    strategy: tuple[str, str] | None = None,
    machines: tuple[Mapping[str, int], str] | None = None,
) -> Measurement:
    """Lint one fly.toml, the Dockerfile it builds and the package.json of ``source`` (default: its folder).

    ``source`` is also where gates runs ``fly deploy``: without ``[build] dockerfile`` flyctl takes the
    Dockerfile there, not beside the fly.toml. ``strategy`` and ``machines``: as ``findings``."""
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
            data,
            str(path),
            health_paths,
            gates_migrates=gates_migrates,
            production=production,
            text=text,
            strategy=strategy,
            machines=machines,
        )
        build = data.get("build") or {}
        dockerfile = (
            path.parent / str(build["dockerfile"]) if "dockerfile" in build else (source or path.parent) / "Dockerfile"
        )
        stages = df.stages(dockerfile.read_text()) if dockerfile.is_file() else []
        package_json = (source or path.parent) / "package.json"
        package, _ = read_package(package_json) if package_json.is_file() else (None, "")
        commands = start_commands(data, Where(str(path), text), stages, str(dockerfile))
        if commands or not (data.get("build") or {}).get("image"):  # a prebuilt image's command is not in view
            problems += serving_findings(commands, package, str(path))
    return Measurement(
        name="fly.toml is zero-downtime ready",
        question=(
            "service HTTP check on a health path every <= 30s, the strategy that runs zero-downtime with at least "
            "2 machines per routed process group, no auto-stop in production, React Router's server behind the start command"
        ),
        observed=f"{len(problems)} finding(s)" if problems else "no findings",
        expected="no findings",
        ok=not problems,
        source=f"lint of {path}",
        problems=problems,
    )
