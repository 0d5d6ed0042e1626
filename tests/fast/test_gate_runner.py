"""The gate runner's reading of a gate: JUnit counts, failures by their first cause, waivers."""

from __future__ import annotations

from pathlib import Path

import pytest

from gates.config import parse
from gates.evidence.junit import first_cause, junit_summary
from gates.gaterun.runner import child_bytecode, selects_advisors, waivers

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4" failures="1" errors="0" skipped="2">
<testcase classname="m" name="test_ok"/>
<testcase classname="m" name="test_health"><failure message="health: FAILED: GET /h -&gt; 500&#10;- /h answered 500">x</failure></testcase>
<testcase classname="m" name="test_tiles[chromium]"><skipped type="pytest.skip" message="waived: checked by our own molecule"/></testcase>
<testcase classname="m" name="test_flags"><skipped type="pytest.skip" message="no flags configured"/></testcase>
</testsuite></testsuites>
"""


def test_junit_names_each_failure_by_its_first_problem(tmp_path: Path) -> None:
    """Counts come from the suite; a failure reads 'name: summary -- first problem'."""
    path = tmp_path / "gate.xml"
    path.write_text(JUNIT)
    counts, failed = junit_summary(path)
    assert counts == {"tests": 4, "failures": 1, "errors": 0, "skipped": 2}
    assert failed == ("test_health: health: FAILED: GET /h -> 500 -- /h answered 500",)


def test_waived_molecules_are_told_apart_from_other_skips(tmp_path: Path) -> None:
    """Only skips whose reason is a [gate] waiver count as waived, once per molecule whatever its parameters."""
    path = tmp_path / "gate.xml"
    path.write_text(JUNIT)
    assert waivers(path) == (("test_tiles", "checked by our own molecule"),)


def test_a_missing_or_broken_junit_file_reads_as_nothing(tmp_path: Path) -> None:
    """No file or a broken one: no counts, so the runner fails the gate closed."""
    assert junit_summary(tmp_path / "none.xml") == ({}, ())
    (tmp_path / "bad.xml").write_text("<not")
    assert junit_summary(tmp_path / "bad.xml") == ({}, ()) and waivers(tmp_path / "bad.xml") == ()
    assert first_cause("") == "failed"


def test_after_one_timeout_the_gates_client_refuses_at_once_naming_it() -> None:
    """A black-holed target costs one timeout per gate run: later requests fail at once, naming the first."""
    import httpx
    import pytest

    from gates.core.httpclient import Breaker

    calls: list[str] = []

    def hang(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        raise httpx.ReadTimeout("timed out", request=request)

    client = httpx.Client(base_url="http://app.invalid", transport=Breaker(httpx.MockTransport(hang)))
    with pytest.raises(httpx.ReadTimeout):
        client.get("/health")
    with pytest.raises(httpx.TimeoutException, match=r"not tried: GET http://app.invalid/health got no answer earlier"):
        client.get("/app")
    assert calls == ["http://app.invalid/health"]


def test_a_timeout_of_one_origin_never_refuses_another() -> None:
    """One instance (its own port) that gave no answer is not blamed on the next: another origin is still asked."""
    import httpx
    import pytest

    from gates.core.httpclient import Breaker

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.port == 8001:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200)

    client = httpx.Client(transport=Breaker(httpx.MockTransport(answer)))
    with pytest.raises(httpx.ReadTimeout):
        client.get("http://127.0.0.1:8001/health")
    assert client.get("http://127.0.0.1:8002/health").status_code == 200
    with pytest.raises(httpx.TimeoutException, match=r"not tried: GET http://127.0.0.1:8001/health got no answer"):
        client.get("http://127.0.0.1:8001/api/ads/health")


def test_what_the_browser_found_silent_is_not_waited_for_again_by_the_gates_client() -> None:
    """One deadline per gate: once the browser's visit got no answer from an origin, the gate's HTTP requests to
    that origin fail at once naming the visit; another origin is still asked."""
    import httpx
    import pytest

    from gates.core.httpclient import Breaker, no_answer_from

    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200)

    no_answer_from("http://silent.invalid:8080/app", "the browser's visit of http://silent.invalid:8080/app")
    client = httpx.Client(transport=Breaker(httpx.MockTransport(answer)))
    with pytest.raises(
        httpx.TimeoutException, match=r"not tried: the browser's visit of http://silent.invalid:8080/app"
    ):
        client.get("http://silent.invalid:8080/health")
    assert client.get("http://silent.invalid:8081/health").status_code == 200
    assert calls == ["http://silent.invalid:8081/health"]


def test_a_request_that_got_no_answer_makes_its_origin_silent_for_the_whole_gate() -> None:
    """One deadline per gate, the other way round: after a request timed out, its origin is silent for everything
    else in the gate (the browser's visit asks ``silent`` before starting a browser), named with the request and its
    bound; another origin is not."""
    import httpx

    from gates.core.httpclient import Breaker, silent

    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client = httpx.Client(transport=Breaker(httpx.MockTransport(hang)), timeout=2.0)
    assert silent("http://hung.invalid:8090/app") == ""
    with pytest.raises(httpx.ReadTimeout):
        client.get("http://hung.invalid:8090/health")
    assert silent("http://hung.invalid:8090/app") == "GET http://hung.invalid:8090/health (within 2s)"
    assert silent("http://hung.invalid:8091/app") == ""


@pytest.mark.parametrize(
    ("marker", "selected"),
    [
        ("staging", True),
        ("production", True),
        ("staging and database", True),
        ("database", True),
        ("staging and not database", False),
        ("preflight", False),
        ("browser", False),
        ("staging and (", False),
    ],
)
def test_the_advisors_run_starts_with_every_gate_that_collects_its_molecule(marker: str, selected: bool) -> None:
    """The advisors CLI is started beside the child's start-up for any marker expression that selects the advisors
    molecule (not only the two whole gates), never for one that leaves it out; a malformed one starts nothing."""
    assert selects_advisors(marker) is selected


def test_the_gate_caches_bytecode_under_the_state_folder_only_where_the_environment_forbids_it_beside_sources(
    tmp_path: Path,
) -> None:
    """With PYTHONDONTWRITEBYTECODE set and no cache folder named, the child caches under <state>/pycache (nothing
    beside the sources); an environment that writes bytecode, or names its own prefix, is left as it is."""
    staging = {"staging": {"platform": "local", "url": "http://127.0.0.1:8081"}}
    config = parse({"app": {"name": "a", "source": "."}, "environments": staging}, tmp_path / "gates.toml")
    assert child_bytecode(config, {"PYTHONDONTWRITEBYTECODE": "1"}) == {
        "PYTHONDONTWRITEBYTECODE": "",
        "PYTHONPYCACHEPREFIX": str(config.state_dir / "pycache"),
    }
    assert child_bytecode(config, {}) == {}
    assert child_bytecode(config, {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": "/elsewhere"}) == {}
