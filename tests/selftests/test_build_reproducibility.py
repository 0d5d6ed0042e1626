"""Build reproducibility from the files, before any build: Node of the base image vs engines.node,
the lockfile a frozen install needs, npm's lockfile in sync, and hadolint's errors.

Each fixture repository (Dockerfile, package.json, lockfile) is written in tmp; the broken copy
fails naming file, key or line, the corrected copy passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gates.checks.build import build_reproducible
from gates.checks.dockerfile import hadolint, node_tag, stages, start_command
from gates.checks.semver import RangeError, floating, satisfies

LOCK_ROOT = {"name": "app", "dependencies": {"react": "^19.2.0"}}


@pytest.mark.parametrize(
    ("image", "wanted", "ok"),
    [
        ("20", ">=20.10", True),  # node:20 floats to the newest 20.x
        ("18", ">=20.10", False),
        ("20.5", ">=20.10", False),
        ("20", "^20.10", True),
        ("22", "^20.10", False),
        ("20", "~20.10", False),  # ~20.10 is 20.10.x only; node:20 is newer
        ("20.10.3", "~20.10", True),
        ("20", "18 || 20", True),
        ("19", "18 || 20", False),
        ("20", ">=18 <21", True),
        ("21", ">=18 <21", False),
        ("20", "18 - 20", True),
        ("21", "18 - 20", False),
        ("20", "20.x", True),
        ("22", "*", True),
        ("20", ">20", False),
        ("20", "<=20", True),
        ("17", "^14.17.0 || ^16.13.0 || >=18.0.0", False),
        ("20.10.0", "=20.10.0", True),
        ("20", ">= 20", True),
    ],
)
def test_node_ranges_as_node_semver_reads_them(image, wanted, ok):
    """>=, ^, ~, x-ranges, hyphen ranges, intersections and || unions; a partial image tag is its line's newest."""
    assert satisfies(floating(image), wanted) is ok


def test_an_unreadable_range_is_an_error():
    """A range that is not semver raises: the check reports it instead of guessing."""
    with pytest.raises(RangeError):
        satisfies((20, 0, 0), "lts/iron")


def test_the_dockerfile_is_read_with_arg_defaults_stages_and_its_start_command():
    """fly launch's shape: ARG NODE_VERSION in FROM, a stage built FROM another, ENTRYPOINT plus CMD inherited."""
    text = (
        'ARG NODE_VERSION=20.11.1\nFROM node:${NODE_VERSION}-slim AS base\nWORKDIR /app\nFROM base AS build\n'
        'RUN npm ci \\\n  --include=dev\nFROM base\nENTRYPOINT ["/app/docker-entrypoint.js"]\nCMD ["npm", "run", "start"]\n'
    )
    found = stages(text)
    assert [(s.line, s.image, s.alias) for s in found] == [(2, "node:20.11.1-slim", "base"), (4, "base", "build"), (7, "base", "")]
    assert start_command(found) == [(8, "ENTRYPOINT", "/app/docker-entrypoint.js"), (9, "CMD", "npm run start")]
    assert [node_tag(i) for i in ("node:20-slim", "node:lts", "gcr.io/distroless/nodejs22-debian12", "python:3.12")] == [
        "20", None, "22", None
    ]


