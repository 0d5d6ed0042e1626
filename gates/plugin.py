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
import datetime as dt
import gc
import html
import json
import os
import re
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

import pytest

from gates import config as config_mod
from gates.errors import GatesError, UsageError
from gates.markers import CONCERNS, GATES, MOLECULES, WAIVED_PREFIX, gate_of_run, molecule_files, seed_step
from gates.measurement import Measurement
from gates.redact import redact
from gates.target import Target, open_config, resolve

_TARGET_KEY = pytest.StashKey["Target | None"]()
_GATE_RUN_KEY = pytest.StashKey[bool]()
_MEASUREMENTS_KEY = pytest.StashKey[list[Measurement]]()
_IMAGES_KEY = pytest.StashKey[list[tuple[str, bytes]]]()
MEASUREMENT_PROPERTY = "gates_measurement"
SEED_STEP_PROPERTY = "gates_seed_step"  # the molecule's DEVOPS id, on every report and in the JUnit XML
CONCERN_PROPERTY = "gates_concern"


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
    group.addoption(
        "--gates-events",
        dest="gates_events",
        default=None,
        help="append one JSON line per finished molecule (verdict, first problem, DEVOPS id) to this file, as it finishes",
    )
    group.addoption(
        "--gates-record",
        dest="gates_record",
        default=None,
        help="the release record this gate belongs to: the HTML report names its release and links its summary",
    )
    group.addoption(
        "--gates-commit",
        dest="gates_commit",
        default=None,
        help="the commit being gated, for the HTML report (default: the record's, else $GITHUB_SHA)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, text in {**GATES, **CONCERNS}.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.stash[_TARGET_KEY] = None
    config.stash[_GATE_RUN_KEY] = selects_a_gate(config.getoption("markexpr") or "", _explicit_env(config))
    if config.stash[_GATE_RUN_KEY]:
        # The shipped molecules join the run as files named on the command line would: collected
        # whatever the repository's python_files, testpaths or rootdir say (pytest skips duplicates).
        config.args.extend(str(p) for p in molecule_files())
    # Registered here, after every entry-point plugin, so its fixtures override pytest-playwright's.
    if config.pluginmanager.has_plugin("playwright") and not config.pluginmanager.has_plugin("gates-browser"):
        from gates import browser

        config.pluginmanager.register(browser, "gates-browser")
    # The writers run on the controller, which sees every report; an xdist worker (same options) would write each
    # line a second time.
    controller = not hasattr(config, "workerinput")
    target = config.getoption("gates_measurements")
    if target and controller:
        config.pluginmanager.register(MeasurementWriter(Path(target)), "gates-measurements")
    events = config.getoption("gates_events")
    if events and controller:
        config.pluginmanager.register(EventWriter(Path(events)), "gates-events")
    config.pluginmanager.register(GatedHeader(config), "gates-html-header")


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """In a gate run, everything imported and collected so far is moved out of the garbage collector's reach
    (``gc.freeze``): a gate is one short process, and pytest's own collections (one at its end, more as objects
    pile up) would otherwise walk every module, class and item again: 60-100 ms of a 4 s gate."""
    if session.config.stash.get(_GATE_RUN_KEY, False):
        gc.freeze()


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
    _tag_seed_steps(gate_of_run(markexpr, target.env.is_production), molecules)


def _tag_seed_steps(gate: str, items: list[pytest.Item]) -> None:
    """Each molecule's seed step id and concern ride on its reports (HTML columns, JUnit, events)."""
    for item in items:
        concerns = [m.name for m in item.iter_markers() if m.name in CONCERNS]
        item.user_properties.append((SEED_STEP_PROPERTY, seed_step(gate, concerns)))
        item.user_properties.append((CONCERN_PROPERTY, ", ".join(dict.fromkeys(concerns))))


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
    """An httpx client bound to the environment's URL, with timeouts, not following redirects; after the first
    request of the run that gets no answer, later ones fail at once naming it (gates.httpclient)."""
    from gates.httpclient import gate_client

    with gate_client(environment.url, app.health_timeout) as client:
        yield client


@pytest.fixture(scope="session")
def app_http(environment: config_mod.Environment, app: config_mod.AppConfig) -> Iterator[Any]:
    """For a team's molecules: an httpx client like ``http``, whose request that gets no answer (timeout,
    refused connection) fails the molecule with one line naming the request and the bound, not a traceback."""
    from gates.httpclient import molecule_client

    def fail(reason: str) -> NoReturn:
        pytest.fail(reason, pytrace=False)

    with molecule_client(environment.url, app.health_timeout, fail) as client:
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
    """The traffic probe of the rollout: --probe-samples, else the newest record's probe of the release served now;
    skips, saying why, for an environment deployed by something else (gates rolled nothing out to probe)."""
    from gates import probe

    explicit = request.config.getoption("gates_probe_samples")
    if not explicit and not getattr(target.platform, "deploys", True):
        pytest.skip(
            f"{target.env.name} is deployed by something else (platform {target.env.platform}): gates rolled "
            "nothing out to probe; pass --probe-samples PATH to judge a probe of its rollout"
        )
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


def _property(report: pytest.TestReport, key: str) -> str:
    return next((str(v) for k, v in report.user_properties if k == key), "")


def _verdict_of(report: pytest.TestReport) -> str:
    """A finished test's verdict as the gate counts it: passed, failed, error (setup/teardown) or skipped."""
    if report.failed:
        return "failed" if report.when == "call" else "error"
    return report.outcome


def _problem_of(report: pytest.TestReport) -> str:
    """A failure's message as JUnit gives it (the crash message), else the whole text; redacted, bounded."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(getattr(crash, "message", "") or report.longreprtext or "")
    return redact(text)[:4000]


class EventWriter:
    """One JSON line per molecule as it finishes (and one when collection ends), flushed at once, so the
    release can say each verdict while the gate still runs. Runs on the controller: xdist is covered."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def _write(self, event: dict[str, Any]) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps(event) + "\n")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._write({"event": "collected", "total": len(session.items)})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # A test ends at its call, or earlier when its setup failed or skipped; a failed teardown adds an error.
        ended = (
            report.when == "call"
            or (report.when == "setup" and not report.passed)
            or (report.when == "teardown" and report.failed)
        )
        if not ended:
            return
        verdict = _verdict_of(report)
        message = _problem_of(report) if verdict in ("failed", "error") else ""
        if verdict == "skipped" and isinstance(report.longrepr, tuple):
            message = redact(str(report.longrepr[2]).removeprefix("Skipped: "))  # the reason (a waiver says so)
        self._write(
            {
                "event": "molecule", "name": report.head_line or report.nodeid, "nodeid": report.nodeid,
                "outcome": verdict, "message": message, "seconds": round(report.duration, 3),
                "seed_step": _property(report, SEED_STEP_PROPERTY), "concern": _property(report, CONCERN_PROPERTY),
            }
        )  # fmt: skip


# ---------------------------------------------------------------------------
# The HTML report opens with what was gated, and each row names its seed step


class GatedHeader:
    """What a gate's HTML report says first: environment, URL, release, commit, when, verdict, the record."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = dt.datetime.now(dt.UTC)
        self.report: Any = None  # pytest-html's report, kept from the title hook to retitle it at the end

    def environment(self) -> config_mod.Environment | None:
        """The gated environment: the resolved target, else (on an xdist controller, which does not collect)
        the one its options select; None when there is none."""
        target = self.config.stash.get(_TARGET_KEY, None)
        if target is not None:
            return target.env
        try:
            cfg = open_config(self.config.getoption("gates_config"))
            return select_environment(cfg, _explicit_env(self.config), self.config.getoption("markexpr") or "")
        except GatesError:
            return None

    def record(self) -> tuple[Path | None, dict[str, Any]]:
        folder = self.config.getoption("gates_record")
        if not folder:
            return None, {}
        try:
            data = json.loads((Path(folder) / "record.json").read_text())
        except (OSError, ValueError):
            return Path(folder), {}
        return Path(folder), data if isinstance(data, dict) else {}

    def facts(self, verdict: str) -> list[tuple[str, str]]:
        """(label, HTML) rows; every value escaped, links relative to the report (it lives in the record)."""
        env = self.environment()
        folder, record = self.record()
        release = self.config.getoption("gates_expect_release")
        commit = self.config.getoption("gates_commit") or record.get("commit") or os.environ.get("GITHUB_SHA", "")
        gate = gate_of_run(self.config.getoption("markexpr") or "", bool(env and env.is_production))
        rows = [
            ("Gate", f"{gate} (-m {self.config.getoption('markexpr') or ''})"),
            ("Environment", f"{env.name} ({env.platform})" if env else "none selected"),
            ("URL", env.url if env else ""),
            ("Release", f"release {release}" if release is not None else "the newest complete release (not pinned)"),
            ("Commit", str(commit or "unknown")),
            ("When", f"{self.started.isoformat(timespec='seconds')} to "
                     f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}"),
            ("Verdict", verdict),
        ]  # fmt: skip
        escaped = [(label, html.escape(redact(value))) for label, value in rows]
        if folder is not None:
            names = ("index.html", "summary.md", "record.json")
            links = ", ".join(f"<a href='{n}'>{n}</a>" for n in names if (folder / n).exists() or n == "index.html")
            escaped.append(("Record", f"{html.escape(str(record.get('id') or folder.name))}: {links}"))
        return escaped

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        self.report = report
        report.title = self.title("running")

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: Any
    ) -> None:
        """Before the counts: what was gated, and the verdict; the title says it too."""
        verdict = _verdict(session)
        if self.report is not None:
            self.report.title = self.title(verdict)
        rows = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in self.facts(verdict))
        prefix.insert(0, f"<style>{_FIRST_SCREEN}</style><table class='gates-gated' id='gates-gated'>{rows}</table>")

    def title(self, verdict: str) -> str:
        env = self.environment()
        if env is None:
            return f"gates: release evidence ({verdict})"
        _, record = self.record()
        release = self.config.getoption("gates_expect_release")
        commit = self.config.getoption("gates_commit") or record.get("commit") or os.environ.get("GITHUB_SHA", "")
        gate = gate_of_run(self.config.getoption("markexpr") or "", bool(env and env.is_production))
        said = [
            f"{gate} gate {verdict}",
            f"{env.name} at {env.url}" if env else "",
            f"release {release}" if release is not None else "",
            f"commit {str(commit)[:12]}" if commit else "",
        ]
        return redact(": ".join([said[0], ", ".join(p for p in said[1:] if p)]))


# The report opens with the title and what was gated (in the summary), then the results; pytest-html's
# Python/platform table moves below them (the page is a flex column, so only the order changes).
_FIRST_SCREEN = (
    "body{display:flex;flex-direction:column}#environment-header,#environment{order:1}"
    "#environment{align-self:flex-start}footer{order:2}"
    ".gates-gated th{text-align:right;padding-right:.6em}.gates-gated td,.gates-gated th{color:#000}"
    ".gates-gated{margin-bottom:1em;font-size:1.05em}"
)


def _verdict(session: pytest.Session) -> str:
    failed = session.testsfailed
    if failed:
        return f"FAILED ({failed} of {session.testscollected} molecules failed)"
    if not session.testscollected:
        return "FAILED (no molecule ran)"
    return f"PASSED ({session.testscollected} molecules)"


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(2, '<th class="sortable" data-column-type="seedstep">Step</th>')
    cells.insert(3, '<th class="sortable" data-column-type="concern">Concern</th>')


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    cells.insert(2, f'<td class="col-seedstep">{html.escape(_property(report, SEED_STEP_PROPERTY))}</td>')
    cells.insert(3, f'<td class="col-concern">{html.escape(_property(report, CONCERN_PROPERTY))}</td>')


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_html(report: pytest.TestReport, data: list[str]) -> None:
    # A passing molecule with nothing captured gets no empty "No log output captured." box.
    if report.passed and data == ["No log output captured."]:
        data.clear()
