"""A team's own write-path molecule: what a visitor types into the sign-up form is what the database keeps.

The demo's /signup form stores a name and an email in public.signups. This molecule types them into the form in
the browser, submits it, reads the row back from the database and compares, field by field; the row it wrote is
deleted when it ends, whatever its verdict (see docs/writing-molecules.md, "A write path"). It runs where the
environment allows writes: staging, not production unless its config says ``writes_allowed = true``.
"""

from __future__ import annotations

import pytest

from gates.gaterun.writepath import stored_as_sent

pytestmark = [pytest.mark.staging]


def test_a_signup_is_stored_as_typed(write_path, verdict):
    """A sign-up submitted through the form is stored in public.signups with the email and name as typed."""
    sent = {"email": write_path.unique_email("Ada.Lovelace"), "name": "Ada Lovelace"}
    write_path.delete_after("public.signups", "email")
    write_path.submit("/signup", sent)
    row = write_path.read_back("select email, name from public.signups where email like %(marked)s", sent)
    verdict(stored_as_sent(sent, row))
