"""A flyctl command line read as flyctl's cobra tree reads it, against the table of ``flyctl_commands``.

cobra walks the words that are not flags down the command tree (names and aliases), stops at the
first word that is not a subcommand, then parses every flag against the command it reached: its own
flags, the persistent flags of the root (``--access-token``, ``--verbose``, ``--debug``...) and
``--help``. A flag cobra does not know is an error, and so are more arguments than the command's
``Args`` allows. A word under a command group that is not one of its subcommands is not a command
flyctl has (cobra prints the group's help and runs nothing).

Pure and stdlib-only: the fake ``fly`` of the self-tests loads this file and the table by path to
parse its own command line exactly as the workflow checker does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gates.checks.flyctl_commands import COMMANDS, FLYCTL_VERSION, GLOBAL_FLAGS

ROLLBACK_HINT = "to roll back, `fly deploy --image <ImageRef of an earlier release>` (from `fly releases --json`)"


@dataclass(frozen=True)
class Flag:
    """One flag of a command: its long name, its shorthand ("" when none), whether it takes a value."""

    name: str
    short: str
    takes_value: bool


def flag_spec(spec: str) -> Flag:
    """``"--app/-a="`` -> Flag("--app", "-a", True); ``"--json/-j"`` -> a switch (the table's notation)."""
    takes_value = spec.endswith("=")
    name, _, short = spec.rstrip("=").partition("/")
    return Flag(name, short, takes_value)


@dataclass(frozen=True)
class Node:
    """A command of the tree: its path of canonical names, aliases, flags and subcommands."""

    path: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    args: int | None = None  # most positional arguments (None: any number)
    flags: tuple[Flag, ...] | None = ()  # None: this command's flags were never read (not judged)
    sub: dict[str, Node] = field(default_factory=dict)

    def child(self, word: str) -> Node | None:
        for name, node in self.sub.items():
            if word == name or word in node.aliases:
                return node
        return None

    @property
    def shown(self) -> str:
        return " ".join(("fly", *self.path))


def build(commands: Mapping[str, Mapping[str, Any]]) -> Node:
    """The tree of a flat table (``"apps releases": {...}``); a parent is listed before its children."""
    root = Node(path=())
    for key in sorted(commands, key=lambda k: len(k.split())):
        entry = commands[key]
        *parents, name = key.split()
        parent = root
        for word in parents:
            parent = parent.sub[word]
        flags = entry.get("flags")
        parent.sub[name] = Node(
            path=(*parents, name),
            aliases=tuple(entry.get("aliases", ())),
            args=entry.get("args"),
            flags=None if flags is None else tuple(flag_spec(s) for s in flags),
        )
    return root


ROOT = build(COMMANDS)  # type: ignore[arg-type]  # the generated literal is a dict of dicts
GLOBAL = tuple(flag_spec(s) for s in GLOBAL_FLAGS)


@dataclass(frozen=True)
class Problem:
    """Why flyctl refuses a line: ``kind`` is command, subcommand, args, flag or value."""

    kind: str
    node: Node
    word: str
    count: int = 0

    def explain(self) -> str:
        """The checker's sentence."""
        path = " ".join(self.node.path)
        if self.kind == "command":
            return f"flyctl has no command {self.word!r}"
        if self.kind == "subcommand":
            return f"flyctl {FLYCTL_VERSION} has no `{path} {self.word}`"
        if self.kind == "flag":
            return f"`{self.node.shown}` has no flag {self.word} in flyctl {FLYCTL_VERSION}"
        if self.kind == "value":
            return f"`{self.node.shown}` flag {self.word} needs a value"
        if self.node.args == 0:
            fix = f"; {ROLLBACK_HINT}" if self.node.path[-1] == "releases" else ""
            return f"`{self.node.shown}` takes no argument ({self.word!r}): flyctl has no `{self.node.path[-1]} {self.word}`{fix}"
        return f"`{self.node.shown}` takes at most {self.node.args} argument(s), got {self.count}: {self.word}"

    def cobra(self) -> str:
        """The error flyctl (cobra, pflag) prints for it."""
        if self.kind in ("command", "subcommand") or (self.kind == "args" and self.node.args == 0):
            parent = " ".join(("fly", *self.node.path)) if self.kind != "command" else "fly"
            return f'unknown command "{self.word.split()[0]}" for "{parent}"'
        if self.kind == "flag":
            if self.word.startswith("--"):
                return f"unknown flag: {self.word}"
            return f"unknown shorthand flag: {self.word[1]!r} in {self.word}"
        if self.kind == "value":
            return f"flag needs an argument: {self.word}"
        return f"accepts at most {self.node.args} arg(s), received {self.count}"


@dataclass(frozen=True)
class Line:
    """A flyctl command line as cobra reads it: the command, its flags (by long name), its arguments."""

    node: Node
    flags: dict[str, str]
    args: list[str]
    problem: Problem | None

    @property
    def command(self) -> tuple[str, ...]:
        return self.node.path


def _lookup(flags: Sequence[Flag], word: str) -> Flag | None:
    for flag in flags:
        if word in (flag.name, flag.short):
            return flag
    return None


def _known(node: Node) -> tuple[Flag, ...]:
    return (*(node.flags or ()), *GLOBAL)


def _command(argv: Sequence[str]) -> tuple[Node, Problem | None]:
    """The command cobra reaches: non-flag words walked down the tree, values of the flags known so far skipped."""
    node, skip = ROOT, False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--":
            break
        elif arg.startswith("-") and len(arg) > 1:
            flag = _lookup(_known(node), arg.split("=", 1)[0])
            skip = flag is not None and flag.takes_value and "=" not in arg and not _attached(arg)
        else:
            child = node.child(arg)
            if child is None:
                if node is ROOT:
                    return node, Problem("command", node, arg)
                if node.sub:
                    return node, Problem("subcommand", node, arg)
                break
            node = child
    return node, None


def _attached(arg: str) -> bool:
    """``-ax``: a shorthand with its value attached."""
    return not arg.startswith("--") and len(arg) > 2


def parse(argv: Sequence[str]) -> Line:
    """``fly ARGV`` as flyctl reads it; ``problem`` says why flyctl refuses it (None when it runs it)."""
    node, problem = _command(argv)
    flags: dict[str, str] = {}
    args: list[str] = []
    if problem is not None:
        return Line(node, flags, args, problem)
    judged = node.flags is not None
    known = _known(node)
    depth, i = 0, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            args.extend(argv[i + 1 :])
            break
        if not arg.startswith("-") or len(arg) == 1:
            if depth < len(node.path):
                depth += 1
            else:
                args.append(arg)
            i += 1
            continue
        consumed, refused = _flag(argv, i, known, flags)
        if refused is not None:
            if judged:
                return Line(node, flags, args, Problem(refused[0], node, refused[1]))
            flags[refused[1]] = "true"  # a command whose flags were never read: kept as given
        i += consumed
    if judged and node.sub and args:
        return Line(node, flags, args, Problem("subcommand", node, args[0]))
    if judged and node.args is not None and len(args) > node.args:
        return Line(node, flags, args, Problem("args", node, " ".join(args) if node.args else args[0], len(args)))
    return Line(node, flags, args, None)


def _flag(
    argv: Sequence[str], i: int, known: Sequence[Flag], into: dict[str, str]
) -> tuple[int, tuple[str, str] | None]:
    """Reads the flag at ``argv[i]`` into ``into``: (how many words it took, (kind, flag) when refused)."""
    arg = argv[i]
    if arg.startswith("--"):
        name, eq, value = arg.partition("=")
        flag = _lookup(known, name)
        if flag is None:
            return 1, ("flag", name)
        if flag.takes_value and not eq:
            if i + 1 >= len(argv):
                return 1, ("value", name)
            into[flag.name] = argv[i + 1]
            return 2, None
        into[flag.name] = value if eq else "true"
        return 1, None
    # Shorthands: `-yj` are two switches, `-ax` and `-a x` give -a the value x.
    for at in range(1, len(arg)):
        flag = _lookup(known, f"-{arg[at]}")
        if flag is None:
            return 1, ("flag", arg if at == 1 else f"-{arg[at:]}")
        if flag.takes_value:
            rest = arg[at + 1 :].removeprefix("=")
            if rest:
                into[flag.name] = rest
                return 1, None
            if i + 1 >= len(argv):
                return 1, ("value", flag.short)
            into[flag.name] = argv[i + 1]
            return 2, None
        into[flag.name] = "true"
    return 1, None


def problem(argv: Sequence[str]) -> str:
    """Why ``fly ARGV`` is not a line flyctl runs ("" when it is one, as far as the table knows)."""
    found = parse(argv).problem
    return found.explain() if found is not None else ""
