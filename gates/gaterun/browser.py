"""The browser gate's driver and fixtures: one visit of the dashboard per gate run, and its evidence.

Registered by ``gates.gaterun.plugin`` after the other plugins, so its ``browser_type_launch_args``
and ``browser`` override pytest-playwright's: Playwright launches Debian's Chromium (never a downloaded one),
once per gate run, whichever molecule asks first.
``admin_visit`` opens the Admin page embedding the dashboard (or, without an admin_url, the
dashboard itself) once per session (per xdist worker), waits until it is ready, watches every
frame for the settle window, and records it all; every browser call is bounded, so a page that
never answers is a failed visit, not an exception. It is made together with the visual comparison's
visits of both releases when the run holds that molecule (``gate_visits``): one browser, their loads
overlapping, one settle window. The browser molecules judge that record. Every
test that used it gets the screenshot and the console log of all frames in the HTML report, the
first one also the recording of the visit when it was recorded; on failure the Playwright trace is
saved beside the report (run by hand without one: in a folder of its own, never the working tree)
and linked -- unless the visit used a logged-in storage state, whose trace goes to the private
folder instead, never into a shared report.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gates.checks.browser import Visit
from gates.config import Config, Environment
from gates.core.redact import redact
from gates.gaterun.visit import Planned, not_tried, records_video, storage_state, visit_together
from gates.platforms.admin import dashboard_url

# Root on a closed network: no sandbox (root), nothing that phones home or updates itself.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
_DEBIAN_CHROMIUM = Path("/usr/lib/chromium/chromium")  # the binary behind Debian's wrapper: starts faster
_TRACE_KEY = pytest.StashKey[Path | None]()
_PRIVATE_KEY = pytest.StashKey[bool]()
_FAILED_KEY = pytest.StashKey[list[str]]()
_VIDEO_SHOWN_KEY = pytest.StashKey[bool]()
_TMP_DIR_KEY = pytest.StashKey[Path]()


def chromium_path() -> str:
    """Debian's Chromium: the real binary when present, else ``chromium`` on PATH; UsageError when absent."""
    if _DEBIAN_CHROMIUM.is_file() and os.access(_DEBIAN_CHROMIUM, os.X_OK):
        return str(_DEBIAN_CHROMIUM)
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise pytest.UsageError("chromium not found: apt-get install chromium (never `playwright install`)")
    return found


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch options, with the system Chromium and the flags a closed network needs."""
    args = [*browser_type_launch_args.get("args", ()), *CHROMIUM_FLAGS]
    return {**browser_type_launch_args, "executable_path": chromium_path(), "args": args}


@pytest.fixture(scope="session")
def browser(playwright: Any, browser_type_launch_args: dict[str, Any]) -> Iterator[Any]:
    """The one Chromium of the gate run (per xdist worker), whoever asks for it: the browser molecules (parametrized
    ``[chromium]``), a team's molecule that asks for ``browser`` by name (the write-path kit), pytest-playwright's
    ``page`` and ``context``.

    Why not pytest-playwright's own: it depends on ``browser_name``, whose cached value is keyed by the molecule's
    parameter, so a molecule without the parameter made pytest close the browser and launch another (and the next
    parametrized one a third). The launch options are the same (``browser_type_launch_args``: Debian's Chromium)."""
    launched = playwright.chromium.launch(**browser_type_launch_args)
    yield launched
    launched.close()


@dataclasses.dataclass(frozen=True)
class Visits:
    """Every visit one gate run's molecules judge, made together: the Admin page's (the browser molecules'), and
    the dashboard of each release the visual comparison looks at (None: not asked for in this run, or nothing to
    compare)."""

    admin: Visit | None = None
    baseline: Visit | None = None
    candidate: Visit | None = None


@pytest.fixture(scope="session")
def gate_visits(
    request: pytest.FixtureRequest, browser_name: str, gates_config: Config, environment: Environment
) -> Iterator[Visits]:
    """The visits this gate run's molecules ask for, made together in one browser: first the Admin page, alone (how
    soon it is ready is what the load molecule judges), then both releases' dashboards for the visual comparison,
    loading while the Admin page is watched; one settle window serves all (gates.gaterun.visit.visit_together).

    The Admin page is not visited when the dashboard's origin gave no answer earlier in this gate (a health
    molecule's request: they run first), and the browser is started only when there is a page to visit.
    ``browser_name``: the molecules stay parametrized by pytest-playwright's browser (``[chromium]``)."""
    from gates.gaterun.comparison.fixtures import comparison_pages

    compares = _asked_for(request.session, "dashboards")
    admin = _asked_for(request.session, "admin_visit") or not compares
    sides: list[Planned] = []
    if compares:
        try:
            sides = comparison_pages(request, gates_config, environment)
        except Exception:  # the pair could not be found: the comparison's molecules say why, the browser's go on
            sides = []
    state = storage_state(gates_config) if admin else None
    with tempfile.TemporaryDirectory(prefix="gates-trace-") as tmp:
        trace = Path(tmp) / "trace.zip"
        video = records_video(gates_config, environment)
        # One deadline per gate: the browser does not wait again for what a request found silent. (Imported here:
        # the gate client's module loads httpx, 50-60 ms of CPU that collecting this plugin need not pay.)
        from gates.core.httpclient import silent

        unanswered = silent(dashboard_url(gates_config, environment)) if admin else ""
        waves = [[Planned(environment, state, trace, video, layout=True)]] if admin and not unanswered else []
        planned = [*waves, sides] if sides else waves
        made = visit_together(request.getfixturevalue("browser"), gates_config, planned) if planned else []
        first = not_tried(gates_config, environment, unanswered) if unanswered else made[0] if admin else None
        visits = Visits(first, *(made[-2:] if sides else ()))
        if visits.admin is not None:
            _admin_visited(request.config, visits.admin, trace, private=state is not None)
        yield visits
        if visits.admin is not None:
            _keep_trace_if_failed(request.config, trace, private=state is not None, config=gates_config)


@pytest.fixture(scope="session")
def admin_visit(gate_visits: Visits) -> Visit:
    """The dashboard of the environment (in its Admin page when there is one), opened once, with everything
    every frame did until the settle window ended."""
    if gate_visits.admin is None:  # pragma: no cover - planned whenever a collected molecule asks for it
        pytest.fail("the Admin page was not visited: no collected molecule asked for admin_visit", pytrace=False)
    return gate_visits.admin


def _asked_for(session: pytest.Session, fixture: str) -> bool:
    """Whether a molecule collected in this run uses ``fixture`` (directly or through another fixture)."""
    return any(fixture in getattr(item, "fixturenames", ()) for item in session.items)


def _admin_visited(pyconfig: pytest.Config, visit: Visit, trace: Path, *, private: bool) -> None:
    if visit.silent:
        from gates.core.httpclient import no_answer_from  # here, not at the top: see silent's import above

        # One deadline per gate: the HTTP molecules do not wait again for what the browser found silent.
        no_answer_from(visit.silent, f"the browser's visit of {visit.silent} (within {visit.timeout:g}s)")
    pyconfig.stash[_TRACE_KEY] = trace if trace.is_file() else None
    pyconfig.stash[_PRIVATE_KEY] = private
    _keep_video(pyconfig, visit)


# ---------------------------------------------------------------------------
# Evidence


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    visit = getattr(item, "funcargs", {}).get("admin_visit")
    if report.when != "call" or not isinstance(visit, Visit):
        return
    if report.failed:
        item.config.stash.setdefault(_FAILED_KEY, []).append(item.nodeid)
        trace = _trace_target(item.config)
        if trace is not None:
            # Said in the terminal too: without an HTML report the trace is in a folder of its own.
            report.sections.append(("gates browser evidence", f"Playwright trace of the visit: {trace}"))
    extras = _extras()
    if extras is None:
        return
    added: list[dict[str, Any]] = []
    page = "Admin page with the dashboard" if visit.embedded else "the dashboard"
    if visit.screenshot:
        added.append(extras.png(base64.b64encode(visit.screenshot).decode(), name=page))
    if visit.video and not item.config.stash.get(_VIDEO_SHOWN_KEY, False):
        # Once per report (per worker): it is the same visit for every browser molecule.
        item.config.stash[_VIDEO_SHOWN_KEY] = True
        added.append(extras.image(base64.b64encode(visit.video).decode(), name=f"video of the visit ({page})",
                                  mime_type="image/webp", extension="webp"))  # fmt: skip
    added.append(extras.text(redact(visit.console_log()), name="console log (all frames)"))
    if report.failed and _trace_target(item.config) is not None and _report_dir(item.config) == _html_dir(item.config):
        added.append(extras.url(_trace_name(item.config), name="Playwright trace"))
    report.extras = [*getattr(report, "extras", []), *added]  # type: ignore[attr-defined]


def _extras() -> Any:
    try:
        from pytest_html import extras
    except ImportError:
        return None
    return extras


def _html_dir(config: pytest.Config) -> Path | None:
    html = config.getoption("htmlpath", None)
    return Path(html).resolve().parent if html else None


def _report_dir(config: pytest.Config) -> Path:
    """Where the visit's files go: beside the HTML report (the release's record), else the ``--output`` folder
    given on the command line, else a temporary folder -- never the working tree."""
    beside = _html_dir(config)
    if beside is not None:
        return beside
    if any(str(a).startswith("--output") for a in config.invocation_params.args):
        return Path(config.getoption("output")).resolve()
    folder = config.stash.get(_TMP_DIR_KEY, None)
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="gates-browser-"))
        config.stash[_TMP_DIR_KEY] = folder
    return folder


