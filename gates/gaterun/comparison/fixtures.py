"""Fixtures of the comparison molecules: the pair of releases, both dashboards, both releases' timings and memory.

Registered by ``gates.gaterun.plugin`` (its options) like the browser's fixtures. Each fixture is taken once per gate run (per
xdist worker); what it measured is kept beside the HTML report (``<report>-comparison-*.png`` and
``<report>-comparison.json``, which the record's index.html shows first) and attached to the report
of every molecule that used it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from gates.checks.comparison import as_configured, with_failed_requests
from gates.config import Config, Environment
from gates.config.comparison import ComparisonConfig
from gates.core.measurement import Measurement
from gates.gaterun.comparison.baseline import Pair, find_pair
from gates.gaterun.comparison.sampling import Sampled, Timing, interleaved
from gates.gaterun.visit import Planned
from gates.target import Target

_SHOWN = pytest.StashKey[dict[str, bytes]]()


def no_comparison(pair: Pair, what: str) -> Measurement:
    """The failing Measurement of a comparison whose expected baseline is missing."""
    return Measurement(what, f"{what}: the release replaced is reachable to compare with", "no baseline",
                       "the release replaced, running beside the new one", False, "the platform's status",
                       problems=[pair.problem])  # fmt: skip


@pytest.fixture(scope="session")
def release_pair(request: pytest.FixtureRequest, target: Target, expected_release: int | None) -> Pair:
    """The new release and the one it replaces, each reachable by its instances' addresses (see baseline.py)."""
    from gates.platforms.external import Unsupported

    try:
        status, releases = target.platform.status(target.env), target.platform.releases(target.env)
    except Unsupported:
        status, releases = None, ()
    return find_pair(
        target.env, status, releases, serving=expected_release,
        expected_baseline=request.config.getoption("gates_baseline_release"),
        no_baseline=request.config.getoption("gates_no_baseline") or "",
        runs_locally=bool(getattr(target.platform, "runs_locally", False)),
    )  # fmt: skip


@pytest.fixture(scope="session")
def compared_pair(release_pair: Pair) -> Pair:
    """The pair, skipping (saying why) when there is nothing to compare with and none was expected."""
    if release_pair.skip:
        pytest.skip(release_pair.skip)
    return release_pair


@dataclasses.dataclass(frozen=True)
class Dashboards:
    """Both releases' dashboards, visited alike, and how their screenshots differ."""

    pair: Pair
    baseline: Any = None  # Visit
    candidate: Any = None  # Visit
    diff: Any = None  # VisualDiff
    threshold: float = 0.05
    accepted_by: str = ""
    mode: str = "fail"

    def looks_alike(self) -> Measurement:
        from gates.checks.visual import screenshots_match

        if self.pair.problem:
            return no_comparison(self.pair, "visual comparison")
        source = f"screenshots of {self.pair.describe()}"
        return as_configured(screenshots_match(self.diff, max_score=self.threshold, source=source), self.mode,
                             self.accepted_by, "visual")  # fmt: skip


def comparison_pages(request: pytest.FixtureRequest, gates_config: Config, environment: Environment) -> list[Planned]:
    """What the visual comparison visits, when there is a pair to compare and it judges: each release's dashboard at
    one of its instances, baseline first (the browser gate's ``gate_visits`` makes them with its own visit)."""
    if gates_config.comparison.visual_mode(environment.name) == "off":
        return []
    pair: Pair = request.getfixturevalue("release_pair")
    if pair.skip or pair.problem or pair.baseline is None or pair.candidate is None:
        return []
    sides = (pair.baseline, pair.candidate)
    return [Planned(dataclasses.replace(environment, url=side.urls[0], admin_url="")) for side in sides]


