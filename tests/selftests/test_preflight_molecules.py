"""The preflight molecules run as a gate runs them (`pytest -m preflight` in a child), on fixture
repositories written in tmp: a copy of the HotDash example broken the ways real repositories were
(each molecule fails, BY NAME, with a message naming file, key or line), and the corrected copy
(each passes). CI runs against the local GitHub stand-in: a missing required check, a failed one,
and a commit that is not the branch head."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gates import config as config_mod
from gates.gaterun.runner import gate_command
from tests.selftests.demo import REPO, junit_results
from tests.selftests.flyfake import FAKES, TOKEN, FakeFly
from tests.selftests.githubfake import SHA, GitHubFake, check_run
from tests.selftests.repofixtures import WORKFLOW, write_workflows

HOTDASH = REPO / "examples" / "hotdash"
CI = "test_ci_is_green_on_the_commit_deployed"
FLY = "test_fly_config_is_zero_downtime_ready"
BUILD = "test_the_image_builds_reproducibly"
HADOLINT = "test_the_dockerfile_passes_hadolint"
SCHEMA = "test_every_workflow_matches_githubs_schema"
FLYCTL = "test_workflows_run_only_real_fly_commands"
MOLECULES = (CI, FLY, BUILD, HADOLINT, SCHEMA, FLYCTL)


def repository(folder: Path) -> Path:
    """A corrected app repository: the HotDash example with a workflow and [ci] required; its gates.toml."""
    shutil.copytree(HOTDASH, folder)
    write_workflows(folder, release=WORKFLOW)
    config = folder / "gates.toml"
    config.write_text(config.read_text().replace("allow_neutral = false", 'allow_neutral = false\nrequired = ["test", "build"]'))
    return config


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


def break_repository(folder: Path) -> None:
    """What got past the preflight in real repositories (issue: auto-stop, no strategy, node:18, no lockfile...)."""
    edit(folder / "fly.toml", 'auto_stop_machines = "off"', 'auto_stop_machines = "stop"')
    edit(folder / "Dockerfile", "FROM node:20-slim AS build\nWORKDIR /app", "FROM node:18 AS build\nWORKDIR app")
    (folder / "package-lock.json").unlink()
    edit(folder / ".github" / "workflows" / "release.yml", "runs-on:", "run-on:")
    write_workflows(folder, rollback=WORKFLOW.replace("fly deploy --strategy rolling", "fly releases rollback"))


def preflight(config: Path, out: Path, github: GitHubFake, released: str = SHA) -> dict[str, str]:
    """Run the preflight molecules on production as `gates deploy` does; JUnit name -> outcome or message."""
    cfg = config_mod.load(config)
    args = [*gate_command(cfg, cfg.environment("production"), "preflight", out, "gate", None, 0)]
    child_env = {
        **os.environ,
        "GITHUB_API_URL": github.url,
        "GITHUB_TOKEN": "ghs_canary0123456789abcdef",
        "GITHUB_SHA": released,
        "STAGING_DB_URL": "postgresql://u:canary-pw-5678@db.invalid/postgres",
        "PRODUCTION_DB_URL": "postgresql://u:canary-pw-5678@db.invalid/postgres",
        # The fly.toml lint counts machines with `fly status`: the fake has no hotdash-app (not deployed yet).
        "FLY_BIN": str(FAKES / "fly"),
        "FLY_API_TOKEN": TOKEN,
        "FAKE_FLY_STATE": str(FakeFly(out.parent / f"{out.name}-fly.json").path),
    }
    child_env.pop("GITHUB_REPOSITORY", None)
    result = subprocess.run(
        [*args, "-k", " or ".join(MOLECULES)], cwd=cfg.root, env=child_env, capture_output=True, text=True, timeout=300
    )
    results = junit_results(out / "gate.xml")
    assert set(MOLECULES) <= set(results), result.stdout + result.stderr
    return results


@pytest.fixture
def github():
    with GitHubFake() as fake:
        fake.commit()
        fake.protection(status=404)
        yield fake


def test_the_corrected_repository_passes_every_preflight_molecule(tmp_path, github):
    """fly.toml, Dockerfile, package.json and lockfile, workflows and CI all sound: six molecules pass."""
    github.runs([check_run("test"), check_run("build")])
    results = preflight(repository(tmp_path / "repo"), tmp_path / "out", github)
    assert {name: results[name] for name in MOLECULES} == dict.fromkeys(MOLECULES, "passed")


def test_the_broken_repository_fails_each_molecule_naming_the_cause(tmp_path, github):
    """Each break fails its molecule by name, the message naming the file and the key or line."""
    github.runs([check_run("test")])
    config = repository(tmp_path / "repo")
    repo = config.parent
    break_repository(repo)
    results = preflight(config, tmp_path / "out", github)
    assert f"required check 'build' is missing on {SHA}" in results[CI]
    assert f'{repo / "fly.toml"}: http_service.auto_stop_machines = "stop" (line 25): a production app' in results[FLY]
    assert f"{repo / 'Dockerfile'}:2: FROM node:18: Node 18.x does not satisfy" in results[BUILD]
    assert f"{repo / 'Dockerfile'}:5: RUN npm ci: no package-lock.json" in results[BUILD]
    assert f"{repo / 'Dockerfile'}:3: DL3000 (error): Use absolute WORKDIR" in results[HADOLINT]
    workflows = repo / ".github" / "workflows"
    assert f"{workflows / 'release.yml'}:6: $.jobs.release: 'runs-on' is a required property" in results[SCHEMA]
    assert f"{workflows / 'rollback.yml'}:11: jobs.release.steps[1].run: `fly releases rollback`" in results[FLYCTL]


def test_ci_fails_on_a_failed_required_check_and_on_a_commit_that_is_not_the_head(tmp_path, github):
    """A required check that failed is named with its link; a release commit other than main's head names both SHAs."""
    config = repository(tmp_path / "repo")
    github.runs([check_run("test"), check_run("build", conclusion="failure")])
    failed = preflight(config, tmp_path / "failed", github)[CI]
    assert f"required check 'build' has not succeeded: failure {check_run('build')['html_url']}" in failed
    other = "1" * 40
    github.runs([check_run("test"), check_run("build")], sha=other)
    github.statuses(sha=other)
    moved = preflight(config, tmp_path / "moved", github, released=other)[CI]
    assert f"the commit released ({other}) is not the head of main ({SHA})" in moved
