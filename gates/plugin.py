"""The gates pytest plugin: markers, environment selection, fixtures and evidence.

Loaded through the ``pytest11`` entry point, so an installed gates brings
its markers, fixtures and molecules to any repository: when a run selects a
gate (``-m staging``, ``-m production``, ``-m preflight``, ... or ``--env``),
the molecules shipped in ``gates/molecules`` are collected beside the
repository's own tests, and the repository's tests marked for that gate are
part of it. A molecule asks for the target through fixtures and hands its
Measurement to ``verdict``; the plugin attaches the Measurement to the HTML
report and JUnit XML and fails the test with a message naming value,
condition and source.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from gates import config as config_mod
from gates.errors import GatesError, UsageError
from gates.markers import CONCERNS, GATES, MOLECULES, WAIVED_PREFIX, molecule_files
from gates.measurement import Measurement
from gates.redact import redact
from gates.target import Target, open_config, resolve

_TARGET_KEY = pytest.StashKey["Target | None"]()
_MEASUREMENTS_KEY = pytest.StashKey[list[Measurement]]()
_IMAGES_KEY = pytest.StashKey[list[tuple[str, bytes]]]()
MEASUREMENT_PROPERTY = "gates_measurement"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gates", "deployment gates")
    group.addoption(
        "--env", dest="gates_env", default=None, help="environment to gate (default: from -m, or $GATES_ENV)"
    )
    group.addoption(
        "--gates-config",
        dest="gates_config",
        default=None,
        help="gates.toml path (default: $GATES_CONFIG or ./gates.toml)",
    )
    group.addoption(
        "--expect-release",
        dest="gates_expect_release",
        type=int,
        default=None,
        help="the release version the environment must serve (default: the platform's newest)",
    )
    group.addoption(
        "--advisors-report",
        dest="gates_advisors_report",
        default=None,
        help="a run of `supabase db advisors` started with the gate (default: the molecule runs the CLI itself)",
    )
    group.addoption(
        "--probe-samples",
        dest="gates_probe_samples",
        default=None,
        help="the traffic probe's file of the rollout (probe-<env>.jsonl; default: the newest record's of that release)",
    )
    group.addoption(
        "--measurements",
        dest="gates_measurements",
        default=None,
        help="append every Measurement as JSON lines to this file",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, text in {**GATES, **CONCERNS}.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.stash[_TARGET_KEY] = None
    if selects_a_gate(config.getoption("markexpr") or "", _explicit_env(config)):
        # The shipped molecules join the run as files named on the command line would: collected
        # whatever the repository's python_files, testpaths or rootdir say (pytest skips duplicates).
        config.args.extend(str(p) for p in molecule_files())
    # Registered here, after every entry-point plugin, so its fixtures override pytest-playwright's.
    if config.pluginmanager.has_plugin("playwright") and not config.pluginmanager.has_plugin("gates-browser"):
        from gates import browser

        config.pluginmanager.register(browser, "gates-browser")
    target = config.getoption("gates_measurements")
    if target:
        config.pluginmanager.register(MeasurementWriter(Path(target)), "gates-measurements")


def selects_a_gate(markexpr: str, explicit_env: str | None) -> bool:
    """A run that selects a gate (its marker in -m, or an environment named with --env/$GATES_ENV)."""
    return bool(explicit_env) or bool(set(re.findall(r"[A-Za-z_][A-Za-z0-9_-]*", markexpr)) & set(GATES))


def _explicit_env(config: pytest.Config) -> str | None:
    explicit: str | None = config.getoption("gates_env") or os.environ.get(config_mod.ENV_SELECT)
    return explicit


def _gate_markers(item: pytest.Item) -> set[str]:
    return {m.name for m in item.iter_markers() if m.name in GATES}


def select_environment(cfg: config_mod.Config, explicit: str | None, markexpr: str) -> config_mod.Environment:
    """The environment a run targets: --env/$GATES_ENV, else the one environment named in -m."""
    if explicit:
        return cfg.environment(explicit)
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_-]*", markexpr)) - {"and", "or", "not"}
    named = [
        name for name in cfg.environments if name in words and not re.search(rf"not\s+{re.escape(name)}\b", markexpr)
    ]
    known = ", ".join(cfg.environments)
    if len(named) == 1:
        return cfg.environments[named[0]]
    if len(named) > 1:
        raise UsageError(
            f"-m {markexpr!r} names several environments ({', '.join(named)}); pass --env NAME (known: {known})"
        )
    raise UsageError(f"no environment selected: use -m <environment> or --env NAME (known: {known})")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Resolve the target once, before anything runs; molecules without a target are deselected."""
    molecules = [item for item in items if _gate_markers(item)]
    if not molecules:
        return
    explicit = _explicit_env(config)
    markexpr = config.getoption("markexpr") or ""
    if not explicit and not markexpr:
        # A plain `pytest` is a developer run: molecules need a target, so leave them out and say so.
        keep = [item for item in items if not _gate_markers(item)]
        config.hook.pytest_deselected(items=molecules)
        items[:] = keep
        return
    try:
        cfg = open_config(config.getoption("gates_config"))
        target = resolve(cfg, select_environment(cfg, explicit, markexpr).name)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_TARGET_KEY] = target
    _waive(target.config.gate.waive, molecules)


