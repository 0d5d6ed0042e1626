"""Bad input to the commands: one line naming where and what, exit 2, nothing started or changed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gates.config import Config
from gates.platforms.local import LocalPlatform
from tests.selftests.demo import DEMO, gates


def _one_line_exit_2(result, *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(w in lines[0] for w in words), lines[0]


def test_a_reports_folder_that_cannot_be_written_stops_deploy_before_anything(make_config: Callable[..., Config]):
    """`gates deploy --reports /proc/nonexistent`: one line naming the folder and why, exit 2, no lock file or
    record left behind."""
    config = make_config()
    result = gates("deploy", "--reports", "/proc/nonexistent", config=config.path, timeout=60)
    _one_line_exit_2(result, "--reports /proc/nonexistent", "cannot write records to /proc/nonexistent")
    assert not (config.state_dir / "locks").exists() or not any((config.state_dir / "locks").iterdir())


def test_a_history_limit_beyond_the_bound_is_refused(make_config: Callable[..., Config]):
    """`gates history --limit 9999999999999` is refused naming the bound, not passed to the database."""
    config = make_config()
    result = gates("history", "--env", "staging", "--limit", "9999999999999", config=config.path, timeout=60)
    _one_line_exit_2(result, "--limit: expected 1 to 10000, got 9999999999999")


def test_rollback_to_the_release_now_serving_is_refused(
    make_config: Callable[..., Config], pg_database: str, monkeypatch: pytest.MonkeyPatch
):
    """`gates rollback --to N` where N serves already: "already serving release N", exit 2, no new release."""
    monkeypatch.setenv("INPUTS_DB_URL", pg_database)  # the rollback's lock and ledger live there
    config = make_config(instances=1, database_url_env="INPUTS_DB_URL")
    platform, env = LocalPlatform(config), config.environment("staging")
    platform.deploy(env, str(DEMO))
    platform.deploy(env, str(DEMO))
    result = gates("rollback", "--env", "staging", "--to", "2", config=config.path, timeout=120)
    _one_line_exit_2(result, "--to 2", "staging is already serving release 2")
    assert [r.version for r in platform.releases(env)] == [2, 1] and platform.status(env).release == 2
