#!/usr/bin/env python3
"""Regenerates gates/checks/flyctl_commands.py, flyctl's command tree, from a flyctl checkout.

    git clone --branch v0.4.87 https://github.com/superfly/flyctl /tmp/flyctl
    python scripts/flyctl_tree.py /tmp/flyctl v0.4.87 > gates/checks/flyctl_commands.py

It reads the Go source as flyctl builds its cobra tree: ``root.AddCommand(...)`` in
internal/command/root/root.go and the root's persistent flags; in each constructor,
``command.New(usage, ...)`` (the name is the first word of ``usage``), ``cmd.Aliases``,
``cmd.Args`` (cobra.NoArgs, ExactArgs, MaximumNArgs, RangeArgs), ``cmd.AddCommand(...)`` and
``flag.Add(cmd, ...)`` with flag literals (``flag.String{Name:, Shorthand:}``), the shared flags of
internal/flag (``flag.App()``) and flag sets (``flag.Set{...}``, ``sharedFlags...``), and
``cmd.Flags()``/``cmd.PersistentFlags()`` calls (``StringP("name", "s", ...)``). A flag it cannot
resolve is reported on stderr and the command is left unjudged (``"flags": None``). cobra adds
``help``, ``completion`` and ``--help``/``-h`` itself; they are added here too.

It is a reader of source text, not a Go parser: after a flyctl upgrade, read its stderr.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`')
_FUNC = re.compile(r"^func\s+(?:\([^)]*\)\s*)?(\w+)\s*\(", re.M)
_ARGS = {"NoArgs": 0, "ExactArgs": 1, "MaximumNArgs": 1, "RangeArgs": 2, "ExactValidArgs": 1}
_PFLAG = re.compile(
    r"\.(String|Bool|Int|Int64|Float64|Duration|StringSlice|StringArray|StringToString|Uint|IntSlice)(Var)?(P)?\("
)


def blank(src: str) -> str:
    """``src`` with comments removed and string contents replaced by spaces (same offsets), to find structure."""
    out = list(src)
    i = 0
    while i < len(src):
        c = src[i]
        if src.startswith("//", i):
            end = src.find("\n", i)
            end = len(src) if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
        elif src.startswith("/*", i):
            end = src.find("*/", i) + 2
            out[i:end] = [ch if ch == "\n" else " " for ch in src[i:end]]
            i = end
        elif c in "\"`'":
            m = re.compile(r"'(?:[^'\\]|\\.)*'").match(src, i) if c == "'" else _STRING.match(src, i)
            end = m.end() if m else i + 1
            out[i + 1 : end - 1] = [ch if ch == "\n" else " " for ch in src[i + 1 : end - 1]]
            i = end
        else:
            i += 1
    return "".join(out)


def closing(text: str, start: int) -> int:
    """Index just past the bracket closing the one at ``text[start]`` (``text`` blanked)."""
    pairs = {"(": ")", "{": "}", "[": "]"}
    depth, opening = 0, text[start]
    for i in range(start, len(text)):
        if text[i] == opening:
            depth += 1
        elif text[i] == pairs[opening]:
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def split_args(src: str, blanked: str) -> list[str]:
    """The top-level comma-separated expressions of an argument list (without its brackets)."""
    parts, depth, last = [], 0, 0
    for i, c in enumerate(blanked):
        depth += c in "([{"
        depth -= c in ")]}"
        if c == "," and depth == 0:
            parts.append(src[last:i].strip())
            last = i + 1
    parts.append(src[last:].strip())
    return [p for p in parts if p]


@dataclass
class Package:
    """One Go package: its functions' bodies and its package-level declarations (source and blanked)."""

    name: str
    funcs: dict[str, tuple[str, str]] = field(default_factory=dict)
    top: list[tuple[str, str]] = field(default_factory=list)