def _waive(waivers: Mapping[str, str], items: list[pytest.Item]) -> None:
    """Built-in molecules waived in [gate] waive are skipped, saying so with the reason: never silently absent."""
    for item in items:
        reason = waivers.get(getattr(item, "originalname", item.name))
        if reason is not None and Path(str(item.path)).resolve().parent == MOLECULES:
            item.add_marker(pytest.mark.skip(reason=f"{WAIVED_PREFIX} {reason}"))


def pytest_report_header(config: pytest.Config) -> str | None:
    target = config.stash.get(_TARGET_KEY, None)
    if target is None:
        return None
    return f"gates: environment {target.env.name} ({target.env.platform}) at {target.env.url}"


# ---------------------------------------------------------------------------
# Fixtures a molecule uses


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    """The environment this gate targets, resolved once: config, platform driver, database URL."""
    found = request.config.stash.get(_TARGET_KEY, None)
    if found is None:
        raise pytest.UsageError("no environment selected: use -m <environment> or --env NAME")
    return found


@pytest.fixture(scope="session")
def gates_config(target: Target) -> config_mod.Config:
    """The loaded release config."""
    return target.config


@pytest.fixture(scope="session")
def environment(target: Target) -> config_mod.Environment:
    """The environment this gate targets."""
    return target.env


@pytest.fixture(scope="session")
def app(gates_config: config_mod.Config) -> config_mod.AppConfig:
    """The app section of the config."""
    return gates_config.app


@pytest.fixture(scope="session")
def platform(target: Target) -> Any:
    """The platform driver of the target environment."""
    return target.platform


@pytest.fixture(scope="session")
def status(target: Target) -> Any:
    """What the platform says the environment runs (instances, releases); skips, saying why, where the
    platform has no instance list (an environment deployed by something else)."""
    from gates.platforms.external import Unsupported

    try:
        return target.platform.status(target.env)
    except Unsupported as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def expected_release(request: pytest.FixtureRequest, platform: Any, environment: config_mod.Environment) -> int | None:
    """The release the environment must serve: --expect-release, else the platform's newest complete one."""
    explicit: int | None = request.config.getoption("gates_expect_release")
    if explicit is not None:
        return explicit
    for release in platform.releases(environment):
        if release.status == "complete":
            return int(release.version)
    return None


@pytest.fixture(scope="session")
def http(environment: config_mod.Environment, app: config_mod.AppConfig) -> Iterator[Any]:
    """An httpx client bound to the environment's URL, with timeouts, not following redirects."""
    import httpx

    with httpx.Client(base_url=environment.url, timeout=app.health_timeout, follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="session")
def db_url(target: Target) -> str:
    """The URL of the target's database (for tools that connect themselves, like the Supabase CLI); skips,
    saying why, for an environment deployed by something else without a database."""
    if not target.has_database:
        pytest.skip(
            f"{target.env.name} has no database configured (platform {target.env.platform}, no database_url_env)"
        )
    return target.database_url