@pytest.fixture(scope="session")
def dashboards(
    request: pytest.FixtureRequest,
    compared_pair: Pair,
    gate_visits: Any,
    gates_config: Config,
    environment: Environment,
) -> Dashboards:
    """The dashboard of each release visited directly at one of its instances (with the run's other visits:
    ``gate_visits``), screenshotted and compared; the three images kept beside the report."""
    from gates.checks.visual import annotate, compare

    mode = gates_config.comparison.visual_mode(environment.name)
    accepted = request.config.getoption("gates_accept_visual") or ""
    shown = Dashboards(compared_pair, threshold=gates_config.comparison.visual_threshold, accepted_by=accepted,
                       mode=mode)  # fmt: skip
    if compared_pair.problem or compared_pair.baseline is None or compared_pair.candidate is None or mode == "off":
        return shown
    before, after = gate_visits.baseline, gate_visits.candidate
    shots = (before.screenshot, after.screenshot) if before is not None and after is not None else (None, None)
    diff = compare(*shots) if shots[0] and shots[1] else None
    images = {"baseline": shots[0], "candidate": shots[1]}
    images["difference"] = annotate(shots[1], diff) if diff and shots[1] else None
    _keep(request.config, {k: v for k, v in images.items() if v}, {"visual": _visual_said(compared_pair, diff)})
    return dataclasses.replace(shown, baseline=before, candidate=after, diff=diff)


@dataclasses.dataclass(frozen=True)
class Timings:
    """The same requests to both releases, interleaved, and both releases' resident memory read through them."""

    pair: Pair
    sampled: Sampled | None = None
    # Each release's readings: (requests sent so far, resident bytes of one instance's process tree).
    baseline_rss: tuple[tuple[float, float], ...] = ()
    candidate_rss: tuple[tuple[float, float], ...] = ()
    # Each release's instances after every request: the last reading of each (bytes), what is compared.
    baseline_after: tuple[float, ...] = ()
    candidate_after: tuple[float, ...] = ()
    memory_trouble: str = ""

    def latency(self, cfg: ComparisonConfig) -> Measurement:
        from gates.checks.latency import LatencyBounds, latency_within_bounds

        if self.pair.problem or self.sampled is None:
            return no_comparison(self.pair, "latency comparison")
        source = f"{cfg.samples} requests per route to each of {self.pair.describe()}, alternating"
        found = latency_within_bounds(self.sampled.seconds("baseline"), self.sampled.seconds("candidate"),
                                      LatencyBounds.of(cfg), source=source)  # fmt: skip
        return with_failed_requests(found, self.sampled.failures)

    def memory(self, cfg: ComparisonConfig) -> Measurement:
        from gates.checks.memory import MemoryBounds, rss_within_bounds

        if self.pair.problem or self.sampled is None:
            return no_comparison(self.pair, "memory comparison")
        found = rss_within_bounds(
            self.baseline_after, self.candidate_after, MemoryBounds.of(cfg),
            source=f"resident memory of each instance's process tree after the same requests to {self.pair.describe()}",
        )  # fmt: skip
        if self.memory_trouble:
            return dataclasses.replace(found, ok=False, problems=[self.memory_trouble, *found.problems])
        return found


