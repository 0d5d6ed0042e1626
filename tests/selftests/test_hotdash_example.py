"""examples/hotdash and the deploy workflow users copy: valid config, lint-clean fly.toml, a sound workflow."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gates import config as config_mod
from gates.checks.build import build_reproducible
from gates.checks.dockerfile import hadolint
from gates.checks.flytoml import lint_fly_config
from gates.checks.workflows import workflows_run_real_fly_commands, workflows_valid
from tests.selftests.demo import REPO, gates

HOTDASH = REPO / "examples" / "hotdash"
WORKFLOW = REPO / ".github" / "workflows" / "deploy.yml"
MATRIX_JOB = "release"  # the matrix form: one `gates deploy` per app or region
DB_URLS = {
    "STAGING_DB_URL": "postgresql://postgres:canary-staging-pw@db.staging.invalid:5432/postgres",
    "PRODUCTION_DB_URL": "postgresql://postgres:canary-prod-pw@db.prod.invalid:5432/postgres",
}


def test_gates_config_check_passes_on_the_hotdash_config_with_its_secrets_set():
    """`gates --config examples/hotdash/gates.toml config check` exits 0 and prints no secret."""
    env = {**DB_URLS, "FLY_API_TOKEN": "canary-fly-token", "SLACK_WEBHOOK_URL": "https://hooks.slack.invalid/canary"}
    result = gates("config", "check", config=HOTDASH / "gates.toml", env=env)
    assert result.returncode == 0, result.stderr
    assert "environments staging (fly), production (fly)" in result.stdout
    assert "canary" not in result.stdout + result.stderr


def test_gates_config_check_names_the_missing_secret(monkeypatch):
    """Without STAGING_DB_URL the check exits 2 naming the key and the variable."""
    result = gates("config", "check", config=HOTDASH / "gates.toml", env={"STAGING_DB_URL": "", "PRODUCTION_DB_URL": "x"})
    assert result.returncode == 2
    assert "environments.staging.database_url_env: environment variable STAGING_DB_URL is not set" in result.stderr


def test_the_hotdash_config_matches_the_seed():
    """Apps, health paths, flag and database variables are the seed's."""
    cfg = config_mod.load(HOTDASH / "gates.toml")
    assert {n: (e.platform, e.app, e.database_url_env) for n, e in cfg.environments.items()} == {
        "staging": ("fly", "hotdash-staging", "STAGING_DB_URL"),
        "production": ("fly", "hotdash-app", "PRODUCTION_DB_URL"),
    }
    assert cfg.app.health_paths == ("/health", "/api/ads/health", "/api/analytics/health")
    assert cfg.flags.names == ("ANALYTICS_REAL_DATA",)
    assert [p.name for p in sorted(cfg.migrations_dir.glob("*.sql"))]
    for env in cfg.environments.values():
        m = lint_fly_config(
            cfg.resolve(env.fly_config), cfg.app.health_paths, production=env.is_production, source=cfg.app_source
        )
        assert m.ok, m.explain()


def test_the_hotdash_readme_maps_every_seed_step():
    """Every DEVOPS-001..015 appears in the example's README."""
    text = (HOTDASH / "README.md").read_text()
    assert [n for n in range(1, 16) if f"DEVOPS-{n:03d}" not in text] == []


# ---------------------------------------------------------------------------
# The deploy workflow: GitHub's workflow JSON schema (gates.checks.workflows, through check-jsonschema's
# vendored schema), and the rules that matter checked directly (actionlint is not installable here: its
# PyPI wrapper downloads the binary from GitHub at build time)


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return data


def _runs(job: dict[str, Any]) -> list[str]:
    return [str(step.get("run", "")) for step in job["steps"]]


