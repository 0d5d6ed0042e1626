"""The write-path molecule kit: fill a form in the browser, read its row back from the database, compare.

A team's molecule for a form that stores what is typed into it (docs/writing-molecules.md, "A write path"):

    def test_a_signup_is_stored_as_typed(write_path, verdict):
        sent = {"email": write_path.unique_email("Ada.Lovelace"), "name": "Ada Lovelace"}
        write_path.delete_after("public.signups", "email")
        write_path.submit("/signup", sent)
        row = write_path.read_back("select email, name from public.signups where email like %(marked)s", sent)
        verdict(stored_as_sent(sent, row))

Each molecule gets a marker of its own (``gates-`` and 12 random hex digits), so two runs, two releases or two
workers never collide; the unique values carry it, the read-back finds the row by it even when the app mangled
the rest of the value, and the rows it marks are deleted when the molecule ends, whatever its verdict. The
molecule writes to the environment's real database, so ``write_path`` skips (saying why) on an environment whose
``writes_allowed`` is off -- production, unless its config turns it on. Every wait is bounded and ends in a
verdict naming what was waited for: a form that does not open or never confirms, a row that never appears.
Registered by ``gates.gaterun.plugin``; the browser (the gate run's one Chromium, gates.gaterun.browser's
``browser``, shared with the browser molecules) is only started by ``submit``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from gates.config import Config, Environment
from gates.core.measurement import Measurement
from gates.core.redact import redact

# psycopg is imported where a database is asked: every gate's collection imports this module (through gates'
# molecules), and psycopg is about 70 ms of CPU, paid by every gate that asks no database.
if TYPE_CHECKING:
    import psycopg

CONFIRMATION = '[role="status"]'  # where a form says it took the submission (a live region, as screen readers hear it)
READ_BACK_TIMEOUT = 5.0  # seconds: an app that confirmed has committed; an asynchronous writer gets this long
SCREENSHOT_TIMEOUT = 5.0  # seconds: a page that has painted at all is captured well within this
_POLL_S = 0.1
MARKER_PREFIX = "gates-"


def fail(reason: str) -> NoReturn:
    pytest.fail(redact(reason), pytrace=False)


class StoredRow(dict[str, Any]):
    """A row read back (column -> value), with where it was read: the query and the marker."""

    def __init__(self, values: Mapping[str, Any], source: str) -> None:
        super().__init__(values)
        self.source = source


def stored_as_sent(sent: Mapping[str, Any], row: Mapping[str, Any]) -> Measurement:
    """Each field sent equals its column in the row read back (a text sent matches a stored number or date by its
    text); a field that differs is named with the value sent and the value stored, a column not selected too."""
    problems = []
    for field, value in sent.items():
        if field not in row:
            problems.append(f"{field}: the row read back has no column {field!r} (select it)")
        elif not _same(value, row[field]):
            problems.append(f"{field}: sent {value!r}, stored {row[field]!r}")
    return Measurement(
        name="stored as sent",
        question="each field the form stored equals what was typed into it",
        observed={field: row.get(field) for field in sent},
        expected=dict(sent),
        ok=not problems,
        source=getattr(row, "source", "the row read back"),
        problems=problems,
    )


def _same(sent: Any, stored: Any) -> bool:
    return bool(sent == stored or (isinstance(sent, str) and stored is not None and str(stored) == sent))


class WritePath:
    """One molecule's writes: its marker, the forms it submits, the rows it reads back and deletes."""

    def __init__(self, request: pytest.FixtureRequest, config: Config, env: Environment, db_url: str) -> None:
        self.request, self.config, self.env, self.db_url = request, config, env, db_url
        self.marker = f"{MARKER_PREFIX}{secrets.token_hex(6)}"
        self._deletes: list[tuple[str, tuple[str, ...]]] = []
        self._conn: psycopg.Connection[Any] | None = None

    # -- values that carry the marker

    def unique_email(self, local: str = "gates") -> str:
        """An address nobody receives mail at (example.com is reserved), unique by the marker in its domain, so
        that a mangled local part still holds it: ``Ada.Lovelace@gates-3f9a1b2c4d5e.example.com``."""
        return f"{local}@{self.marker}.example.com"

    def unique(self, text: str) -> str:
        """``text`` with this molecule's marker after it: ``Ada Lovelace gates-3f9a1b2c4d5e``."""
        return f"{text} {self.marker}"

    @property
    def marked(self) -> str:
        """A LIKE pattern matching any text that holds the marker (``%(marked)s`` in ``read_back``'s query)."""
        return f"%{self.marker}%"

    # -- the rows it leaves: deleted whatever the verdict

    def delete_after(self, table: str, *columns: str) -> None:
        """When the molecule ends, delete the rows of ``table`` ("schema.table") whose ``columns`` (any of them)
        hold the marker: only what this molecule wrote, even a row whose values the app mangled. Register it
        before ``submit``, which refuses to write without it."""
        if not columns:
            fail(
                f"delete_after({table!r}): name the column(s) holding the marker, e.g. delete_after({table!r}, 'email')"
            )
        self._deletes.append((table, columns))

    def delete_marked(self) -> list[str]:
        from psycopg import sql

        said = []
        for table, columns in self._deletes:
            where = sql.SQL(" or ").join(sql.SQL("{} like %(marked)s").format(sql.Identifier(c)) for c in columns)
            statement = sql.SQL("delete from {} where {}").format(sql.Identifier(*table.split(".")), where)
            deleted = self._connection().execute(statement, {"marked": self.marked}).rowcount
            said.append(f"deleted {deleted} row(s) of {table} whose {' or '.join(columns)} held {self.marker}")
        return said

    # -- the form, in the browser

    def submit(
        self, path: str, fields: Mapping[str, str], *, confirmation: str = CONFIRMATION, timeout: float | None = None
    ) -> dict[str, str]:
        """Open ``path`` of the environment in the browser, type each field into the form's input of that name,
        submit it and wait (bounded: ``timeout``, default ``[browser] load_timeout``) until ``confirmation`` (a
        Playwright selector) shows; return what was sent. A form that does not open, lacks a field or never
        confirms fails the molecule naming the URL and what was waited for; so does a submission answered 4xx/5xx."""
        if not self._deletes:
            fail("write_path.submit: register the rows to delete first (write_path.delete_after(table, column))")
        if not any(self.marker in str(v) for v in fields.values()):
            fail(
                f"write_path.submit({path!r}): no field holds this molecule's marker {self.marker}, so its rows "
                "could be neither found nor deleted: use write_path.unique_email() or write_path.unique()"
            )
        from playwright.sync_api import Error as PlaywrightError

        browser = self.request.getfixturevalue("browser")
        bound = timeout if timeout is not None else self.config.browser.load_timeout
        url = self.env.url.rstrip("/") + "/" + path.lstrip("/")
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(bound * 1000)
        page = context.new_page()
        errors: list[str] = []
        page.on("response", lambda r: errors.append(_answered(r)) if _an_error_to_the_form(r) else None)
        try:
            _fill_and_submit(page, url, fields, confirmation, bound, errors)
            self._picture(page, "the form after submitting")
        except PlaywrightError as exc:
            self._picture(page, "the form when it failed")
            fail(f"the form at {url}: the browser got {_no_answer(exc, bound)}")
        except pytest.fail.Exception:
            self._picture(page, "the form when it failed")
            raise
        finally:
            with contextlib.suppress(PlaywrightError):
                context.close()
        return dict(fields)

    def _picture(self, page: Any, name: str) -> None:
        from playwright.sync_api import Error as PlaywrightError

        with contextlib.suppress(PlaywrightError):
            png = page.screenshot(timeout=SCREENSHOT_TIMEOUT * 1000)
            self.request.getfixturevalue("attach_image")(name, png)

    # -- the row, from the database

    def read_back(self, query: str, sent: Mapping[str, Any], *, timeout: float = READ_BACK_TIMEOUT) -> StoredRow:
        """The one row ``query`` finds, with the values ``sent`` and ``%(marked)s`` (the marker's LIKE pattern) as
        its parameters, polled until it appears (bounded by ``timeout``); no row, or several, fails the molecule
        naming the query and the marker. Every statement is bounded by ``[database]`` statement/lock timeouts."""
        import psycopg

        params = {**sent, "marked": self.marked}
        shown = " ".join(query.split())
        deadline = time.monotonic() + timeout
        while True:
            try:
                cursor = self._connection().execute(query, params)
                rows = cursor.fetchall()
            except psycopg.Error as exc:
                fail(f"read back {shown!r} (marker {self.marker}): {exc}")
            if rows or time.monotonic() >= deadline:
                break
            time.sleep(_POLL_S)  # polling the row itself, the readiness signal, within the bound
        if not rows:
            fail(f"no row stored: {shown!r} found nothing within {timeout:g}s (marker {self.marker})")
        if len(rows) > 1:
            fail(f"{len(rows)} rows stored: {shown!r} found more than one (marker {self.marker})")
        columns = [c.name for c in cursor.description or ()]
        return StoredRow(dict(zip(columns, rows[0], strict=True)), f"{shown} (marker {self.marker})")

    def _connection(self) -> psycopg.Connection[Any]:
        import psycopg

        from gates.database.waits import BoundedCursor, connect_timeout, set_bounds  # loads psycopg too

        if self._conn is None:
            waits = self.config.database
            bound = connect_timeout(waits)
            try:
                self._conn = psycopg.connect(
                    self.db_url, autocommit=True, connect_timeout=bound, cursor_factory=BoundedCursor,
                    application_name="gates write-path molecule",
                )  # fmt: skip
            except psycopg.Error as exc:
                fail(f"cannot connect to the {self.env.name} database within {bound}s: {exc}")
            set_bounds(self._conn, waits.lock_timeout, waits.statement_timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _fill_and_submit(
    page: Any, url: str, fields: Mapping[str, str], confirmation: str, bound: float, errors: list[str]
) -> None:
    """The visit itself: open, fill, submit, wait for the confirmation; each step failing the molecule in words."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        opened = page.goto(url, wait_until="load")
    except PlaywrightError as exc:
        fail(f"the form at {url} did not open: {_no_answer(exc, bound)}")
    if opened is not None and opened.status >= 400:
        fail(f"the form at {url} did not open: HTTP {opened.status}")
    for name, value in fields.items():
        field = page.locator(f"[name={json.dumps(name)}]").first
        if not field.count():
            named = page.eval_on_selector_all("form [name]", "els => els.map(e => e.getAttribute('name'))")
            fail(f"the form at {url} has no field named {name!r} (its fields: {', '.join(named) or 'none'})")
        field.fill(value)
    if page.locator(confirmation).first.is_visible():
        fail(f"the form at {url} shows {confirmation} before it was submitted: it cannot confirm a submission")
    form = page.locator("form").filter(has=page.locator(f"[name={json.dumps(next(iter(fields)))}]")).first
    button = form.locator('[type="submit"]').first
    errors.clear()  # what answered before the submission is not the submission's answer
    if button.count():
        button.click()
    else:
        form.evaluate("f => f.requestSubmit()")
    deadline = time.monotonic() + bound
    while not errors:
        with contextlib.suppress(PlaywrightError):  # a page between two documents has nothing to look at yet
            if page.locator(confirmation).first.is_visible():
                return
        if time.monotonic() >= deadline:
            fail(
                f"the form at {url} never confirmed: waited {bound:g}s after submitting {', '.join(fields)} "
                f"for {confirmation} to show"
            )
        page.wait_for_timeout(_POLL_S * 1000)  # Playwright's own pump: the answer arrives while we poll
    fail(f"the form at {url}: its submission was answered {errors[0]}")


def _an_error_to_the_form(response: Any) -> bool:
    """An error answer to what the form sent (a POST, a fetch of the action) or to a page it led to; a missing
    image or script of the page is the browser gate's concern, not the write path's."""
    request = response.request
    return bool(response.status >= 400 and (request.method != "GET" or request.is_navigation_request()))


def _answered(response: Any) -> str:
    return f"HTTP {response.status} ({response.request.method} {response.url})"


def _no_answer(exc: Exception, seconds: float) -> str:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if isinstance(exc, PlaywrightTimeout):
        return f"no answer within {seconds:g}s"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@pytest.fixture
def write_path(request: pytest.FixtureRequest, gates_config: Config, environment: Environment) -> Iterator[WritePath]:
    """The write-path kit of one molecule: its marker, ``submit`` (the form in the browser), ``read_back`` (the
    row from the database) and ``delete_after`` (the rows it marked, deleted when it ends whatever its verdict).
    Skips, saying why, where the environment does not allow writes (``writes_allowed``, off on production)."""
    if not environment.allows_writes:
        pytest.skip(
            f"{environment.name} does not allow writes: set [environments.{environment.name}] writes_allowed = true "
            "to run write-path molecules there (off by default on production)"
        )
    db_url = request.getfixturevalue("db_url")  # skips, saying why, without a database
    kit = WritePath(request, gates_config, environment, db_url)
    try:
        yield kit
    finally:
        try:
            said = kit.delete_marked()
        finally:
            kit.close()
        if said:
            request.node.add_report_section("teardown", "gates write path", "\n".join(said))
