"""Measurements, redaction and the release record: evidence that says what happened and leaks nothing."""

from __future__ import annotations

import json

import pytest

from gates.core.errors import GatesError
from gates.core.measurement import Measurement
from gates.core.redact import distinctive, redact, register_secret
from gates.evidence.record import Record, latest


def test_a_failed_measurement_reads_value_condition_source_and_time():
    """A failure message says the source, what was observed, what was expected and when."""
    m = Measurement("health", "answers 200", observed=503, expected=200, ok=False, source="GET http://127.0.0.1:8081/health")
    assert m.summary().startswith("health: FAILED: GET http://127.0.0.1:8081/health -> 503, expected 200 (")
    assert m.summary().endswith("Z)")


def test_url_passwords_and_registered_secrets_are_masked():
    """A URL's password and any registered secret value are replaced, wherever they stand in the text."""
    register_secret("tok-REDACT-ME-123")
    text = "postgresql://postgres:s3cr3t@127.0.0.1:5432/db and tok-REDACT-ME-123 and password=hunter22"
    clean = redact(text)
    assert "s3cr3t" not in clean and "tok-REDACT-ME-123" not in clean and "hunter22" not in clean
    assert "postgresql://postgres:***@127.0.0.1:5432/db" in clean


def test_a_url_password_is_masked_whatever_runs_before_its_scheme():
    """A URL's password is masked when its scheme follows a long run of letters, digits or +.- (a base64 blob of an
    HTML report, a digit-led word), and the text around it is kept as it was."""
    for before in ("", "x" * 500, "a" + "1" * 40, "AAAA+/" * 100 + "9z", "1+"):
        text = f"<img src=data:{before}postgresql://app:pw-Zq81x@db:5432/app> end"
        assert redact(text) == f"<img src=data:{before}postgresql://app:***@db:5432/app> end"
    assert redact("no url " + "Qk1x+9" * 5000) == "no url " + "Qk1x+9" * 5000


def test_a_common_word_password_is_masked_only_where_it_is_a_password():
    """A database password `postgres` is masked in URLs, connection strings and PGPASSWORD=, never in paths or
    user names; a distinctive password is masked wherever it appears."""
    register_secret("postgresql://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable")
    assert not distinctive("postgres") and distinctive("canary-pw-Ev81q")
    text = (
        "could not open /var/lib/postgresql/15/main: postgresql://postgres:postgres@127.0.0.1:5432/app "
        "host=127.0.0.1 user=postgres password=postgres dbname=app; PGPASSWORD=postgres pg_dump"
    )
    assert redact(text) == (
        "could not open /var/lib/postgresql/15/main: postgresql://postgres:***@127.0.0.1:5432/app "
        "host=127.0.0.1 user=postgres password=*** dbname=app; PGPASSWORD=*** pg_dump"
    )
    register_secret("postgresql://app:canary-pw-Ev81q@db.example:5432/app")
    assert redact("auth failed with canary-pw-Ev81q") == "auth failed with ***"


def test_keywords_alone_never_mask_ordinary_text():
    """`passwd:` in a path's error, or the word secret in a sentence, leave what follows; assignments and
    Authorization credentials are masked."""
    for text in ("open /etc/passwd: permission denied", "secret: the word is out", "token expired at 12:00"):
        assert redact(text) == text
    assert redact("DB_PASSWORD=hunter2x --api-key=k1 Authorization: Bearer abc.def") == (
        "DB_PASSWORD=*** --api-key=*** Authorization: Bearer ***"
    )


def test_a_measurement_redacts_its_source_at_construction():
    """A secret in a Measurement's source or problems never survives into its dict or message."""
    m = Measurement("db", "q", 1, 1, False, source="postgresql://u:pw-canary-1@h/db", problems=["postgresql://u:pw-canary-1@h/db down"])
    assert "pw-canary-1" not in json.dumps(m.as_dict()) + m.explain()


def test_the_record_is_written_after_every_step(tmp_path):
    """record.json and summary.md reflect each step as it ends, failed ones with their reason."""
    record = Record(tmp_path, commit="abc123")
    with record.step("migrate", "staging") as step:
        step.detail = "applied 2"
    with pytest.raises(GatesError), record.step("deploy", "staging"):
        raise GatesError("instance i2 never became healthy")
    record.skip("gate", "staging", "not run: deploy staging failed")
    record.finish("failed", "deploy staging failed")
    data = json.loads((record.dir / "record.json").read_text())
    assert [(s["name"], s["outcome"]) for s in data["steps"]] == [("migrate", "passed"), ("deploy", "failed"), ("gate", "skipped")]
    assert data["steps"][1]["detail"] == "instance i2 never became healthy"
    assert data["outcome"] == "failed" and data["commit"] == "abc123"
    summary = (record.dir / "summary.md").read_text()
    assert "| deploy | staging | failed |" in summary and "## Foreground Proof" in summary
    assert latest(tmp_path) == record.dir
