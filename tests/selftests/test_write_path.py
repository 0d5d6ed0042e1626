"""The write-path kit (gates/gaterun/writepath.py) and its example molecule (examples/molecules/test_signup_write.py).

The example runs as a team runs it, `pytest -m staging` in its own folder, against the demo's sign-up form
(the Python stand-in started here by hand, the React Router app built once per session) on a migrated Postgres
database: healthy, it passes; with the corrupted-write fault it fails naming the field and both values. The
kit's own failure modes run against a small form server whose answers are chosen per path. After every run
the database holds no row the molecules wrote.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gates.config import load
from gates.gaterun.writepath import WritePath
from tests.selftests.blackhole import black_hole
from tests.selftests.dashboard import release_with, serve
from tests.selftests.demo import DEMO, REPO, demo_copy, junit_results, running_demo, write_config
from tests.selftests.httpfixtures import answering

__all__ = ["black_hole"]  # a fixture of this module

DB_ENV = "GATES_SELFTEST_WRITE_PATH_DB"
EXAMPLE = REPO / "examples" / "molecules" / "test_signup_write.py"
MOLECULE = "test_a_signup_is_stored_as_typed"


@pytest.fixture
def database(pg_database: str) -> str:
    """A fresh database with the demo's migrations applied (the stand-in's and the React app's are the same)."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        for migration in sorted((DEMO / "supabase" / "migrations").glob("*.sql")):
            conn.execute(migration.read_text().encode())
    return pg_database


def signups(database: str) -> list[tuple[str, str]]:
    with psycopg.connect(database, autocommit=True) as conn:
        return [(str(e), str(n)) for e, n in conn.execute("select email, name from public.signups").fetchall()]


def stand_in(database: str, folder: Path, faults: dict[str, Any] | None = None) -> contextlib.AbstractContextManager[str]:
    """The Python demo (a copy, with ``faults``) started by hand on a free port against ``database``; its URL."""
    return running_demo(database, folder / "app.log", demo_copy(folder, faults))


def team_run(
    folder: Path, url: str, database: str, molecules: Path, marker: str = "staging", load_timeout: float = 15.0
) -> tuple[dict[str, str], str]:
    """`pytest -m <marker>` in a team folder holding ``molecules``, against ``url`` and ``database`` (the environment
    named ``marker``, deployed by something else); (name -> 'passed' or the failure's message, the output)."""
    team = folder / "team"
    team.mkdir(parents=True)
    shutil.copy(molecules, team)
    environment = f'platform = "external"\nurl = "{url}"\ndatabase_url_env = "{DB_ENV}"\n'
    (folder / "gates.toml").write_text(
        f'[app]\nname = "write-path"\nsource = {json.dumps(str(DEMO))}\nhealth_paths = ["/health"]\n\n'
        f"[environments.{marker}]\n{environment}\n"
        f"[browser]\nload_timeout = {load_timeout}\n"
    )
    junit = folder / "team.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(team), "-m", marker, "-k", "signup or kit", "-p", "no:cacheprovider",
         f"--gates-config={folder / 'gates.toml'}", f"--junitxml={junit}", "-q", "-rs"],
        cwd=folder, capture_output=True, text=True, timeout=300, env={**os.environ, DB_ENV: database},
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert junit.is_file(), output
    return junit_results(junit), output


def test_the_example_passes_on_the_healthy_stand_in_and_leaves_no_row(database, tmp_path):
    """The sign-up typed into the stand-in's form is read back as typed: the example passes, and the row it wrote
    is deleted when it ends."""
    with stand_in(database, tmp_path / "app") as url:
        results, output = team_run(tmp_path / "run", url, database, EXAMPLE)
    assert results == {MOLECULE: "passed"}, output
    assert signups(database) == []


