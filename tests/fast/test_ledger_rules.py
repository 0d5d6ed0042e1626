"""The release ledger and the shared lock, as pure rules: keys, the previous good release, where a lock is held."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gates.config import Environment, parse
from gates.coordination.ledger import OFF, Entry, Ledger, where
from gates.coordination.lock import lock_scope
from gates.coordination.schema import check_not_exposed, key_of
from gates.core.errors import ConfigError
from gates.release.goodness import Judgement, verdicts


def _entry(serving: int, outcome: str = "passed", gate: str = "passed", ident: str = "", **extra: Any) -> Entry:
    """A release of staging that left ``serving`` serving, its build ``ident`` (default ``build-<serving>``)."""
    ident = ident or f"build-{serving}"
    steps = [{"name": "deploy", "env": "staging", "outcome": "passed", "seconds": 1.0},
             {"name": "gate", "env": "staging", "outcome": gate, "seconds": 1.0}]  # fmt: skip
    releases = {"staging": {"before": serving - 1, "after": serving}}
    builds = {"versions": {str(serving): ident}, "deployed": ident, **extra.pop("builds", {})}
    return Entry("demo", "staging", "deploy", f"r{serving}", outcome, serving=serving, release_after=serving,
                 steps=steps, releases=releases, builds=builds, ended_at=f"2026-01-01T00:0{serving}:00+00:00",
                 **extra)  # fmt: skip


def _judged(entries: list[Entry]) -> Judgement:
    """Judge the ledger ``entries`` (newest first) as `gates status` does: no local record."""
    records = sorted((e.as_record() for e in entries), key=lambda r: r["ended_at"])
    return Judgement(verdicts(records, "staging"), Ledger("staging", entries), "the ledger")


def test_the_lock_key_is_stable_and_differs_per_app_and_environment() -> None:
    """Every machine derives the same advisory lock key from the app's and the environment's names, and no other pair shares it."""
    assert key_of("release lock", "demo", "staging") == key_of("release lock", "demo", "staging")
    keys = {key_of("release lock", app, env) for app in ("demo", "shop") for env in ("staging", "production")}
    assert len(keys) == 4 and all(-(2**63) <= k < 2**63 for k in keys)


def test_the_previous_good_release_skips_the_current_one_and_every_failed_one() -> None:
    """Newest first: 3 serves now, 2 failed its gate, so the previous good release is 1."""
    entries = [_entry(3), _entry(2, "failed", "failed"), _entry(1)]
    assert entries[0].record == "r3"
    assert _judged(entries).previous_good() == 1
    assert _judged([]).previous_good() is None
    stopped_early = Entry(
        "demo", "staging", "deploy", "r4", "failed", steps=[{"name": "preflight", "outcome": "failed"}],
        ended_at="2026-01-01T00:09:00+00:00",
    )  # fmt: skip
    assert _judged([stopped_early, *entries]).previous_good() == 1  # 3 still serves


def test_a_rolled_back_release_is_bad_and_the_rollback_serves_the_earlier_code() -> None:
    """A release rolled back from is bad (the ledger's rollback entry names it, by identity), whatever its gate said;
    the release the rollback made runs release 1's code and is as good as release 1."""
    rolled = Entry("demo", "staging", "rollback", "", "passed", serving=4, ended_at="2026-01-01T00:05:00+00:00",
                   rollback={"env": "staging", "from": 3, "to": 1, "release": 4},
                   builds={"versions": {"3": "build-3", "1": "build-1", "4": "build-1"}})  # fmt: skip
    said = verdicts([rolled.as_record()], "staging")
    assert not said.good("build-3") and "rolled back from on staging" in said.why("build-3")
    judged = _judged([rolled, _entry(3), _entry(2), _entry(1)])
    assert judged.previous_good() == 2  # 4 serves build-1: release 1 is what serves, not a previous one


def test_a_rollback_entry_says_whether_it_switched_to_the_warm_release_or_redeployed() -> None:
    """A rollback that serves its target release itself was a warm switch, one that made a new release a redeploy:
    the history line says which (from the stored path, or from the numbers for entries written before it was)."""
    switched = Entry("demo", "production", "rollback", "", "passed", release_before=2, release_after=1,
                     rollback={"env": "production", "from": 2, "to": 1, "release": 1, "path": "warm switch"})  # fmt: skip
    older = Entry("demo", "production", "rollback", "", "passed", release_before=3, release_after=4,
                  rollback={"env": "production", "from": 3, "to": 1, "release": 4})  # fmt: skip
    assert "release 2 -> 1 (release 1's code, by warm switch)" in switched.line()
    assert "release 3 -> 4 (release 1's code, by redeploy)" in older.line()


def test_the_fly_driver_keeps_no_warm_release_so_its_rollback_is_a_redeploy() -> None:
    """docs/fly.md: keep_previous and keep_previous_for change nothing on Fly: its driver has no warm set to show
    or confirm, so status shows none and every rollback there redeploys."""
    from gates.platforms.fly import FlyPlatform

    assert not hasattr(FlyPlatform, "warm") and not hasattr(FlyPlatform, "release_confirmed")


def test_an_entry_reads_as_one_line_with_its_releases_commit_signer_and_evidence() -> None:
    """A history line says when, what, the outcome, before -> after, the commit, who signed off and where the evidence is."""
    entry = Entry("demo", "production", "deploy", "20260101T000000Z-abc", "rolled_back", ended_at="2026-01-01T00:10:00",
                  commit="0123456789abcdef", release_before=4, release_after=5, serving=6, signed_by="ann",
                  evidence="https://ci.example/runs/1/summary.md")  # fmt: skip
    line = entry.line()
    for part in ("2026-01-01T00:10:00", "deploy", "20260101T000000Z-abc", "rolled_back", "release 4 -> 5 (serving 6)",
                 "commit 0123456789ab", "signed off by ann", "evidence https://ci.example/runs/1/summary.md"):  # fmt: skip
        assert part in line


def test_the_lock_is_held_in_the_database_only_where_the_environment_names_one() -> None:
    """An environment with database_url_env is locked in its database; others keep this machine's lock and say why."""
    assert lock_scope(Environment("p", "fly", "https://x", database_url_env="P_DB")) == "database"
    assert "gates' local cluster on this machine" in lock_scope(Environment("s", "local", "http://127.0.0.1:1"))
    assert "has no database" in lock_scope(Environment("e", "external", "https://x"))


def test_with_the_ledger_off_gates_says_so_instead_of_reading_it(tmp_path: Path) -> None:
    """[record] ledger = false: no database is asked, and the reason is the documented sentence."""
    staging = {"platform": "external", "url": "https://x", "database_url_env": "S_DB"}
    data = {"app": {"name": "demo"}, "environments": {"staging": staging}, "record": {"ledger": False}}
    config = parse(data, tmp_path / "gates.toml")
    assert config.record.ledger is False
    assert where(config, config.environment("staging")) == (None, OFF)
    assert OFF == "no ledger: [record] ledger = false"


def test_an_exposed_gates_schema_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    """gates' own schema among the API's exposed schemas is refused (exit 2), naming the file and the key that exposes it."""
    staging = {"platform": "external", "url": "https://x", "database_url_env": "S_DB"}
    data = {"app": {"name": "demo", "exposed_schemas": ["public", "gates"]}, "environments": {"staging": staging}}
    config = parse(data, tmp_path / "gates.toml")
    with pytest.raises(ConfigError) as refused:
        check_not_exposed(config)
    assert str(tmp_path / "gates.toml") in str(refused.value) and "app.exposed_schemas" in str(refused.value)
    assert "'gates' is gates' own" in str(refused.value)


def test_a_release_ended_before_its_first_step_is_in_the_ledger_of_every_environment_it_locked(tmp_path: Path) -> None:
    """The ledger's environments of a release are those its steps worked on; one interrupted before any step ran
    is written to each environment whose lock it held, never to none."""
    from gates.coordination.ledger import touched
    from gates.evidence.record import Record
    from gates.evidence.state import StepRecord

    record = Record(tmp_path)
    record.state.lock_scope = {"staging": "database", "production": "database"}
    assert touched(record) == ["staging", "production"]
    record.steps.append(StepRecord("preflight", env="production", outcome="skipped"))
    assert touched(record) == ["staging", "production"]
    record.steps.append(StepRecord("migrate", env="staging", outcome="passed"))
    assert touched(record) == ["staging"]


def test_a_release_written_twice_reads_once_with_its_steps() -> None:
    """A killed release is written by the lock's next taker (no steps) and by its record's repair (its steps): the
    ledger lists it once, the entry with steps, in the newest one's place; entries without a record all stay."""
    from gates.coordination.ledger import one_per_record

    repaired = _entry(2, "interrupted", "interrupted")
    lost = Entry("demo", "staging", "deploy", "r2", "interrupted", reason="killed: ...")
    rollbacks = [Entry("demo", "staging", "rollback", "", "passed"), Entry("demo", "staging", "rollback", "", "failed")]
    assert one_per_record([lost, *rollbacks, repaired, _entry(1)]) == [*rollbacks, repaired, _entry(1)]
    assert one_per_record([repaired, lost]) == [repaired]