def app(folder: Path, *, image: str = "node:20-slim", engines: str | None = ">=20.10", lock: dict | None = None,
        install: str = "npm ci", workdir: str = "/app") -> tuple[Path, Path]:  # fmt: skip
    """A Node app's Dockerfile and package.json (and package-lock.json when ``lock`` is given)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(
        f"FROM {image} AS build\nWORKDIR {workdir}\nCOPY . .\nRUN {install} && npx react-router build\n"
        f'FROM {image}\nWORKDIR /app\nCOPY --from=build /app /app\nCMD ["npm", "start"]\n'
    )
    package = {"name": "app", "dependencies": {"react": "^19.2.0"}, **({"engines": {"node": engines}} if engines else {})}
    (folder / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    if lock is not None:
        (folder / "package-lock.json").write_text(json.dumps({"lockfileVersion": 3, "packages": {"": lock}}))
    return folder / "Dockerfile", folder / "package.json"


def test_the_seeds_broken_build_fails_naming_image_engines_and_the_missing_lockfile(tmp_path):
    """node:18 for engines >=20.10, and `npm ci` with no package-lock.json: both named with file and line."""
    docker, package = app(tmp_path, image="node:18")
    m = build_reproducible(docker, package)
    assert list(m.problems) == [
        f"{docker}:1: FROM node:18: Node 18.x does not satisfy {package}:7: engines.node = '>=20.10'",
        f"{docker}:5: FROM node:18: Node 18.x does not satisfy {package}:7: engines.node = '>=20.10'",
        f"{docker}:4: RUN npm ci: no package-lock.json or npm-shrinkwrap.json in {tmp_path}: the install fails; "
        "install once and commit the lockfile",
    ]


def test_the_corrected_build_passes(tmp_path):
    """node:20-slim, engines >=20.10, a package-lock.json in sync: no finding, no warning."""
    m = build_reproducible(*app(tmp_path, lock=LOCK_ROOT))
    assert m.ok and not m.details, m.explain()


def test_a_lockfile_out_of_sync_with_package_json_fails(tmp_path):
    """npm ci refuses a lockfile whose root entry disagrees with package.json: the dependency is named."""
    docker, package = app(tmp_path, lock={"dependencies": {"react": "^18.3.0"}})
    assert list(build_reproducible(docker, package).problems) == [
        f"{package}:4: dependencies.react = '^19.2.0' but package-lock.json has '^18.3.0': out of sync, "
        "npm ci refuses it; run npm install and commit the lockfile"
    ]


def test_another_managers_install_needs_its_own_lockfile(tmp_path):
    """`pnpm install --frozen-lockfile` with only a package-lock.json: pnpm-lock.yaml is missing, named."""
    docker, package = app(tmp_path, lock=LOCK_ROOT, install="corepack enable && pnpm install --frozen-lockfile")
    problems = build_reproducible(docker, package).problems
    assert problems == (
        f"{docker}:4: RUN pnpm install --frozen-lockfile: no pnpm-lock.yaml in {tmp_path}: the install fails; "
        "install once and commit the lockfile",
    )


def test_missing_engines_and_an_unfrozen_install_are_warnings_not_failures(tmp_path):
    """No engines.node and `npm install`: listed as warnings; the measurement still passes."""
    m = build_reproducible(*app(tmp_path, engines=None, lock=LOCK_ROOT, install="npm install"))
    assert m.ok, m.explain()
    assert [d["message"].split(": ", 1)[1] for d in m.details] == [
        "engines.node: not set: nothing pins the Node version the app needs",
        "RUN npm install: may rewrite package-lock.json; use a frozen install",
    ]


def test_a_floating_node_tag_fails(tmp_path):
    """node:lts names no version: it cannot be checked against engines.node, and it changes under the app."""
    docker, package = app(tmp_path, image="node:lts-slim", lock=LOCK_ROOT)
    assert build_reproducible(docker, package).problems[0] == (
        f"{docker}:1: FROM node:lts-slim: the tag names no Node version (it floats); pin one, e.g. node:20-slim"
    )


def test_hadolint_errors_fail_and_warnings_are_listed(tmp_path):
    """A relative WORKDIR is hadolint's DL3000 error: fails naming the line; the corrected file passes."""
    docker, _ = app(tmp_path / "bad", workdir="app", install="apt-get update && apt-get install -y curl && npm ci")
    m = hadolint(docker)
    assert list(m.problems) == [f"{docker}:2: DL3000 (error): Use absolute WORKDIR"]
    assert "DL3008 line 4 (warning)" in m.observed
    fixed = hadolint(app(tmp_path / "good")[0])
    assert fixed.ok and fixed.observed == "0 error(s); 0 other: none", fixed.explain()