def load(checkout: Path) -> dict[str, Package]:
    """Every package of internal/, by package name (flyctl names each package after its folder)."""
    packages: dict[str, Package] = {}
    for path in sorted((checkout / "internal").rglob("*.go")):
        if path.name.endswith("_test.go"):
            continue
        src = path.read_text()
        blanked = blank(src)
        package = packages.setdefault(path.parent.name, Package(path.parent.name))
        outside = list(blanked)
        for m in _FUNC.finditer(blanked):
            brace = blanked.find("{", closing(blanked, blanked.index("(", m.end() - 1)))
            end = closing(blanked, brace)
            package.funcs[m.group(1)] = (src[brace:end], blanked[brace:end])
            outside[m.start() : end] = " " * (end - m.start())
        package.top.append((src, "".join(outside)))
    return packages


def literal(expr: str) -> str | None:
    m = _STRING.fullmatch(expr.strip())
    return m.group(0)[1:-1] if m else None


class Reader:
    """Builds the command tree from the packages."""

    def __init__(self, packages: dict[str, Package]) -> None:
        self.packages = packages
        self.warnings: list[str] = []

    def value(self, expr: str, pkg: str, body: tuple[str, str] | None = None) -> str | None:
        """A string expression: a literal, or a constant of the function, its package or another package."""
        found = literal(expr)
        if found is not None:
            return found
        qualifier, _, name = expr.strip().rpartition(".")
        scopes = ([body] if body and not qualifier else []) + (
            self.packages[qualifier or pkg].top if (qualifier or pkg) in self.packages else []
        )
        for src, _ in scopes:
            m = re.search(rf"\b{re.escape(name)}\s*(?:string\s*)?:?=\s*(\"(?:[^\"\\\n]|\\.)*\"|`[^`]*`)", src)
            if m:
                return m.group(1)[1:-1]
        return None

    def flags(self, expr: str, pkg: str, body: tuple[str, str]) -> list[str] | None:
        """The flag specs (``--name/-s=``) of one argument of ``flag.Add``; None when it cannot be resolved."""
        expr = expr.strip().removesuffix("...")
        m = re.match(
            r"(?:(\w+)\.)?(Bool|String|Int|Int64|Float64|Duration|StringSlice|StringArray|StringMap|Set)\s*\{", expr
        )
        if m and (m.group(1) in (None, "flag")):
            start = expr.index("{")
            inner, inner_blank = expr[start + 1 : -1], blank(expr)[start + 1 : -1]
            if m.group(2) == "Set":
                return self._many(split_args(inner, inner_blank), "flag" if m.group(1) else pkg, body)
            fields = dict(p.split(":", 1) for p in split_args(inner, inner_blank) if ":" in p)
            name = self.value(fields.get("Name", ""), "flag" if m.group(1) else pkg, body)
            short = self.value(fields["Shorthand"], pkg, body) if "Shorthand" in fields else ""
            if name is None:
                return None
            return [f"--{name}" + (f"/-{short}" if short else "") + ("" if m.group(2) == "Bool" else "=")]
        m = re.match(r"(?:(\w+)\.)?(\w+)(\(.*\))?$", expr, re.S)
        if m:
            target = m.group(1) or pkg
            if m.group(3) is not None and target in self.packages and m.group(2) in self.packages[target].funcs:
                fsrc, fblank = self.packages[target].funcs[m.group(2)]
                r = re.search(r"\breturn\b", fblank)
                if r:
                    end = fblank.find("\n}", r.end())
                    return self.flags(fsrc[r.end() : end if end > 0 else None].strip(), target, (fsrc, fblank))
            elif m.group(3) is None and target in self.packages:
                for src, top in self.packages[target].top:
                    d = re.search(rf"\b{re.escape(m.group(2))}\s*=\s*", top)
                    if d:
                        brace = top.find("{", d.end())
                        return self.flags(src[d.end() : closing(top, brace)], target, body)
        if expr.startswith("[]"):
            start = expr.index("{")
            return self._many(split_args(expr[start + 1 : -1], blank(expr)[start + 1 : -1]), pkg, body)
        return None

    def _many(self, exprs: list[str], pkg: str, body: tuple[str, str]) -> list[str] | None:
        found: list[str] = []
        for e in exprs:
            one = self.flags(e, pkg, body)
            if one is None:
                self.warnings.append(f"{pkg}: cannot resolve flag {e[:60]!r}")
                return None
            found += one
        return found

    def command(self, call: str, pkg: str, scope: tuple[str, str] | None = None) -> dict[str, object] | None:
        """The command a constructor call builds (``newList()``, ``apps.New()``, ``group(x.New(), "id")``)."""
        call = call.strip().removesuffix(".Command")
        m = re.match(r"group\((.*),\s*\"[^\"]*\"\)$", call, re.S)
        if m:
            return self.command(m.group(1), pkg, scope)
        m = re.match(r"(?:(\w+)\.)?(\w+)\((.*)\)$", call, re.S)
        if not m:
            if scope is not None:  # a variable holding a constructor's result
                d = re.search(rf"\b{re.escape(call)}\s*:?=\s*([\w.]+\(.*?\))\s*$", scope[0], re.M)
                if d:
                    return self.command(d.group(1), pkg)
            self.warnings.append(f"{pkg}: cannot resolve command {call[:60]!r}")
            return None
        target = m.group(1) or pkg
        if target not in self.packages or m.group(2) not in self.packages[target].funcs:
            self.warnings.append(f"{pkg}: no constructor {call[:60]!r}")
            return None
        built = self.build(target, self.packages[target].funcs[m.group(2)])
        if built is None:
            self.warnings.append(f"{pkg}: {call[:60]!r} builds no command")
        return built

    def build(self, pkg: str, body: tuple[str, str]) -> dict[str, object] | None:
        src, blanked = body
        m = re.search(r"(?:(\w+)\s*:?=\s*)?command\.New\(", blanked)
        if not m:
            # A wrapper (``return &Command{Command: newDeploy()}``): the first call that builds a command.
            for call in re.finditer(r"\b(?:(\w+)\.)?(\w+)\(", blanked):
                target = call.group(1) or pkg
                if target in self.packages and call.group(2) in self.packages[target].funcs:
                    end = closing(blanked, call.end() - 1)
                    built = self.command(src[call.start() : end], pkg, body)
                    if built is not None:
                        return built
            return None
        open_ = m.end() - 1
        args = split_args(
            src[open_ + 1 : closing(blanked, open_) - 1], blanked[open_ + 1 : closing(blanked, open_) - 1]
        )
        usage = self.value(args[0], pkg, body)
        if not usage:
            self.warnings.append(f"{pkg}: cannot read the usage {args[0]!r}")
            return None
        var = m.group(1) or "cmd"
        node: dict[str, object] = {
            "name": usage.split()[0],
            "aliases": [],
            "args": None,
            "flags": [],
            "persistent": [],
            "sub": [],
        }
        v = re.escape(var)
        a = re.search(rf"\b{v}\.Aliases\s*=\s*\[\]string\{{", blanked)
        if a:
            brace = blanked.index("{", a.start())
            node["aliases"] = [
                literal(x)
                for x in split_args(
                    src[brace + 1 : closing(blanked, brace) - 1], blanked[brace + 1 : closing(blanked, brace) - 1]
                )
            ]
        g = re.search(rf"\b{v}\.Args\s*=\s*cobra\.(\w+)(?:\(([\d, ]*)\))?", src)
        if g and g.group(1) in _ARGS:
            node["args"] = 0 if g.group(1) == "NoArgs" else int(g.group(2).split(",")[-1])
        for call in re.finditer(rf"\b(flag\.Add|{v}\.AddCommand)\(", blanked):
            open_ = call.end() - 1
            end = closing(blanked, open_)
            parts = split_args(src[open_ + 1 : end - 1], blanked[open_ + 1 : end - 1])
            if call.group(1) == "flag.Add":
                if parts[0] != var:
                    continue
                found = self._many(parts[1:], pkg, body)
                node["flags"] = None if found is None or node["flags"] is None else [*node["flags"], *found]  # type: ignore[misc]
            else:
                node["sub"] += [c for c in (self.command(p, pkg, body) for p in parts) if c]  # type: ignore[operator]
        for p in _PFLAG.finditer(blanked):
            receiver = re.search(r"([\w.]+(?:\(\))?)$", blanked[: p.start()])
            if receiver is None:
                continue
            held = re.search(rf"\b{re.escape(receiver.group(1))}\s*:?=\s*([\w.]+\(\))", blanked)
            owner = held.group(1) if held else receiver.group(1)
            if not owner.endswith(("Flags()", "PersistentFlags()")):
                continue  # not a flag set (``buildinfo.Version().String()``)
            open_ = p.end() - 1
            parts = split_args(
                src[open_ + 1 : closing(blanked, open_) - 1], blanked[open_ + 1 : closing(blanked, open_) - 1]
            )
            parts = parts[1:] if p.group(2) else parts
            name = self.value(parts[0], pkg, body) if parts else None
            short = self.value(parts[1], pkg, body) if p.group(3) and len(parts) > 1 else ""
            if name is None:
                self.warnings.append(f"{pkg}: cannot read the flag {parts[:1]!r}")
                node["flags"] = None
                continue
            spec = f"--{name}" + (f"/-{short}" if short else "") + ("" if p.group(1) == "Bool" else "=")
            bucket = node["persistent"] if owner.endswith("PersistentFlags()") else node["flags"]
            if isinstance(bucket, list):
                bucket.append(spec)
        return node