def test_the_example_fails_on_a_corrupted_write_naming_the_field_and_both_values(database, tmp_path):
    """The stand-in storing the email with a character dropped (yet confirming it) fails the example by name,
    saying `email: sent '<typed>', stored '<kept>'`; the corrupted row is deleted all the same."""
    with stand_in(database, tmp_path / "app", {"corrupt_signup_email": True}) as url:
        results, output = team_run(tmp_path / "run", url, database, EXAMPLE)
    said = results[MOLECULE]
    found = re.search(
        r"email: sent 'Ada\.Lovelace@(gates-[0-9a-f]{12})\.example\.com', stored 'Ada\.Lovelac@\1\.example\.com'", said
    )
    assert found, said + output
    assert "name: sent" not in said  # only the field that differs is named
    assert signups(database) == []


# ---------------------------------------------------------------------------
# The kit's own failure modes, against a form server whose answers are chosen per path

_FORM = (
    '<!doctype html><title>form</title><form method="post" action="{path}">'
    '<input name="email"><input name="name"><button type="submit">Send</button></form>'
)
_CONFIRMED = '<!doctype html><title>thanks</title><p role="status">Thanks</p>'


@contextlib.contextmanager
def form_server() -> Iterator[str]:
    """GET any path: a form posting to it. POST /silent: the form again (no confirmation); /liar: a confirmation,
    yet nothing stored; any other path: HTTP 500."""

    def answer(method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        form = _FORM.format(path=path)
        page = {"/silent": form, "/liar": _CONFIRMED}.get(path) if method == "POST" else form
        return (200, "text/html", page.encode()) if page else (500, "text/html", b"<!doctype html><p>server error</p>")

    with answering(answer) as url:
        yield url


_KIT_MOLECULES = """
import pytest

pytestmark = [pytest.mark.staging, pytest.mark.production]


def test_kit_never_confirms(write_path):
    write_path.delete_after("public.signups", "email")
    write_path.submit("/silent", {"email": write_path.unique_email("ada"), "name": "Ada"})


def test_kit_no_row(write_path):
    write_path.delete_after("public.signups", "email")
    sent = write_path.submit("/liar", {"email": write_path.unique_email("ada"), "name": "Ada"})
    write_path.read_back("select email from public.signups where email like %(marked)s", sent, timeout=1)


def test_kit_error_answer(write_path):
    write_path.delete_after("public.signups", "email")
    write_path.submit("/broken", {"email": write_path.unique_email("ada")})


def test_kit_missing_field(write_path):
    write_path.delete_after("public.signups", "email")
    write_path.submit("/liar", {"phone": write_path.unique("555")})


def test_kit_nothing_to_delete(write_path):
    write_path.submit("/liar", {"email": write_path.unique_email("ada")})


def test_kit_no_marker(write_path):
    write_path.delete_after("public.signups", "email")
    write_path.submit("/liar", {"email": "ada@example.com"})
"""


def test_the_kits_failures_each_name_what_was_waited_for(database, tmp_path):
    """A form that never confirms names the URL, the fields and the confirmation waited for; a confirmed form
    whose row never appears names the query and the marker; an error answer, a missing field, a submission
    without a cleanup or without the marker each fail saying so (the last two before anything is written)."""
    molecules = tmp_path / "test_kit_molecules.py"
    molecules.write_text(_KIT_MOLECULES)
    with form_server() as url:
        results, output = team_run(tmp_path / "run", url, database, molecules, load_timeout=5.0)
    expected = {
        "test_kit_never_confirms": f"the form at {url}/silent never confirmed: waited 5s after submitting email, name "
        'for [role="status"] to show',
        "test_kit_no_row": "no row stored: 'select email from public.signups where email like %(marked)s' found "
        "nothing within 1s (marker gates-",
        "test_kit_error_answer": f"the form at {url}/broken: its submission was answered HTTP 500 (POST {url}/broken)",
        "test_kit_missing_field": f"the form at {url}/liar has no field named 'phone' (its fields: email, name)",
        "test_kit_nothing_to_delete": "register the rows to delete first (write_path.delete_after(table, column))",
        "test_kit_no_marker": "no field holds this molecule's marker gates-",
    }
    for name, message in expected.items():
        assert message in results[name], f"{name}: {results[name]}\n{output}"
    assert signups(database) == []


def test_the_kits_connection_is_bounded_by_the_database_statement_timeout(black_hole, tmp_path):
    """Against a database that accepts and never answers, the kit's read-back fails within `[database]
    statement_timeout` (here 3s, not a bound of its own), naming the environment and that bound."""
    config = load(write_config(tmp_path, environments={"staging": {}}, database={"statement_timeout": 3.0}))
    silent = f"postgresql://gates@127.0.0.1:{black_hole.rsplit(':', 1)[1]}/demo"
    kit = WritePath(None, config, config.environment("staging"), silent)  # type: ignore[arg-type]  # no pytest request needed
    with pytest.raises(pytest.fail.Exception, match=r"^cannot connect to the staging database within 3s: "):
        kit.read_back("select 1", {})


def test_production_runs_no_write_path_molecule_unless_its_config_allows_writes(database, tmp_path):
    """On production (writes_allowed unset) every write-path molecule is skipped, saying why and how to allow it."""
    molecules = tmp_path / "test_kit_molecules.py"
    molecules.write_text(_KIT_MOLECULES)
    with form_server() as url:
        results, output = team_run(tmp_path / "run", url, database, molecules, marker="production")
    assert len(results) == 6 and all(
        r.startswith("skipped: production does not allow writes") for r in results.values()
    ), output
    assert "production does not allow writes: set [environments.production] writes_allowed = true" in output, output


_ONE_BROWSER = """
seen = []


def one_browser(browser):
    seen.append(browser)
    assert len({id(b) for b in seen}) == 1, f"{len({id(b) for b in seen})} browsers launched"
    assert browser.is_connected()


def test_a_browser_molecule(browser):
    one_browser(browser)


def test_a_write_path_asks_for_the_browser_by_name(request):
    one_browser(request.getfixturevalue("browser"))


def test_another_browser_molecule(browser):
    one_browser(browser)
"""


def test_the_kits_browser_is_the_gate_runs_one_chromium(tmp_path):
    """A molecule that asks for ``browser`` by name (as the kit's ``submit`` does: not parametrized by the browser)
    between two browser molecules (``[chromium]``) gets the same Chromium as they do: it is launched once per run,
    not closed and launched again as the molecules alternate."""
    (tmp_path / "test_one_browser.py").write_text(_ONE_BROWSER)
    junit = tmp_path / "one.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "test_one_browser.py", "-p", "no:cacheprovider", f"--junitxml={junit}", "-q"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert junit.is_file(), done.stdout + done.stderr
    assert set(junit_results(junit).values()) == {"passed"}, done.stdout + done.stderr


# ---------------------------------------------------------------------------
# The React Router app (examples/dashboard), built once per session


@pytest.mark.skipif(not (shutil.which("node") and shutil.which("npm")), reason="needs node and npm")
@pytest.mark.xdist_group("dashboard-app")  # the worker that built the app for its own tests
def test_the_example_judges_the_react_router_apps_form_healthy_and_corrupted(built_app, database, tmp_path):
    """The same example against the React Router app's /signup (its action stores the row): healthy it passes;
    with its corrupted-write fault it fails naming the email sent and the email stored; no row is left."""
    with serve(built_app, tmp_path / "healthy.log", {"DATABASE_URL": database}) as server:
        results, output = team_run(tmp_path / "healthy", server.url, database, EXAMPLE)
    assert results == {MOLECULE: "passed"}, output + server.output()
    faulty = release_with(built_app, tmp_path, {"corrupt_signup_email": True})
    with serve(faulty, tmp_path / "faulty.log", {"DATABASE_URL": database}) as server:
        results, output = team_run(tmp_path / "faulty", server.url, database, EXAMPLE)
    said = results[MOLECULE]
    assert re.search(
        r"email: sent 'Ada\.Lovelace@(gates-[0-9a-f]{12})\.example\.com', stored 'Ada\.Lovelac@\1\.", said
    ), said + output
    assert signups(database) == []
