"""A local environment's secrets: set, listed by digest, unset; an empty value is refused, not stored."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gates.core.errors import UsageError
from gates.platforms.secrets import SecretStore, digest


def test_set_list_unset(tmp_path: Path) -> None:
    """A secret is stored 0600, listed by its digest only, and gone after unset."""
    store = SecretStore(tmp_path)
    store.set("API_TOKEN", "s3cret-canary-value")
    assert [(s.name, s.digest) for s in store.list()] == [("API_TOKEN", digest("s3cret-canary-value"))]
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.unset("API_TOKEN") and store.list() == []
    assert not store.unset("API_TOKEN")


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_an_empty_value_is_refused_and_nothing_is_stored(tmp_path: Path, value: str) -> None:
    """An empty value (an empty stdin) is a usage error naming the secret; the store is unchanged."""
    store = SecretStore(tmp_path)
    with pytest.raises(UsageError, match="secret API_TOKEN: the value is empty; nothing was stored"):
        store.set("API_TOKEN", value)
    assert not store.path.exists()


def test_a_secret_urls_token_is_masked_where_it_appears_without_the_url(tmp_path: Path) -> None:
    """A webhook URL is a secret, and so is each distinctive part of it: the token in its path or query is masked
    in a 404 line that carries the path alone; ordinary words of the path, and a database URL's name, stay."""
    from gates.core.redact import keep, keep_file, redact, register_secret

    register_secret("https://hooks.example.com/services/hooks/tok-Path88xq?sig=Qs9-sig-value")
    register_secret("postgresql://u:pw-Db7788@127.0.0.1:5432/gates_staging")
    line = "POST /services/hooks/tok-Path88xq?sig=Qs9-sig-value 404; database gates_staging; pw-Db7788"
    assert redact(line) == "POST /services/hooks/***?sig=*** 404; database gates_staging; ***"
    written = keep(tmp_path / "logs" / "a.log", line)
    assert written.read_text() == redact(line)
    child = tmp_path / "report.xml"
    child.write_text(f"<failure>{line}</failure>")
    assert keep_file(child) and "tok-Path88xq" not in child.read_text() and not keep_file(child)