def flatten(
    node: dict[str, object], path: tuple[str, ...], inherited: list[str], out: dict[str, dict[str, object]]
) -> None:
    """The table's rows: one per command, keyed by its path, with the persistent flags of its parents."""
    persistent = [*inherited, *node["persistent"]]  # type: ignore[misc]
    if path:
        flags = node["flags"]
        out[" ".join(path)] = {
            "aliases": tuple(node["aliases"]),  # type: ignore[call-overload]
            "args": node["args"],
            "flags": None if flags is None else tuple(sorted({*flags, *persistent})),  # type: ignore[misc]
        }
    for child in sorted(node["sub"], key=lambda c: c["name"]):  # type: ignore[attr-defined]
        flatten(child, (*path, child["name"]), persistent if path else [], out)


def render(version: str, sources: list[str], global_flags: list[str], table: dict[str, dict[str, object]]) -> str:
    """The data module's text."""
    rows = "\n".join(f"    {key!r}: {row!r}," for key, row in table.items())
    files = "\n".join(f"    {s!r}," for s in sources)
    return f'''"""flyctl's command tree: every command with its aliases, how many arguments it takes, and its flags.

Generated by scripts/flyctl_tree.py from flyctl {version}'s Go source; regenerate it, do not edit it.
A flag is ``--name/-s``, with ``=`` when it takes a value; ``args`` is the most positional
arguments cobra accepts (None: any); ``flags`` None: the command's flags could not be read.
"""

# fmt: off
FLYCTL_VERSION = {version!r}
SOURCES = (
{files}
)
GLOBAL_FLAGS = {tuple(global_flags)!r}
COMMANDS = {{
{rows}
}}
# fmt: on
'''


