"""The release config: ``gates.toml`` (or ``[tool.gates]`` in pyproject.toml).

Parsed into frozen dataclasses. Every section is declared as a dataclass, and
one generic reader turns TOML tables into them, so every error names the
file, the key and what was expected, and a misspelt key is an error rather
than a silently ignored setting. Secrets are never in the file: it names the
environment variables that hold them.
"""

from __future__ import annotations

import dataclasses
import os
import re
import string
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from gates.errors import ConfigError, UsageError
from gates.ports import port_problem, url_identity

STRATEGIES = ("rolling", "immediate", "bluegreen", "canary")
CONFIG_ENV = "GATES_CONFIG"
ENV_SELECT = "GATES_ENV"
STATE_ENV = "GATES_STATE_DIR"
_ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class AppConfig:
    """The application being released."""

    name: str
    source: str = "."
    migrations: str = "supabase/migrations"
    health_paths: tuple[str, ...] = ("/health",)
    health_timeout: float = 5.0
    tables: tuple[str, ...] = ()
    # Empty: supabase/config.toml [api] schemas of the app, else public (see gates.database.exposed).
    exposed_schemas: tuple[str, ...] = ()
    # How the local platform runs the app (gates/platforms/local/): ``build`` once per release in
    # its snapshot, ``start`` for each instance with $PORT and HOST set, ``env`` plain variables
    # of both. ``start`` empty: the Python default (uvicorn serving ``app:app``).
    build: str = ""
    start: str = ""
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # The path an instance must answer 2xx on before it gets traffic; empty: the first health path.
    health_path: str = ""

    @property
    def readiness_path(self) -> str:
        return self.health_path or (self.health_paths[0] if self.health_paths else "/health")


