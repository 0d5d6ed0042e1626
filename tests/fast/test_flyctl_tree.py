"""flyctl's command tree: the table (gates/checks/flyctl_commands.py), the cobra-like reading of a command
line against it, and the generator (scripts/flyctl_tree.py) proven on a miniature flyctl source tree."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from gates.checks.flyctl_commands import COMMANDS, FLYCTL_VERSION, GLOBAL_FLAGS
from gates.checks.flyctl_tree import ROOT, parse, problem

REPO = Path(__file__).resolve().parents[2]
SOURCE = Path(__file__).parent / "flyctl_src"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (
            "apps releases rollback",
            "`fly apps releases` takes no argument ('rollback'): flyctl has no `releases rollback`",
        ),
        ("machine rollback", f"flyctl {FLYCTL_VERSION} has no `machine rollback`"),
        ("m rollback -a app", f"flyctl {FLYCTL_VERSION} has no `machine rollback`"),
        ("secrets get DATABASE_URL", f"flyctl {FLYCTL_VERSION} has no `secrets get`"),
        ("deploy --json", f"`fly deploy` has no flag --json in flyctl {FLYCTL_VERSION}"),
        ("deploy -q", f"`fly deploy` has no flag -q in flyctl {FLYCTL_VERSION}"),
        ("deploy --image", "`fly deploy` flag --image needs a value"),
        ("deploy a b", "`fly deploy` takes at most 1 argument(s), got 2: a b"),
        ("status --json extra", "`fly status` takes no argument ('extra'): flyctl has no `status extra`"),
        ("secret list", "flyctl has no command 'secret'"),
    ],
)
def test_lines_flyctl_refuses_are_named_to_the_last_word(line, why):
    """An unknown subcommand, flag, flag without its value or extra argument is named, down to the last word."""
    assert problem(line.split()).startswith(why)


@pytest.mark.parametrize(
    "line",
    [
        "v list",
        "tigris list",
        "deploy --remote-only --strategy rolling -a x",
        "deploy . --config=fly.toml --strategy=bluegreen --skip-release-command -y",
        "deploy -yac fly.toml",
        "secrets set --stage DATABASE_URL=-",
        "scale count 2",
        "machine list --json",
        "-t token --verbose machines list",
        "releases --json -a app --debug",
        "logs --no-tail --json -a app",
        "help deploy",
        "completion bash",
        "deploy -- a",
    ],
)
def test_lines_flyctl_runs_pass(line):
    """Real aliases, flags given as `--f v`, `--f=v`, `-yac v`, and the root's persistent flags pass."""
    assert problem(line.split()) == ""


def test_flags_are_read_by_their_long_name_and_values_are_not_arguments():
    """`-a app` gives --app its value; the directory is deploy's one argument."""
    line = parse(["deploy", "-a", "app", ".", "-i", "img:1", "--yes"])
    assert (line.command, line.flags, line.args) == (
        ("deploy",),
        {"--app": "app", "--image": "img:1", "--yes": "true"},
        ["."],
    )


def test_the_table_is_a_tree_with_its_version_and_cobras_own_commands():
    """Every row's parent is a row; flags are well formed; help, completion and --help are there, as cobra adds them."""
    assert FLYCTL_VERSION == "v0.4.87"
    for key, row in COMMANDS.items():
        parent = key.rsplit(" ", 1)[0] if " " in key else None
        assert parent is None or parent in COMMANDS, key
        for spec in (row["flags"] or ()) + GLOBAL_FLAGS:
            assert spec.startswith("--") and spec.count("/") <= 1, (key, spec)
    assert {"help", "completion"} <= set(ROOT.sub) and "--help/-h" in GLOBAL_FLAGS
    aliases = [a for node in ROOT.sub.values() for a in node.aliases]
    assert len(aliases) == len(set(aliases)) and not set(aliases) & set(ROOT.sub)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flyctl_tree_generator", REPO / "scripts" / "flyctl_tree.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_generator_reads_commands_aliases_args_and_flags_from_go_source():
    """command.New's usage, Aliases, cobra Args, AddCommand (through group() and wrappers), flag.Add with literals,
    shared flags (flag.App()), flag sets (sharedFlags...), cmd.Flags() and persistent flags are all read; a flag
    it cannot resolve leaves that command unjudged (None), and says so."""
    text, warnings = _generator().generate(SOURCE, "v9.9.9")
    table: dict[str, object] = {}
    exec(compile(text, "flyctl_commands.py", "exec"), table)
    assert table["FLYCTL_VERSION"] == "v9.9.9"
    assert table["GLOBAL_FLAGS"] == ("--access-token/-t=", "--help/-h", "--verbose")
    commands = table["COMMANDS"]
    assert isinstance(commands, dict)
    assert {k: v for k, v in commands.items() if not k.startswith(("completion", "help"))} == {
        "apps": {"aliases": ("app",), "args": None, "flags": ()},
        "apps list": {"aliases": ("ls",), "args": None, "flags": ("--json/-j", "--org/-o=")},
        "apps releases": {"aliases": (), "args": 0, "flags": ("--app/-a=", "--image")},
        "deploy": {"aliases": (), "args": 1, "flags": ("--app/-a=", "--env/-e=", "--max-concurrent=", "--strategy=")},
        "volumes": {"aliases": ("v", "vol", "volume"), "args": None, "flags": ("--region/-r=",)},
        "volumes create": {"aliases": (), "args": 1, "flags": ("--region/-r=", "--yes/-y")},
        "volumes list": {"aliases": (), "args": 2, "flags": None},
    }
    assert commands["completion bash"] == {"aliases": (), "args": 0, "flags": ("--no-descriptions",)}
    assert warnings == ["volumes: cannot resolve flag 'unknownFlags()'"]


def test_the_generator_runs_as_a_script():
    """`python scripts/flyctl_tree.py CHECKOUT VERSION` prints the module and its warnings on stderr; no args: usage, 2."""
    script = str(REPO / "scripts" / "flyctl_tree.py")
    done = subprocess.run([sys.executable, script, str(SOURCE), "v9.9.9"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "FLYCTL_VERSION = 'v9.9.9'" in done.stdout
    assert "warning: volumes: cannot resolve flag" in done.stderr
    usage = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and usage.stderr.startswith("usage:")
