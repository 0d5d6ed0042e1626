"""A local environment's secrets: set, listed by digest, unset; an empty value is refused, not stored."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gates.errors import UsageError
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