def test_the_workflow_runs_preflight_staging_drill_production_in_order(workflow):
    """Four jobs chained by needs; deploy jobs use the staging/production GitHub environments (beside them, the matrix form)."""
    jobs = {name: job for name, job in workflow["jobs"].items() if name != MATRIX_JOB}
    assert list(jobs) == ["preflight", "staging", "drill", "production"]
    assert [jobs[j].get("needs") for j in jobs] == [None, "preflight", "staging", "drill"]
    assert [jobs[j].get("environment") for j in jobs] == [None, "staging", "staging", "production"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert "group" in workflow["concurrency"]
    assert True in workflow or "on" in workflow  # PyYAML reads the key `on` as True


def test_secrets_come_only_from_github_secrets_through_the_environment(workflow):
    """Secrets appear only as `${{ secrets.X }}` env values, never in a command line."""
    text = WORKFLOW.read_text()
    for job_name, job in workflow["jobs"].items():
        for name, value in job.get("env", {}).items():
            if job_name == MATRIX_JOB and name.endswith("_DB_URL"):  # the secret each matrix entry names
                assert value == f"${{{{ secrets[matrix.{name.removesuffix('_URL').lower()}] }}}}"
            elif name in ("FLY_API_TOKEN", "STAGING_DB_URL", "PRODUCTION_DB_URL", "GITHUB_TOKEN"):
                assert value == f"${{{{ secrets.{name} }}}}"
        assert not any("secrets." in run for run in _runs(job))
    assert not re.search(r"postgres(ql)?://[^$\s]*:[^$\s]*@", text)


def test_the_matrix_form_runs_one_locked_release_per_entry_in_its_own_group_and_environment(workflow):
    """The matrix job runs only with GATES_MATRIX set: one `gates deploy --approve` per entry, each in a concurrency group and
    a GitHub environment of its own, never cancelled half-way, one entry's failure not stopping the others."""
    job = workflow["jobs"][MATRIX_JOB]
    assert job["if"] == "vars.GATES_MATRIX != ''"
    assert job["strategy"]["fail-fast"] is False and "fromJSON(vars.GATES_MATRIX" in job["strategy"]["matrix"]["include"]
    assert job["concurrency"] == {"group": "gates-release-${{ matrix.name }}", "cancel-in-progress": False}
    assert job["environment"] == "${{ matrix.environment }}" and job["env"]["GATES_CONFIG"] == "${{ matrix.config }}"
    (release,) = _gates_actions(job)
    assert release["with"]["command"] == "deploy" and release["with"]["args"] == "--approve"
    assert release["with"]["artifact"] == "release-${{ matrix.name }}"


def _gates_actions(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps of ``job`` that use gates' action (action.yml: it uploads the reports and writes the job summary)."""
    return [s for s in job["steps"] if "gates@" in str(s.get("uses", ""))]


def test_every_job_uploads_its_reports_and_writes_the_job_summary(workflow):
    """Each job gates through the action (an always() upload of its reports folder, the job summary) under an
    artifact name of its own; every other `uses:` is pinned to a ref."""
    artifacts = []
    for name, job in workflow["jobs"].items():
        gated = _gates_actions(job)
        assert gated and all(s["with"]["reports"].startswith("reports") for s in gated), name
        artifacts += [s["with"]["artifact"] for s in gated]
        assert all("@" in str(s["uses"]) for s in job["steps"] if "uses" in s), name
        assert job.get("timeout-minutes"), name
    assert len(artifacts) == len(set(artifacts)), artifacts


def test_no_deploy_is_detached_and_each_gate_writes_html(workflow):
    """fly deploy always names its strategy and never --detach; five gates (preflight, staging, the drill's two,
    production) run through the action, which writes each one's HTML report."""
    runs = [run for job in workflow["jobs"].values() for run in _runs(job)]
    deploys = [line for run in runs for line in run.splitlines() if "fly deploy" in line]
    assert deploys and all("--strategy" in d and "--detach" not in d for d in deploys)
    gates = [s for job in workflow["jobs"].values() for s in _gates_actions(job) if s["with"]["command"] == "gate"]
    assert [s["with"]["environment"] for s in gates] == ["preflight", "staging", "staging", "staging", "production"]
    assert "--self-contained-html" in (REPO / "action.yml").read_text()


def test_the_workflow_file_is_what_the_readme_points_to():
    """The example README points users at the workflow to copy."""
    assert ".github/workflows/deploy.yml" in (HOTDASH / "README.md").read_text()
    assert Path(WORKFLOW).is_file()


def test_the_workflows_validate_against_github_workflow_schema():
    """deploy.yml (for users) and ci.yml pass GitHub's workflow schema through the gate's own check, and run
    only real flyctl commands (actionlint cannot be installed here)."""
    folder = REPO / ".github" / "workflows"
    for measurement in (workflows_valid(folder), workflows_run_real_fly_commands(folder)):
        assert measurement.ok, measurement.explain()
    assert {Path(d["file"]).name for d in workflows_valid(folder).details} >= {"deploy.yml", "ci.yml"}


def test_the_schema_check_catches_a_broken_workflow(tmp_path):
    """A job without runs-on fails the schema check: it is not a check that cannot fail."""
    (tmp_path / "broken.yml").write_text(WORKFLOW.read_text().replace("runs-on:", "run-on:", 1))
    m = workflows_valid(tmp_path)
    assert not m.ok and f"{tmp_path / 'broken.yml'}:" in m.problems[0]


def test_the_hotdash_image_builds_reproducibly_and_passes_hadolint():
    """The example's Dockerfile (node:20-slim) satisfies its engines (>=20.10), has its lockfile, and lints clean."""
    for measurement in (
        build_reproducible(HOTDASH / "Dockerfile", HOTDASH / "package.json"),
        hadolint(HOTDASH / "Dockerfile"),
    ):
        assert measurement.ok, measurement.explain()
