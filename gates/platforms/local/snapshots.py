"""Snapshots: the app folder as it would ship, copied out of the way of later edits.

In a git repository the snapshot is the committed tree (``git archive`` of HEAD for the app
folder): a file that is not committed is not shipped, as on CI or Fly, and the uncommitted changes
of the folder are named. Outside git (or in a repository where the folder was never committed) it
is the working tree filtered by the folder's ``.gitignore`` and ``.dockerignore``. Either way,
what never ships is left out: gates' state, traces, ``node_modules``, caches.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import os
import shutil
import tarfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from gates.core.errors import GatesError
from gates.core.procs import run

# Left out of every snapshot, whatever the ignore files say.
NEVER_SHIPPED = (
    ".git", ".gates", "node_modules", ".venv", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache",
    ".ruff_cache", ".temp", "test-results", "playwright-report", "trace.zip", "*.trace.zip",
)  # fmt: skip
IGNORE_FILES = (".gitignore", ".dockerignore")
GIT_TIMEOUT = 60.0
SHOWN_CHANGES = 10  # uncommitted files named in a description; the rest are counted


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What a snapshot was taken from."""

    folder: Path
    commit: str  # the commit of a git snapshot; "" for a working tree
    uncommitted: tuple[str, ...]  # files of the app folder changed or added since that commit: not shipped

    @property
    def origin(self) -> str:
        if not self.commit:
            return "working tree (not in git)"
        changes = ""
        if self.uncommitted:
            named = ", ".join(self.uncommitted[:SHOWN_CHANGES])
            more = len(self.uncommitted) - SHOWN_CHANGES
            changes = f"; uncommitted changes not shipped: {named}{f' (+{more} more)' if more > 0 else ''}"
        return f"commit {self.commit[:12]}{changes}"


def take(source: Path, into: Path, leave_out: Sequence[Path] = ()) -> Snapshot:
    """Copy what would ship of ``source`` into ``into`` (which must not exist yet)."""
    skip = [p.resolve() for p in leave_out]
    commit, prefix = _git_head(source)
    if commit and _archive(source, commit, prefix, into, skip):
        return Snapshot(into, commit, tuple(_uncommitted(source, prefix)))
    shutil.copytree(source, into, ignore=_ignore(source, skip), symlinks=True)
    return Snapshot(into, "", ())


def content_ref(folder: Path, extra: Mapping[str, str] | None = None) -> str:
    """12 hex digits of a sha256 over every file's relative path, executable bit and bytes (a symlink's
    target), and ``extra`` (what else makes a build different: its command, its variables)."""
    digest = hashlib.sha256()
    for key, value in sorted((extra or {}).items()):
        digest.update(f"{key}={value}".encode() + b"\0")
    for path in _files(folder):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            digest.update(f"{rel} -> {os.readlink(path)}".encode() + b"\0")
            continue
        digest.update(f"{rel} {os.stat(path).st_mode & 0o100:o}".encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found += [Path(root) / f for f in sorted(files)]
        found += [Path(root) / d for d in dirs if (Path(root) / d).is_symlink()]
    return found


# ---------------------------------------------------------------------------
# git


def _git(source: Path, *args: str) -> str | None:
    """A git command's output in ``source``; None when it fails (no git, not a repository, no commit)."""
    try:
        result = run(["git", "-C", str(source), *args], timeout=GIT_TIMEOUT, check=False)
    except GatesError:  # git not installed
        return None
    return result.stdout if result.returncode == 0 else None


def _git_head(source: Path) -> tuple[str, str]:
    """(HEAD's commit, the folder's path in the repository) when ``source`` is in a git repository."""
    commit = _git(source, "rev-parse", "--verify", "-q", "HEAD")
    prefix = _git(source, "rev-parse", "--show-prefix")
    if commit is None or prefix is None:
        return "", ""
    return commit.strip(), prefix.strip().rstrip("/")


def _top(source: Path) -> Path:
    """The repository's top folder (git archive of a subtree runs from there)."""
    return Path((_git(source, "rev-parse", "--show-toplevel") or str(source)).strip())


def _archive(source: Path, commit: str, prefix: str, into: Path, skip: Sequence[Path]) -> bool:
    """Extract the committed tree of the folder into ``into``; False when the folder is not in that commit."""
    into.parent.mkdir(parents=True, exist_ok=True)
    tar = into.parent / f"{into.name}.tar"
    try:
        tree = f"{commit}:{prefix}" if prefix else commit
        if _git(_top(source), "archive", "--format=tar", f"--output={tar}", tree) is None:
            return False
        into.mkdir()
        with tarfile.open(tar) as archive:
            members = [m for m in archive.getmembers() if not _never_shipped(PurePosixPath(m.name).parts)]
            archive.extractall(into, members=members, filter="tar")
    finally:
        tar.unlink(missing_ok=True)
    for path in skip:  # gates' own state or records, committed by mistake
        if path.is_relative_to(source.resolve()):
            shutil.rmtree(into / path.relative_to(source.resolve()), ignore_errors=True)
    return True


def _uncommitted(source: Path, prefix: str) -> list[str]:
    """Files of the folder that differ from HEAD or are untracked (not ignored), relative to the folder."""
    out = _git(source, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".") or ""
    found: list[str] = []
    entries = iter(out.split("\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        if entry[0] in "RC":
            next(entries, None)  # a rename's second path is its origin
        path = entry[3:]
        rel = path[len(prefix) + 1 :] if prefix and path.startswith(prefix + "/") else path
        if not _never_shipped(PurePosixPath(rel).parts):
            found.append(rel)
    return sorted(found)


# ---------------------------------------------------------------------------
# Working trees


def _never_shipped(parts: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in NEVER_SHIPPED)


def _patterns(source: Path) -> list[str]:
    """The ignore patterns of the folder's .gitignore and .dockerignore (negations are not supported: skipped)."""
    found: list[str] = []
    for name in IGNORE_FILES:
        path = source / name
        lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
        found += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith(("#", "!"))]
    return found


def _matches(rel: PurePosixPath, is_dir: bool, pattern: str) -> bool:
    """Whether a path matches one ignore pattern: with a slash inside, anchored at the folder; else any name."""
    if pattern.endswith("/"):
        if not is_dir:
            return False
        pattern = pattern.rstrip("/")
    pattern = pattern.removeprefix("**/")
    if "/" in pattern:
        return fnmatch.fnmatch(rel.as_posix(), pattern.lstrip("/"))
    return fnmatch.fnmatch(rel.name, pattern)


def _ignore(source: Path, skip: Sequence[Path]) -> Callable[[str, list[str]], set[str]]:
    patterns = _patterns(source)

    def ignored(folder: str, names: list[str]) -> set[str]:
        here = Path(folder)
        out: set[str] = set()
        for name in names:
            path = here / name
            rel = PurePosixPath(path.relative_to(source).as_posix())
            if (
                _never_shipped([name])
                or path.resolve() in skip
                or any(_matches(rel, path.is_dir(), p) for p in patterns)
            ):
                out.add(name)
        return out

    return ignored
