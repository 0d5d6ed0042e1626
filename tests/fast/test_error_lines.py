"""The first error line of a process's output: the cause a crashed instance printed, never the runtime's footer.

The outputs are what the runtimes print (Node 20 and Python 3.11 here), copied as they are."""

from __future__ import annotations

import pytest

from gates.platforms.errorlines import LONGEST, first_error

NODE_THROW = """\
> hotdash@1.0.0 start
> node server.js

/app/server.js:2
  throw new Error("boot: SESSION_SECRET is not set");
  ^

Error: boot: SESSION_SECRET is not set
    at Object.<anonymous> (/app/server.js:2:9)
    at Module._compile (node:internal/modules/cjs/loader:1521:14)
    at node:internal/main/run_main_module:28:49

Node.js v20.20.2
npm error Lifecycle script `start` failed with error:
npm error code 1
"""

NODE_MISSING_PACKAGE = """\
node:internal/modules/esm/resolve:873
  throw new ERR_MODULE_NOT_FOUND(packageName, fileURLToPath(base), null);
        ^

Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'only-here' imported from /app/server.js
    at packageResolve (node:internal/modules/esm/resolve:873:9) {
  code: 'ERR_MODULE_NOT_FOUND'
}

Node.js v20.20.2
"""

NODE_REJECTION = """\
node:internal/process/promises:389
      new UnhandledPromiseRejection(reason);
      ^

UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a \
catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason "nope".
    at throwUnhandledRejectionsMode (node:internal/process/promises:389:7) {
  code: 'ERR_UNHANDLED_REJECTION'
}

Node.js v20.20.2
"""

PYTHON_CHAINED = """\
2026-12-07T10:00:00+0000 INFO uvicorn.error: Started server process [12]
Traceback (most recent call last):
  File "/app/app.py", line 3, in <module>
    secret = os.environ["SESSION_SECRET"]
             ~~~~~~~~~~^^^^^^^^^^^^^^^^^^
KeyError: 'SESSION_SECRET'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/app/app.py", line 5, in <module>
    raise RuntimeError("boot: no secret")
RuntimeError: boot: no secret
"""


@pytest.mark.parametrize(
    ("output", "cause"),
    [
        (NODE_THROW, "Error: boot: SESSION_SECRET is not set"),
        (NODE_MISSING_PACKAGE, "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'only-here' imported from /app/server.js"),
        (NODE_REJECTION, NODE_REJECTION.splitlines()[4].strip()),
        (PYTHON_CHAINED, "KeyError: 'SESSION_SECRET'"),
        ('TypeError [ERR_INVALID_ARG_TYPE]: The "path" argument must be of type string\n',
         'TypeError [ERR_INVALID_ARG_TYPE]: The "path" argument must be of type string'),
        ('Exception in thread "main" java.lang.IllegalStateException: no port\n\tat App.main(App.java:3)\n',
         'Exception in thread "main" java.lang.IllegalStateException: no port'),
        ("goroutine 1 [running]:\npanic: listen tcp: address already in use\n", "panic: listen tcp: address already in use"),
        ("thread 'main' panicked at src/main.rs:4:5:\nno DATABASE_URL\n", "thread 'main' panicked at src/main.rs:4:5:"),
        ('2026-12-07 10:00:00 FATAL: password authentication failed for user "app"\n',
         '2026-12-07 10:00:00 FATAL: password authentication failed for user "app"'),
        ("[app] starting\nUncaught SyntaxError: Unexpected token '<'\n", "Uncaught SyntaxError: Unexpected token '<'"),
        ("Error\n    at Object.<anonymous> (/app/x.js:1:7)\n", "Error"),
    ],
)  # fmt: skip
def test_the_first_line_stating_a_cause_is_quoted(output: str, cause: str) -> None:
    """Node's thrown error (not its echoed source line, its stack or `Node.js v20`), an error code in brackets,
    an unhandled rejection, a Python traceback's last line (the first of a chain: the root cause), the JVM,
    Go and Rust panics, FATAL, an uncaught error in a log line: each quoted as printed."""
    assert first_error(output) == cause


def test_an_exception_beats_an_error_logged_before_it() -> None:
    """A logged ERROR is a cause only when nothing shaped like an exception or a crash follows: an app often
    logs a recoverable error before the one that kills it."""
    logged = "2026-12-07T10:00:00Z ERROR db: connection refused, retrying\n"
    assert first_error(logged + NODE_THROW) == "Error: boot: SESSION_SECRET is not set"
    assert first_error(logged + "giving up\n") == "2026-12-07T10:00:00Z ERROR db: connection refused, retrying"
    assert first_error("npm error code 1\nnpm error command failed\n") == "npm error code 1"


@pytest.mark.parametrize(
    "output",
    [
        "",
        "listening on 3000\n",
        "Node.js v20.20.2\n",
        '  throw new Error("boot");\n  ^\n',  # an echoed source line is not the error
        "0 errors, 2 warnings\nno ErrorBoundary rendered\n",
        "(node:12) ExperimentalWarning: VM Modules is an experimental feature\n",
    ],
)
def test_output_stating_no_cause_has_no_first_error(output: str) -> None:
    """Ordinary lines, warnings, a footer and echoed source lines are never taken for the cause."""
    assert first_error(output) is None


def test_a_traceback_cut_off_before_its_exception_line_is_not_a_cause_but_what_follows_may_be() -> None:
    """A traceback whose exception line never came (output truncated) names no cause of its own."""
    assert first_error('Traceback (most recent call last):\n  File "x.py", line 1\n') is None


def test_a_long_line_is_cut_to_a_quote() -> None:
    """A cause inside a minified bundle's line is quoted at most LONGEST characters long."""
    quoted = first_error("Error: " + "x" * 5000)
    assert quoted is not None and len(quoted) == LONGEST and quoted.endswith("...")
