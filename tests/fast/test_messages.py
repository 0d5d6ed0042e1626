"""Messages a newcomer reads: a failed build quotes npm's error lines, not its usage text (EUSAGE); a release
number that is not known is said in words, never as None; an error raised while handling another is printed once."""

from __future__ import annotations

import ast
from pathlib import Path

import gates
from gates.evidence.state import release_change
from gates.platforms.local.builds import failure_excerpt

# `npm ci` without a lockfile (npm 11), its usage text shortened; the real one runs to ~120 lines.
NPM_CI_WITHOUT_LOCKFILE = """npm error code EUSAGE
npm error
npm error The `npm ci` command can only install with an existing package-lock.json or
npm error npm-shrinkwrap.json with lockfileVersion >= 1. Run an install with npm@5 or
npm error later to generate a package-lock.json file, then try again.
npm error
npm error Clean install a project
npm error
npm error Usage:
npm error npm ci
npm error
npm error Options:
npm error [--install-strategy <hoisted|nested|shallow|linked>] [--legacy-bundling]
npm error [--global-style] [--omit <dev|optional|peer> [--omit <dev|optional|peer> ...]]
npm error [--include <prod|dev|optional|peer> [--include <prod|dev|optional|peer> ...]]
npm error [--strict-peer-deps] [--foreground-scripts] [--ignore-scripts]
npm error [--allow-directory <all|none|root>] [--allow-file <all|none|root>]
npm error [--allow-git <all|none|root>] [--allow-remote <all|none|root>]
npm error [--allow-scripts <package-list> [--allow-scripts <package-list> ...]]
npm error [--strict-allow-scripts] [--dangerously-allow-all-scripts] [--no-audit]
npm error [--no-bin-links] [--no-fund] [--dry-run]
npm error [-w|--workspace <workspace-name> [-w|--workspace <workspace-name> ...]]
npm error [--workspaces] [--include-workspace-root] [--install-links]
npm error
npm error   --install-strategy
npm error     Sets the strategy for installing packages in node_modules.
npm error
npm error   --legacy-bundling
npm error     Instead of hoisting package installs in `node_modules`, install packages
npm error
npm error
npm error   --install-links
npm error     When set file: protocol dependencies will be packed and installed as
npm error
npm error
npm error aliases: clean-install, ic, install-clean, isntall-clean
npm error
npm error Run "npm help ci" for more info
"""


def test_npm_usage_text_is_left_out_of_a_failed_builds_excerpt() -> None:
    """Only npm's error lines: the code and the cause, none of its usage, options or help pointer."""
    said = failure_excerpt(NPM_CI_WITHOUT_LOCKFILE)
    assert said.startswith("npm error code EUSAGE | npm error The `npm ci` command can only install with an existing")
    assert said.endswith("then try again.")
    assert "Usage" not in said and "--install-strategy" not in said and "npm help ci" not in said


def test_an_excerpt_without_usage_text_keeps_the_first_error_lines_and_the_tail() -> None:
    """Other output is cut as before: the first error line onwards, then the last lines."""
    output = "\n".join(["building", "Error: cannot find module x", *(f"line {n}" for n in range(30))])
    said = failure_excerpt(output)
    assert said.startswith("Error: cannot find module x | ") and said.endswith("line 29")


def test_a_release_change_never_says_none() -> None:
    """Before/after as people read them: a first release, a move, a deploy that made nothing."""
    assert release_change(None, 1) == "first release 1"
    assert release_change(3, 4) == "release 3 -> 4"
    assert release_change(3, None) == "release 3 -> (not deployed)"
    assert release_change(None, None) == "no release"


def _chained_raises(root: Path) -> list[str]:
    """Each ``raise X(...)`` inside an ``except`` block of gates' code that does not say ``from None``."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        for handler in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(handler, ast.ExceptHandler):
                continue
            for node in ast.walk(ast.Module(body=handler.body, type_ignores=[])):
                if not isinstance(node, ast.Raise) or node.exc is None:
                    continue
                if not (isinstance(node.cause, ast.Constant) and node.cause.value is None):
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno}: raise {ast.unparse(node.exc)[:60]}")
    return found


def test_an_error_raised_while_handling_another_is_printed_once() -> None:
    """A new error raised in an ``except`` block says the cause in its own message and cuts the chain
    (``from None``): an uncaught one, in a molecule's set-up or the terminal, reads as one error, never as two
    tracebacks joined by 'During handling of the above exception' or 'The above exception was the direct
    cause'. Bare ``raise`` (the same error, passed on) is untouched."""
    assert _chained_raises(Path(gates.__file__).parent) == []