def _artifact_name(config: pytest.Config, kind: str) -> str:
    """``<report stem>-<kind>[-<xdist worker>]``: one file per visit, and each worker visits on its own."""
    html = config.getoption("htmlpath", None)
    stem = Path(html).stem if html else "browser"
    # This run's own xdist worker id (not $PYTEST_XDIST_WORKER: a gate run from a worker inherits it).
    worker = getattr(config, "workerinput", {}).get("workerid")
    base, _, ext = kind.partition(".")
    return f"{stem}-{base}{'-' + worker if worker else ''}.{ext}"


def _trace_name(config: pytest.Config) -> str:
    return _artifact_name(config, "trace.zip")


def _trace_target(config: pytest.Config) -> Path | None:
    """Where the trace will be saved (the visit fixture saves it at its teardown); None when there is none to keep."""
    if config.stash.get(_TRACE_KEY, None) is None:
        return None
    if config.stash.get(_PRIVATE_KEY, False):
        return None  # kept privately (see _keep_trace_if_failed), never named in a shared report
    return _report_dir(config) / _trace_name(config)


def _keep_video(pyconfig: pytest.Config, visit: Visit) -> None:
    """Keep the visit's recording beside the HTML report (in a release, the record); without a report there is
    nothing to show it beside, so nothing is written."""
    folder = _html_dir(pyconfig)
    if visit.video and folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / _artifact_name(pyconfig, "video.webp")).write_bytes(visit.video)


def _keep_trace_if_failed(pyconfig: pytest.Config, trace: Path, *, private: bool, config: Config) -> None:
    """Save the trace of a visit some molecule failed on: beside the report, or privately with a storage state."""
    if not trace.is_file() or not pyconfig.stash.get(_FAILED_KEY, []):
        return
    if private:
        # It carries the Admin session: kept out of every shared report, in an owner-only folder.
        folder = config.resolve(config.browser.private_dir)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = folder / _trace_name(pyconfig)
    else:
        target = _report_dir(pyconfig) / _trace_name(pyconfig)
        target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(trace, target)
    if private:
        target.chmod(0o600)