@pytest.fixture(scope="session")
def route_timings(
    request: pytest.FixtureRequest, compared_pair: Pair, gates_config: Config, environment: Environment
) -> Timings:
    """Each route requested ``[comparison] samples`` times of each release, alternating, while each instance's
    resident memory is read (the local platform's process trees); both plotted beside the report."""
    from gates.monitor.compareplot import plot_latency_comparison, plot_memory_comparison
    from gates.platforms.local.memory import RssSampler, release_rss

    pair, cfg = compared_pair, gates_config.comparison
    if pair.problem or pair.baseline is None or pair.candidate is None:
        return Timings(pair)
    routes = cfg.routes or (*gates_config.app.health_paths, gates_config.browser.dashboard_path)
    sides = {"baseline": pair.baseline.release, "candidate": pair.candidate.release}
    sent: list[Timing] = []

    def read() -> dict[str, int]:
        by_release = release_rss(gates_config, environment)
        return {f"{side} {i}": rss for side, release in sides.items() for i, rss in by_release.get(release, {}).items()}

    with RssSampler(read, served=lambda: len(sent)) as sampler:
        sampled = interleaved(pair.baseline, pair.candidate, routes, cfg.samples, gates_config.app.health_timeout,
                              on_timing=sent.append)  # fmt: skip
    mine = {side: [sampler.series(i) for i in sampler.instances() if i.startswith(f"{side} ")] for side in sides}
    series = {side: tuple(p for one in found for p in one) for side, found in mine.items()}
    after = {side: tuple(one[-1][1] for one in found if one) for side, found in mine.items()}
    found = Timings(pair, sampled, series["baseline"], series["candidate"], after["baseline"], after["candidate"],
                    sampler.trouble)  # fmt: skip
    labels = (f"release {pair.baseline.release} (replaced)", f"release {pair.candidate.release} (new)")
    with tempfile.TemporaryDirectory(prefix="gates-comparison-") as tmp:
        latency = plot_latency_comparison(
            sampled.seconds("baseline"), sampled.seconds("candidate"), "latency per route, both releases interleaved",
            Path(tmp) / "latency.png", labels=labels,
        ).read_bytes()  # fmt: skip
        memory = plot_memory_comparison(
            found.baseline_rss, found.candidate_rss, "resident memory of each instance through the same requests",
            Path(tmp) / "memory.png", unit="requests sent to both releases", labels=labels,
        ).read_bytes()  # fmt: skip
    _keep(request.config, {"latency": latency, "memory": memory}, {
        "latency": {"baseline": sampled.seconds("baseline"), "candidate": sampled.seconds("candidate")},
        "memory": {"baseline": found.baseline_after, "candidate": found.candidate_after},
        "pair": pair.describe(),
    })  # fmt: skip
    return found


def _visual_said(pair: Pair, diff: Any) -> dict[str, Any]:
    return {"pair": pair.describe(), "score": diff.score if diff else None, "said": diff.describe() if diff else ""}


# ---------------------------------------------------------------------------
# Evidence: the images beside the report (the record's index.html shows them) and in it


def artifact_path(config: pytest.Config, kind: str) -> Path:
    """``<report stem>-comparison-<kind>[-<worker>]``, beside the HTML report (else in a temporary folder)."""
    html = config.getoption("htmlpath", None)
    folder = Path(html).resolve().parent if html else Path(tempfile.gettempdir()) / "gates-comparison"
    stem = Path(html).stem if html else "comparison"
    worker = getattr(config, "workerinput", {}).get("workerid")
    base, _, ext = kind.partition(".")
    return folder / f"{stem}-comparison{'-' + base if base else ''}{'-' + worker if worker else ''}.{ext}"


def _keep(config: pytest.Config, images: dict[str, bytes], facts: dict[str, Any]) -> None:
    config.stash.setdefault(_SHOWN, {}).update(images)
    for name, png in images.items():
        path = artifact_path(config, f"{name}.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
    summary = artifact_path(config, ".json")
    known = json.loads(summary.read_text()) if summary.is_file() else {}
    known.update(facts)
    known["images"] = sorted({*known.get("images", ()), *(artifact_path(config, f"{n}.png").name for n in images)})
    summary.write_text(json.dumps(known, indent=2) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    used = getattr(item, "funcargs", {})
    if report.when != "call" or not ({"dashboards", "route_timings", "compared_memory"} & set(used)):
        return
    try:
        from pytest_html import extras
    except ImportError:
        return
    shown = item.config.stash.get(_SHOWN, {})
    names = ("baseline", "candidate", "difference") if "dashboards" in used else ("latency", "memory")
    added = [extras.png(base64.b64encode(shown[n]).decode(), name=f"comparison: {n}") for n in names if n in shown]
    report.extras = [*getattr(report, "extras", []), *added]  # type: ignore[attr-defined]
