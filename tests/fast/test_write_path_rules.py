"""The write-path kit's pure parts: the stored-as-sent comparison, and where writes are allowed."""

from __future__ import annotations

import dataclasses
import datetime as dt

from gates.config import Environment
from gates.gaterun.writepath import StoredRow, stored_as_sent


def test_a_row_stored_as_sent_passes_and_a_mangled_field_is_named_with_both_values():
    """Each field sent equals its column; one that differs is a problem naming the field, the value sent and the
    value stored, and the measurement's source is where the row was read."""
    sent = {"email": "Ada.Lovelace@gates-0123456789ab.example.com", "name": "Ada"}
    row = StoredRow(dict(sent), "select email, name from public.signups (marker gates-0123456789ab)")
    assert stored_as_sent(sent, row).ok
    mangled = StoredRow({**sent, "email": "Ada.Lovelac@gates-0123456789ab.example.com"}, row.source)
    judged = stored_as_sent(sent, mangled)
    assert not judged.ok and judged.source == row.source
    assert judged.problems == (
        "email: sent 'Ada.Lovelace@gates-0123456789ab.example.com', stored 'Ada.Lovelac@gates-0123456789ab.example.com'",
    )


def test_a_field_not_selected_is_named_and_a_typed_value_matches_by_its_text():
    """A field sent whose column the query did not select fails saying to select it; a text sent matches a stored
    number or date by its text (forms send text), and None never matches."""
    judged = stored_as_sent({"email": "a@b", "age": "42", "day": "2025-01-02"}, {"age": 42, "day": dt.date(2025, 1, 2)})
    assert judged.problems == ("email: the row read back has no column 'email' (select it)",)
    assert not stored_as_sent({"name": "None"}, {"name": None}).ok


def test_writes_are_allowed_everywhere_but_production_unless_the_config_says():
    """writes_allowed unset: on for every environment but production (by name or protected); set: as given."""
    production = Environment("production", "local", "http://127.0.0.1:1")
    staging = Environment("staging", "local", "http://127.0.0.1:2")
    assert staging.allows_writes and not production.allows_writes
    assert not dataclasses.replace(staging, protected=True).allows_writes
    assert dataclasses.replace(production, writes_allowed=True).allows_writes
    assert not dataclasses.replace(staging, writes_allowed=False).allows_writes
