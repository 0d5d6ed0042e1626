"""Feature flags false in production, from the local platform's secrets, the app's endpoint or digests;
and `gates secrets set/list` on the local platform."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gates import config as config_mod
from gates.checks.flags import FALSE_SPELLINGS, flags_false, is_false
from gates.gaterun.flagsources import from_digests, from_endpoint
from gates.gaterun.runner import run_gate
from gates.platforms.base import Secret
from gates.platforms.secrets import digest
from tests.selftests.demo import REPO, gates, junit_results, write_config

CANARY = "enabled-canary-Zq81x"  # a value that is not false, and must appear nowhere
MOLECULE = "test_every_flag_is_false_in_production"


def flags_config(folder: Path, flags: str = 'names = ["ANALYTICS_REAL_DATA"]') -> Path:
    path = write_config(folder, environments={"production": {}})
    path.write_text(path.read_text() + f"\n[flags]\n{flags}\n")
    return path


def set_secret(config: Path, assignment: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gates.cli", "--config", str(config), "secrets", "set", "--env", "production", assignment],
        cwd=REPO, capture_output=True, text=True, input=stdin, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("value", [*FALSE_SPELLINGS, " FALSE ", "Off", False, 0])
def test_documented_false_spellings_are_false(value):
    """false, 0, off, no, disabled (any case, trimmed) and JSON false/0 are false."""
    assert is_false(value)


@pytest.mark.parametrize("value", ["true", "1", "yes", "", "flase", True, 1, None])
def test_everything_else_is_not_false(value):
    """true, 1, yes, an empty string, a typo, JSON true/1 and null are not false."""
    assert not is_false(value)


def test_a_missing_flag_fails_naming_it():
    """A configured flag its source does not have fails (fail closed)."""
    m = flags_false({"A": True}, ["A", "B"], "src")
    assert not m.ok and m.problems == ("B: missing from src (fail closed)",)


def test_a_flag_set_to_true_in_production_fails_the_flags_molecule_naming_it_not_its_value(tmp_path):
    """`gates secrets set` a flag to a true value: the flags molecule fails naming the flag; the value is nowhere."""
    config = flags_config(tmp_path)
    cfg = config_mod.load(config)
    env = cfg.environment("production")
    (tmp_path / "out" / "logs").mkdir(parents=True)

    result = set_secret(config, "ANALYTICS_REAL_DATA", stdin=CANARY + "\n")
    assert result.returncode == 0 and CANARY not in result.stdout + result.stderr
    run_gate(cfg, env, "production and flags", tmp_path / "out", "bad")
    message = junit_results(tmp_path / "out" / "bad.xml")[MOLECULE]
    assert "ANALYTICS_REAL_DATA: is not false in production (value not shown)" in message
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path

    assert set_secret(config, "ANALYTICS_REAL_DATA=off").returncode == 0
    run_gate(cfg, env, "production and flags", tmp_path / "out", "good")
    assert junit_results(tmp_path / "out" / "good.xml")[MOLECULE] == "passed"


def test_a_prefix_checks_every_secret_starting_with_it(tmp_path):
    """With prefix = FEATURE_, every FEATURE_* secret is a flag: one set to yes fails naming it."""
    config = flags_config(tmp_path, 'prefix = "FEATURE_"')
    set_secret(config, "FEATURE_A=false")
    set_secret(config, "FEATURE_B=yes")
    set_secret(config, "OTHER=yes")
    cfg = config_mod.load(config)
    (tmp_path / "out" / "logs").mkdir(parents=True)
    run_gate(cfg, cfg.environment("production"), "production and flags", tmp_path / "out", "g")
    message = junit_results(tmp_path / "out" / "g.xml")[MOLECULE]
    assert "FEATURE_B: is not false in production" in message and "1 of 2 false" in message
    assert "FEATURE_A:" not in message and "OTHER" not in message


def test_secrets_are_stored_0600_and_listed_by_name_and_digest_only(tmp_path):
    """`gates secrets set` writes 0600 in the environment's state folder; `list` shows names and digests, never values."""
    config = flags_config(tmp_path)
    assert set_secret(config, f"API_KEY={CANARY}").returncode == 0
    store = tmp_path / "state" / "production" / "secrets.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    listed = gates("secrets", "list", "--env", "production", config=config)
    assert listed.returncode == 0 and listed.stdout == f"API_KEY\t{digest(CANARY)}\n" and CANARY not in listed.stdout
    bad = set_secret(config, "9BAD=x")
    assert bad.returncode == 2 and "secret name '9BAD'" in bad.stderr


def test_the_endpoint_source_reads_a_json_path_and_fails_closed():
    """Flags under `flags` in the app's JSON are judged, with every flag of it named with the prefix; a non-200
    answer or a wrong shape leaves every flag missing."""

    def app(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/flags":
            return httpx.Response(200, json={"flags": {"A": False, "B": True}})
        return httpx.Response(404)

    with httpx.Client(transport=httpx.MockTransport(app), base_url="http://app") as client:
        assert from_endpoint(client, "/api/flags", "flags", ["A", "B", "C"]) == ({"A": True, "B": False, "C": None}, [])
        verdicts, problems = from_endpoint(client, "/other", "flags", ["A"])
        assert verdicts == {"A": None} and problems == ["GET /other: HTTP 404, expected 200"]
        assert from_endpoint(client, "/api/flags", "data.flags", ["A"])[1] == ["GET /api/flags: no object at 'data.flags'"]
        assert from_endpoint(client, "/api/flags", "flags", ["C"], prefix="B") == ({"C": None, "B": False}, [])


def test_digests_are_judged_against_a_calibration_secret_known_to_be_false():
    """Fly shows digests only: a flag whose digest equals the calibration secret's is false; without the calibration secret nothing is judged."""
    secrets = [Secret("FLAG_FALSE_REFERENCE", "d-false"), Secret("A", "d-false"), Secret("B", "d-true")]
    assert from_digests(secrets, "FLAG_FALSE_REFERENCE", ["A", "B", "C"]) == ({"A": True, "B": False, "C": None}, [])
    verdicts, problems = from_digests(secrets[1:], "FLAG_FALSE_REFERENCE", ["A"])
    assert verdicts == {"A": None} and "calibration secret FLAG_FALSE_REFERENCE is missing" in problems[0]


def test_no_flags_configured_skips_the_molecule(tmp_path):
    """A config without [flags] names or prefix has no flag to check: the molecule is skipped, saying so."""
    path = write_config(tmp_path, environments={"production": {}})
    cfg = config_mod.load(path)
    (tmp_path / "out" / "logs").mkdir(parents=True)
    outcome = run_gate(cfg, cfg.environment("production"), "production and flags", tmp_path / "out", "g")
    results = junit_results(tmp_path / "out" / "g.xml")
    assert outcome.passed and results == {MOLECULE: "skipped: no [flags] names or prefix configured: no flag to check"}