@pytest.fixture(scope="session")
def db(db_url: str, target: Target) -> Iterator[Any]:
    """A psycopg connection to the environment's database; read-only when the environment is production."""
    import psycopg

    from gates.database import gate_connection

    try:
        conn = gate_connection(db_url, target.env, target.config)
    except psycopg.Error as exc:
        pytest.fail(redact(f"cannot connect to the {target.env.name} database: {exc}"), pytrace=False)
    with conn:
        yield conn


@pytest.fixture(scope="session")
def migration_files(gates_config: config_mod.Config) -> Any:
    """The app's migration files, in version order."""
    from gates.database.migrations import local_migrations

    try:
        return local_migrations(gates_config.migrations_dir)
    except GatesError as exc:  # two files sharing a version: one line, not a traceback
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def probe_run(request: pytest.FixtureRequest, target: Target, expected_release: int | None) -> Any:
    """The traffic probe of the rollout: --probe-samples, else the newest record's probe of the release served now."""
    from gates import probe

    explicit = request.config.getoption("gates_probe_samples")
    try:
        if explicit:
            return probe.load(Path(explicit))
        return probe.find(target.config, target.env, expected_release)
    except GatesError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> Callable[[Measurement], None]:
    """Attach a Measurement to this test's evidence and fail with its explanation when it is not ok."""

    def judge(measurement: Measurement) -> None:
        request.node.stash.setdefault(_MEASUREMENTS_KEY, []).append(measurement)
        request.node.user_properties.append((MEASUREMENT_PROPERTY, json.dumps(measurement.as_dict())))
        if not measurement.ok:
            pytest.fail(measurement.explain(), pytrace=False)

    return judge


@pytest.fixture
def attach_image(request: pytest.FixtureRequest) -> Callable[[str, bytes], None]:
    """Attach a PNG (a plot) to this test's HTML report under a name, whatever the verdict."""

    def attach(name: str, png: bytes) -> None:
        request.node.stash.setdefault(_IMAGES_KEY, []).append((name, png))

    return attach


# ---------------------------------------------------------------------------
# Evidence: measurements into the report, secrets out of everything


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    _scrub(report)
    if report.when != "call":
        return
    measurements = item.stash.get(_MEASUREMENTS_KEY, [])
    images = item.stash.get(_IMAGES_KEY, [])
    if measurements or images:
        added = _html_extras(measurements) if measurements else []
        report.extras = [*getattr(report, "extras", []), *added, *_image_extras(images)]  # type: ignore[attr-defined]


def _scrub(report: pytest.TestReport) -> None:
    """Redact tracebacks and captured output, so terminal, JUnit and HTML are all clean."""
    report.sections = [(title, redact(text)) for title, text in report.sections]
    if report.longrepr is not None:
        text = str(report.longrepr)
        clean = redact(text)
        if clean != text:
            report.longrepr = clean


def _html_extras(measurements: list[Measurement]) -> list[dict[str, Any]]:
    try:
        from pytest_html import extras
    except ImportError:  # pytest-html not installed: the JUnit properties still carry the evidence
        return []
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            *(
                html.escape(str(v))
                for v in (m.name, "ok" if m.ok else "FAILED", m.observed, m.expected, m.source, m.at.isoformat())
            )
        )
        + "".join(f"<tr><td></td><td colspan=5>{html.escape(p)}</td></tr>" for p in m.problems)
        for m in measurements
    )
    table = (
        "<table class='gates-measurements'><tr><th>measurement</th><th>verdict</th><th>observed</th>"
        f"<th>expected</th><th>source</th><th>at</th></tr>{rows}</table>"
    )
    return [extras.html(table), *(extras.json(m.as_dict(), name=m.name) for m in measurements)]


def _image_extras(images: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    try:
        from pytest_html import extras
    except ImportError:
        return []
    return [extras.png(base64.b64encode(png).decode(), name=name) for name, png in images]


class MeasurementWriter:
    """Appends each test's Measurements as JSON lines; runs on the controller, so xdist is covered."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        with self.path.open("a") as fh:
            for key, value in report.user_properties:
                if key == MEASUREMENT_PROPERTY:
                    line = {"test": report.nodeid, "outcome": report.outcome, "measurement": json.loads(str(value))}
                    fh.write(json.dumps(line) + "\n")


def pytest_html_report_title(report: Any) -> None:
    report.title = "gates: release evidence"