def generate(checkout: Path, version: str) -> tuple[str, list[str]]:
    """(the data module for the checkout, warnings)."""
    reader = Reader(load(checkout))
    root_src, root_blank = reader.packages["root"].funcs["New"]
    root = reader.build("root", (root_src, root_blank))
    if root is None:
        raise SystemExit("internal/command/root/root.go: no command.New")
    names = {c["name"] for c in root["sub"]}  # type: ignore[attr-defined]
    if "help" not in names:
        root["sub"].append({"name": "help", "aliases": [], "args": None, "flags": [], "persistent": [], "sub": []})  # type: ignore[attr-defined]
    if "completion" not in names:
        shells = [
            {"name": s, "aliases": [], "args": 0, "flags": ["--no-descriptions"], "persistent": [], "sub": []}
            for s in ("bash", "fish", "powershell", "zsh")
        ]
        root["sub"].append(
            {"name": "completion", "aliases": [], "args": None, "flags": [], "persistent": [], "sub": shells}
        )  # type: ignore[attr-defined]
    table: dict[str, dict[str, object]] = {}
    flatten(root, (), [], table)
    global_flags = sorted({*root["persistent"], "--help/-h"})  # type: ignore[misc]
    sources = [
        "internal/command/root/root.go",
        "internal/command/**/*.go (command.New, Aliases, Args, AddCommand, flag.Add)",
        "internal/flag/*.go",
    ]
    return render(version, sources, global_flags, table), reader.warnings


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: flyctl_tree.py FLYCTL_CHECKOUT VERSION", file=sys.stderr)
        return 2
    text, warnings = generate(Path(argv[0]), argv[1])
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