@dataclasses.dataclass(frozen=True)
class Environment:
    """One place the app runs: staging, production, ..."""

    name: str
    platform: str
    url: str
    app: str = ""
    database_url_env: str = ""
    instances: int = 2
    # Empty: the platform's own default (local: rolling; fly: fly.toml's [deploy] strategy, else flyctl's rolling).
    strategy: str = ""
    fly_config: str = ""
    protected: bool = False
    # The Admin page that embeds the app's dashboard (Shopify Admin, or the local platform's stand-in);
    # empty: [browser] admin_url, a template, filled in with this environment's store and app.
    admin_url: str = ""
    store: str = ""  # the Shopify store's handle: {store} of the admin_url template
    video: str = ""  # recording of the browser visit: production | always | never; empty: [browser] video
    # Rolling deploys: new instances started at once; unset: 25 % of ``instances`` rounded up, at least 1.
    max_surge: int | None = None
    # Keep the previous release's instances running out of rotation until the release is confirmed, so a
    # rollback is a traffic switch; unset: on for production only.
    keep_previous: bool | None = None

    @property
    def rollout_strategy(self) -> str:
        """The strategy a platform without a default of its own rolls out with."""
        return self.strategy or "rolling"

    @property
    def is_production(self) -> bool:
        return self.protected or self.name == "production"

    @property
    def uses_local_cluster(self) -> bool:
        """A local environment without a database of its own gets one in gates' local Postgres cluster:
        the one place that rule is written."""
        return self.platform == "local" and not self.database_url_env

    @property
    def has_database(self) -> bool:
        """It names a database, or gets one in the local cluster."""
        return bool(self.database_url_env) or self.uses_local_cluster

    @property
    def surge(self) -> int:
        """New instances a rolling deploy starts at once."""
        return max(1, self.max_surge if self.max_surge is not None else -(-self.instances // 4))

    @property
    def keeps_previous(self) -> bool:
        return self.is_production if self.keep_previous is None else self.keep_previous


@dataclasses.dataclass(frozen=True)
class LocalConfig:
    """Where the local platform keeps its state and its database cluster."""

    state_dir: str = ".gates"
    postgres_port: int = 54329
    # Builds kept after a release beyond those that run: the last N good releases' of each environment.
    keep_builds: int = 5


@dataclasses.dataclass(frozen=True)
class RecordConfig:
    """Where the evidence of releases goes."""

    dir: str = "reports/deploys"
    # Incident reports of rollbacks and failed production gates; empty: `incidents` beside the
    # records folder (reports/deploys -> reports/incidents).
    incidents: str = ""
    # The team's feedback log the WORK COMPLETE block of every release is appended to, relative to
    # this file's folder; ``{date}`` is the release's UTC date. Empty: none.
    feedback: str = ""
    # The release ledger in each environment's database (schema ``gates``, see gates/ledger.py);
    # false: none, and `gates status`/`history`/`rollback` say what they then cannot know.
    ledger: bool = True


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


@dataclasses.dataclass(frozen=True)
class DatabaseConfig:
    """The database gate: advisors, migration safety, backups."""

    # Lowest advisor level that fails the gate: error | warn | info.
    advisors_level: str = "error"
    # Squawk rules accepted anyway, each "rule: reason" (the reason is shown in the report).
    squawk_allow: tuple[str, ...] = ()
    # Tables anon may read (and, on staging, write) by design, "schema.table" (default schema public):
    # the RLS behaviour molecule fails on any other table anon can read rows of or write.
    public_tables: tuple[str, ...] = ()
    # Whether a SELECT policy `using (true)` for anon/authenticated/PUBLIC on a table outside
    # public_tables fails (default: it is listed in the report only).
    select_true_fail: bool = False
    # Why the advisors may run without seeing an exposed schema (anon/authenticated hold no privilege
    # on it, unlike on Supabase); empty: that fails the advisors molecule (fail closed).
    advisors_blind_ok: str = ""
    # Bounds of every statement of the gate's own session, in seconds: a locked table is a verdict, not a hang.
    # lock_timeout bounds every lock wait of the release steps' sessions too (migrate, the Supabase CLI's push,
    # backup, restore, ledger, release lock): a held lock ends the step as failed, naming it and its holder.
    statement_timeout: float = 10.0
    lock_timeout: float = 5.0
    # Each statement of a release step's own sessions: longer than a gate's, a migration may rewrite a table.
    step_statement_timeout: float = 300.0


@dataclasses.dataclass(frozen=True)
class AllowedNoise:
    """A console message or request failure the browser gate tolerates, and why."""

    pattern: str
    reason: str


@dataclasses.dataclass(frozen=True)
class BrowserConfig:
    """The browser gate: the Admin frame, tiles, console noise."""

    dashboard_path: str = "/app"
    frame_name: str = "app-iframe"
    # Origins besides each environment's admin_url that the app must let embed it.
    admin_origins: tuple[str, ...] = ()
    # Template of every environment's admin_url, e.g. https://admin.shopify.com/store/{store}/apps/{app}:
    # {store} (environments.NAME.store), {app} (environments.NAME.app, else [app] name), {env}.
    admin_url: str = ""
    tile_selector: str = "[data-tile]"
    tile_name_attribute: str = "data-tile"
    tile_value_selector: str = ".tile__value"
    tile_error_selector: str = ".tile--error"
    tiles: tuple[str, ...] = ()
    load_timeout: float = 15.0
    allow: tuple[AllowedNoise, ...] = ()
    # A Playwright storage state (a logged-in Shopify Admin): named by env var, it is a secret.
    storage_state_env: str = ""
    # Where traces taken with a storage state go: never beside a shared report.
    private_dir: str = ".gates/private"
    # The page is ready (interactive) when this CSS selector is visible, or this JS expression is truthy,
    # in the app's frame; neither: its load event. ``load_timeout`` bounds the wait.
    ready_selector: str = ""
    ready_script: str = ""
    # Seconds the page stays watched after it is ready: errors logged a moment after load count too.
    settle: float = 2.0
    # A recording of the visit (Chromium's screencast, as an animated WebP): production | always | never.
    video: str = "production"
    video_fps: float = 5.0
    video_width: int = 800
    video_frames: int = 60
    video_max_bytes: int = 2_000_000


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """The traffic probe that measures downtime during every deploy step (see gates/probe.py).

    ``paths`` empty: the app's health paths and the browser's dashboard path. ``rate`` is requests
    per second over ``concurrency`` keep-alive connections; ``timeout`` bounds one request (an answer
    later than that is a failed request). ``max_gap_ms``: the longest time the probe may go without a
    successful answer during the rollout (1 s: what a user clicking sees as "the app hung"). A probe
    of fewer than ``min_requests`` requests proves nothing and fails the zero_downtime molecule.
    """

    rate: float = 200.0
    paths: tuple[str, ...] = ()
    concurrency: int = 4
    timeout: float = 2.0
    max_gap_ms: float = 1000.0
    min_requests: int = 100


@dataclasses.dataclass(frozen=True)
class DrillConfig:
    """The rollback drill on staging before production (gates/drill.py).

    ``smoke``: the marker expression run against the rolled-back release (its environment is the
    staging one, ``--env`` names it); the rolled-forward release then runs the whole staging gate.
    """

    smoke: str = "staging and smoke"


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


@dataclasses.dataclass(frozen=True)
class CIConfig:
    """The CI-green check of the commit being deployed (GitHub's check runs).

    The check is active when a repository is known (here or $GITHUB_REPOSITORY); otherwise the
    preflight molecule is skipped with the reason, never passed.
    """

    repository: str = ""  # owner/name; empty: $GITHUB_REPOSITORY
    branch: str = "main"  # the commit deployed must be this branch's head
    api_url: str = ""  # empty: $GITHUB_API_URL, else https://api.github.com
    token_envs: tuple[str, ...] = ("GITHUB_TOKEN", "GH_TOKEN")
    allow_neutral: bool = False  # count `neutral` conclusions as green
    timeout: float = 10.0
    # Checks (check-run names or status contexts) that must exist and have succeeded on the commit released;
    # the branch protection's required status checks are added when the token may read them.
    required: tuple[str, ...] = ()
    branch_protection: bool = True  # read the branch's required status checks through the API


@dataclasses.dataclass(frozen=True)
class NotifyConfig:
    """Release notifications (see gates/notify.py) to a Slack-compatible webhook.

    ``webhook_env`` names the variable holding the webhook URL (a credential: never shown); empty:
    no notifications, and the sign-off's "notifications reachable" item stays unchecked.
    ``required``: a failed delivery fails the release (default: it is only reported in the record).
    ``link_base``: prefix of the evidence links in messages (where the records are published, e.g.
    a CI artifacts URL); empty: the record folder's path. ``timeout``: seconds per delivery.
    """

    webhook_env: str = ""
    required: bool = False
    link_base: str = ""
    timeout: float = 5.0


@dataclasses.dataclass(frozen=True)
class GateConfig:
    """The gate itself: built-in molecules waived by name, each with the reason the report shows."""

    waive: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ToolsConfig:
    """Paths of the command-line tools gates drives (relative to this file); empty: found as gates.tools says."""

    supabase: str = ""
    squawk: str = ""


@dataclasses.dataclass(frozen=True)
class Config:
    path: Path
    app: AppConfig
    environments: Mapping[str, Environment]
    local: LocalConfig = LocalConfig()
    record: RecordConfig = RecordConfig()
    flags: FlagsConfig = FlagsConfig()
    database: DatabaseConfig = DatabaseConfig()
    browser: BrowserConfig = BrowserConfig()
    probe: ProbeConfig = ProbeConfig()
    drill: DrillConfig = DrillConfig()
    monitor: MonitorConfig = MonitorConfig()
    ci: CIConfig = CIConfig()
    notify: NotifyConfig = NotifyConfig()
    gate: GateConfig = GateConfig()
    tools: ToolsConfig = ToolsConfig()
    # $GATES_STATE_DIR, read by load(): the state folder instead of [local] state_dir (parse stays pure).
    state_override: Path | None = None

    @property
    def root(self) -> Path:
        """Relative paths in the config are relative to its folder."""
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else (self.root / p).resolve()

    @property
    def app_source(self) -> Path:
        return self.resolve(self.app.source)

    @property
    def migrations_dir(self) -> Path:
        return self.app_source / self.app.migrations

    @property
    def state_dir(self) -> Path:
        return self.state_override or self.resolve(self.local.state_dir)

    def secret_variables(self) -> tuple[str, ...]:
        """The environment variables whose values are secrets: database URLs, webhook URLs, tokens."""
        named = [e.database_url_env for e in self.environments.values()]
        named += [self.notify.webhook_env, self.monitor.webhook_env, self.monitor.prometheus_token_env]
        named += [self.browser.storage_state_env, *self.ci.token_envs]
        return tuple(dict.fromkeys(n for n in named if n))

    @property
    def record_dir(self) -> Path:
        return self.resolve(self.record.dir)

    def environment(self, name: str) -> Environment:
        try:
            return self.environments[name]
        except KeyError:
            raise UsageError(f"unknown environment {name!r} (known: {', '.join(self.environments)})") from None

    def check_files(self) -> None:
        """Fail naming the key when a file or folder the config refers to does not exist."""
        wanted: list[tuple[str, Path, bool]] = [("app.source", self.app_source, True)]
        if any(e.has_database for e in self.environments.values()):
            wanted.append(("app.migrations", self.migrations_dir, True))
        for env in self.environments.values():
            if env.fly_config:
                wanted.append((f"environments.{env.name}.fly_config", self.resolve(env.fly_config), False))
        for name, path in vars(self.tools).items():
            if path:
                wanted.append((f"tools.{name}", self.resolve(path), False))
        for key, path, folder in wanted:
            if not (path.is_dir() if folder else path.is_file()):
                kind = "folder" if folder else "file"
                raise ConfigError(self.path, key, f"no such {kind}: {path} (paths are relative to this file's folder)")

    def check_secrets_present(self, env: Environment) -> None:
        """Fail with a usage error when a secret the environment names is not set."""
        if env.database_url_env and not os.environ.get(env.database_url_env):
            raise ConfigError(
                self.path,
                f"environments.{env.name}.database_url_env",
                f"environment variable {env.database_url_env} is not set",
            )


SECTIONS: dict[str, type[Any]] = {
    "database": DatabaseConfig,
    "browser": BrowserConfig,
    "probe": ProbeConfig,
    "drill": DrillConfig,
    "monitor": MonitorConfig,
    "ci": CIConfig,
    "notify": NotifyConfig,
    "gate": GateConfig,
    "tools": ToolsConfig,
}


# ---------------------------------------------------------------------------
# Reading


def find_config(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Path:
    """The config file: explicit path, $GATES_CONFIG, ./gates.toml, then ./pyproject.toml."""
    chosen = explicit or os.environ.get(CONFIG_ENV)
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise UsageError(f"{path}: config file not found")
        return path.resolve()
    base = cwd or Path.cwd()
    for candidate in (base / "gates.toml", base / "pyproject.toml"):
        if candidate.is_file() and (candidate.name == "gates.toml" or _has_tool_gates(candidate)):
            return candidate.resolve()
    raise UsageError(f"{base}: no gates.toml (or [tool.gates] in pyproject.toml); pass --config PATH")


def _has_tool_gates(path: Path) -> bool:
    try:
        return "gates" in tomllib.loads(path.read_text()).get("tool", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; a syntax error is a ConfigError naming the file, an unreadable file a UsageError."""
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "(syntax)", str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None


def load(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Config:
    """Read and validate the config; raise ConfigError naming file and key on any problem."""
    path = find_config(explicit, cwd)
    data = read_toml(path)
    prefix = ""
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("gates", {})
        prefix = "tool.gates."
    config = parse(data, path, prefix)
    override = os.environ.get(STATE_ENV)
    return dataclasses.replace(config, state_override=Path(override).resolve()) if override else config


def parse(data: Mapping[str, Any], path: Path, prefix: str = "") -> Config:
    """The config in ``data`` (read from ``path``): a pure function of its arguments, or a ConfigError."""
    known = {"app", "environments", "local", "record", "flags", *SECTIONS}
    for key in data:
        if key not in known:
            raise ConfigError(path, prefix + key, f"unknown section (expected one of: {', '.join(sorted(known))})")
    if "app" not in data:
        raise ConfigError(path, prefix + "app", "missing section [app]")
    app = read_section(AppConfig, data["app"], path, prefix + "app")
    _validate_app(app, path, prefix + "app")
    envs_raw = data.get("environments")
    if not isinstance(envs_raw, Mapping) or not envs_raw:
        raise ConfigError(path, prefix + "environments", "expected at least one [environments.NAME] table")
    environments: dict[str, Environment] = {}
    for name, table in envs_raw.items():
        key = f"{prefix}environments.{name}"
        if not isinstance(table, Mapping):
            raise ConfigError(path, key, "expected a table")
        env = read_section(Environment, {"name": name, **table}, path, key)
        env = _fill_admin_url(env, app, data.get("browser", {}), path, prefix, key)
        _validate_environment(env, path, key)
        environments[name] = env
    config = Config(
        path=path,
        app=app,
        environments=environments,
        local=read_section(LocalConfig, data.get("local", {}), path, prefix + "local"),
        record=read_section(RecordConfig, data.get("record", {}), path, prefix + "record"),
        flags=read_section(FlagsConfig, data.get("flags", {}), path, prefix + "flags"),
        **{name: read_section(cls, data.get(name, {}), path, prefix + name) for name, cls in SECTIONS.items()},
    )
    _validate_database(config.database, path, prefix + "database")
    _validate_database_waits(config.database, path, prefix + "database")
    _validate_browser_visit(config.browser, path, prefix + "browser")
    for env in environments.values():
        if env.video and env.video not in VIDEO_MODES:
            key = f"{prefix}environments.{env.name}.video"
            raise ConfigError(path, key, f"expected one of: {', '.join(VIDEO_MODES)}, got {env.video!r}")
    _validate_monitor_and_flags(config, prefix)
    _validate_probe(config.probe, path, prefix + "probe")
    _validate_notify(config.notify, path, prefix + "notify")
    _validate_gate(config.gate, path, prefix + "gate")
    _validate_record(config.record, path, prefix + "record")
    _validate_meanings(config, prefix)
    return config


def _validate_record(record: RecordConfig, path: Path, key: str) -> None:
    rest = record.feedback.replace("{date}", "")
    if "{" in rest or "}" in rest:
        raise ConfigError(
            path, f"{key}.feedback", f"expected a path where only {{date}} is replaced, got {record.feedback!r}"
        )


def _validate_gate(gate: GateConfig, path: Path, key: str) -> None:
    from gates.markers import builtin_names

    known = builtin_names()
    for name, reason in gate.waive.items():
        if name not in known:
            raise ConfigError(
                path, f"{key}.waive.{name}", f"no built-in molecule of that name (known: {', '.join(sorted(known))})"
            )
        if not reason.strip():
            raise ConfigError(path, f"{key}.waive.{name}", "a waiver needs its reason")


def _validate_app(app: AppConfig, path: Path, key: str) -> None:
    if app.build.strip() and not app.start.strip():
        raise ConfigError(path, f"{key}.start", "a build needs a start command to run what it built")
    if not isinstance(app.env, Mapping):
        raise ConfigError(path, f"{key}.env", f'expected a table of NAME = "value", got {app.env!r}')
    for name, value in app.env.items():
        if not _ENV_VAR_NAME.match(name):
            raise ConfigError(path, f"{key}.env.{name}", "expected an environment variable name")
        if not isinstance(value, str):
            raise ConfigError(path, f"{key}.env.{name}", f"expected a string, got {value!r}")
    if app.health_path and (not app.health_path.startswith("/") or any(c.isspace() for c in app.health_path)):
        raise ConfigError(path, f"{key}.health_path", f"expected a path starting with /, got {app.health_path!r}")


def _validate_probe(probe: ProbeConfig, path: Path, key: str) -> None:
    for name in ("rate", "timeout", "max_gap_ms"):
        if getattr(probe, name) <= 0:
            raise ConfigError(path, f"{key}.{name}", f"expected a positive number, got {getattr(probe, name)!r}")
    for name in ("concurrency", "min_requests"):
        if getattr(probe, name) < 1:
            raise ConfigError(path, f"{key}.{name}", f"expected at least 1, got {getattr(probe, name)!r}")
    for i, p in enumerate(probe.paths):
        if not p.startswith("/"):
            raise ConfigError(path, f"{key}.paths[{i}]", f"expected a path starting with /, got {p!r}")


def _validate_notify(notify: NotifyConfig, path: Path, key: str) -> None:
    if notify.webhook_env and not _ENV_VAR_NAME.match(notify.webhook_env):
        raise ConfigError(
            path, f"{key}.webhook_env", f"expected an environment variable name, got {notify.webhook_env!r}"
        )
    if notify.timeout <= 0:
        raise ConfigError(path, f"{key}.timeout", f"expected a positive number, got {notify.timeout!r}")
    if notify.required and not notify.webhook_env:
        raise ConfigError(path, f"{key}.required", "required notifications need a webhook_env")


def _validate_database(db: DatabaseConfig, path: Path, key: str) -> None:
    if db.advisors_level not in ("error", "warn", "info"):
        raise ConfigError(path, f"{key}.advisors_level", f"expected error, warn or info, got {db.advisors_level!r}")
    for i, entry in enumerate(db.squawk_allow):
        rule, _, reason = entry.partition(":")
        if not rule.strip() or not reason.strip():
            raise ConfigError(path, f"{key}.squawk_allow[{i}]", f"expected 'rule: reason', got {entry!r}")
    for i, table in enumerate(db.public_tables):
        if not table or table.count(".") > 1 or table.startswith(".") or table.endswith("."):
            raise ConfigError(path, f"{key}.public_tables[{i}]", f"expected 'table' or 'schema.table', got {table!r}")


MAX_WAIT = 600.0  # seconds: the longest any single bounded wait of a gate may be configured to take
VIDEO_MODES = ("production", "always", "never")


def _bounded(value: float, path: Path, key: str, most: float = MAX_WAIT, unit: str = "seconds") -> None:
    """A positive number no larger than ``most`` (by default a duration in seconds)."""
    if not 0 < value <= most:
        raise ConfigError(path, key, f"expected {unit} in (0, {most:g}], got {value!r}")


def _validate_database_waits(db: DatabaseConfig, path: Path, key: str) -> None:
    for name in ("statement_timeout", "lock_timeout", "step_statement_timeout"):
        _bounded(getattr(db, name), path, f"{key}.{name}")


def _validate_browser_visit(browser: BrowserConfig, path: Path, key: str) -> None:
    _bounded(browser.load_timeout, path, f"{key}.load_timeout")
    _bounded(browser.settle, path, f"{key}.settle", 60.0)
    if browser.ready_selector and browser.ready_script:
        raise ConfigError(path, f"{key}.ready_script", "set ready_selector or ready_script, not both")
    if browser.video not in VIDEO_MODES:
        raise ConfigError(path, f"{key}.video", f"expected one of: {', '.join(VIDEO_MODES)}, got {browser.video!r}")
    _bounded(browser.video_fps, path, f"{key}.video_fps", 10.0, "frames per second")
    for name, low, high in (
        ("video_width", 100, 1920),
        ("video_frames", 2, 300),
        ("video_max_bytes", 10_000, 50_000_000),
    ):
        value = getattr(browser, name)
        if not low <= value <= high:
            raise ConfigError(path, f"{key}.{name}", f"expected an integer in [{low}, {high}], got {value!r}")


FLAG_SOURCES = ("platform", "endpoint", "digest")
MONITOR_SOURCES = ("synthetic", "prometheus")


def _validate_monitor_and_flags(config: Config, prefix: str) -> None:
    from gates.durations import parse_duration

    path, mon, flags = config.path, config.monitor, config.flags
    key = prefix + "monitor"
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
        if value and not _ENV_VAR_NAME.match(value):
            raise ConfigError(path, f"{key}.{name}", f"expected an environment variable name, got {value!r}")
    fkey = prefix + "flags"
    if flags.source not in FLAG_SOURCES:
        raise ConfigError(path, f"{fkey}.source", f"expected one of: {', '.join(FLAG_SOURCES)}, got {flags.source!r}")
    if flags.source == "digest" and not flags.calibration:
        raise ConfigError(
            path, f"{fkey}.calibration", "the digest source needs a calibration secret known to hold false"
        )


ADMIN_URL_FIELDS = ("store", "app", "env")


def _fill_admin_url(env: Environment, app: AppConfig, browser: Any, path: Path, prefix: str, key: str) -> Environment:
    """The environment's admin_url: its own, else ``[browser] admin_url`` with its fields filled in."""
    template = browser.get("admin_url", "") if isinstance(browser, Mapping) else ""
    if env.admin_url or not template or not isinstance(template, str):
        return env  # a wrong type of [browser] admin_url is reported when the section is read
    tkey = f"{prefix}browser.admin_url"
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ConfigError(path, tkey, f"not a valid template: {exc}") from None
    unknown = sorted({f for f in fields if f not in ADMIN_URL_FIELDS})
    if unknown:
        raise ConfigError(path, tkey, f"unknown field {{{unknown[0]}}} (expected {{store}}, {{app}} or {{env}})")
    if "store" in fields and not env.store:
        raise ConfigError(path, f"{key}.store", "the [browser] admin_url template needs this environment's store")
    url = template.format(store=env.store, app=env.app or app.name, env=env.name)
    return dataclasses.replace(env, admin_url=url)


def _validate_environment(env: Environment, path: Path, key: str) -> None:
    """The keys every platform shares; each driver checks its own (gates.target.open_config asks the registry)."""
    if env.strategy and env.strategy not in STRATEGIES:
        raise ConfigError(
            path, f"{key}.strategy", f"unknown strategy {env.strategy!r} (expected one of: {', '.join(STRATEGIES)})"
        )
    if env.instances < 1:
        raise ConfigError(path, f"{key}.instances", f"expected at least 1, got {env.instances}")
    parts = urlsplit(env.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(path, f"{key}.url", f"expected an http(s) URL, got {env.url!r}")
    if parts.password:
        raise ConfigError(path, f"{key}.url", "must not carry a password; name an environment variable instead")
    admin = urlsplit(env.admin_url)
    if env.admin_url and (admin.scheme not in ("http", "https") or not admin.hostname):
        raise ConfigError(path, f"{key}.admin_url", f"expected an http(s) URL, got {env.admin_url!r}")
    if env.database_url_env and not _ENV_VAR_NAME.match(env.database_url_env):
        raise ConfigError(
            path, f"{key}.database_url_env", f"expected an environment variable name, got {env.database_url_env!r}"
        )


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


# A wait longer than this is a hang by another name: every timeout in the config is bounded by it.
MAX_TIMEOUT = 600.0
_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _validate_meanings(config: Config, prefix: str) -> None:
    """What run time would trip on, caught when the config is read: paths, timeouts, names, URLs, windows."""
    path = config.path
    for i, p in enumerate(config.app.health_paths):
        if not p.startswith("/") or any(c.isspace() for c in p):
            raise ConfigError(path, f"{prefix}app.health_paths[{i}]", f"expected a path starting with /, got {p!r}")
    if not config.app.health_paths:
        raise ConfigError(path, f"{prefix}app.health_paths", "expected at least one health path")
    if config.local.keep_builds < 1:
        raise ConfigError(path, f"{prefix}local.keep_builds", f"expected 1 or more, got {config.local.keep_builds}")
    sections = {"app": config.app, "flags": config.flags, **{n: getattr(config, n) for n in SECTIONS}}
    for section, value in sections.items():
        for f in dataclasses.fields(value):
            number = getattr(value, f.name)
            if f.name.endswith("timeout") and isinstance(number, float) and not 0 < number <= MAX_TIMEOUT:
                raise ConfigError(
                    path, f"{prefix}{section}.{f.name}", f"expected seconds in (0, {MAX_TIMEOUT:g}], got {number!r}"
                )
    _validate_ports(config, prefix)
    seen_names: dict[str, str] = {}
    seen_urls: dict[str, str] = {}
    for name, env in config.environments.items():
        key = f"{prefix}environments.{name}"
        if not _ENV_NAME.match(name):
            raise ConfigError(path, key, "an environment name is letters, digits, '.', '_' or '-' (no spaces)")
        folded = name.casefold()
        if folded in seen_names:
            raise ConfigError(path, key, f"the same name as environments.{seen_names[folded]} but for case")
        seen_names[folded] = name
        if any(c.isspace() for c in env.url):
            raise ConfigError(path, f"{key}.url", f"a URL has no spaces, got {env.url!r}")
        for field in ("url", "admin_url"):
            if (problem := port_problem(getattr(env, field))) is not None:
                raise ConfigError(path, f"{key}.{field}", problem)
        where = url_identity(env.url)
        if where in seen_urls:
            raise ConfigError(path, f"{key}.url", f"the same URL as environments.{seen_urls[where]}: {env.url}")
        seen_urls[where] = name


def _validate_ports(config: Config, prefix: str) -> None:
    """Every ``*_port`` key is a TCP port: 1-65535 (a port out of range fails only when something binds it)."""
    sections = {"local": config.local, "app": config.app, **{n: getattr(config, n) for n in SECTIONS}}
    for section, value in sections.items():
        for f in dataclasses.fields(value):
            number = getattr(value, f.name)
            if f.name.endswith("port") and isinstance(number, int) and not 1 <= number <= 65535:
                raise ConfigError(
                    config.path, f"{prefix}{section}.{f.name}", f"expected a port in 1-65535, got {number}"
                )
