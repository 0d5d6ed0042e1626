"""gates as a team installs it: a wheel in a fresh environment, used from the team's own repository.

Nothing of this checkout is on the path of the gate: the wheel's molecules, the team's molecule,
the team's gates.toml. The fresh environment borrows the third-party packages of this one (a .pth
line) so that no download is needed, but imports gates from the wheel alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.selftests.demo import DEMO, REPO, failures, free_port, junit_results

USER_MOLECULE = "test_the_revenue_tile_shows_what_the_database_holds"
# One worker runs the module, so the wheel and its environment are built once.
pytestmark = pytest.mark.xdist_group("installed")



@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with gates installed from a wheel built from this checkout."""
    base = tmp_path_factory.mktemp("wheel")
    # Built from a copy of what a source distribution holds, so the build leaves nothing in the checkout.
    source = base / "source"
    shutil.copytree(REPO / "gates", source / "gates", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(base / "dist"), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (base / "dist").glob("pytest_gates-*.whl")  # the distribution's name, not the index's unrelated `gates`
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # Third-party packages from this environment, after the fresh one's own (where the wheel goes).
    Path(purelib, "borrowed.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    where = subprocess.run(
        [python, "-c", "import gates, gates.gaterun.plugin; print(gates.__file__)"],
        check=True, capture_output=True, text=True, cwd=base,
    ).stdout.strip()  # fmt: skip
    assert where.startswith(purelib), where
    return venv


def team_repo(folder: Path, *, faults: dict[str, object] | None = None, waive: str = "") -> Path:
    """The team's repository: its app (the demo), migrations, gates.toml and one molecule of its own."""
    if not folder.exists():
        shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("__pycache__", "faults.json"))
        (folder / "tests").mkdir()
        shutil.copy(REPO / "examples" / "molecules" / "test_revenue_tile.py", folder / "tests")
        state = folder / ".gates"  # where a team keeps it: the snapshot of what ships leaves it out
        (folder / "gates.toml").write_text(
            "[app]\n"
            'name = "team-app"\n'
            'source = "."\n'
            'health_paths = ["/health", "/api/ads/health", "/api/analytics/health"]\n\n'
            "[environments.staging]\n"
            'platform = "local"\n'
            f'url = "http://127.0.0.1:{free_port()}"\n'
            f'admin_url = "http://127.0.0.1:{free_port()}/"\n'
            "instances = 1\n\n"
            f"[local]\nstate_dir = {json.dumps(str(state))}\npostgres_port = {free_port()}\n\n"
            '[database]\npublic_tables = ["public.dashboard_tiles", "public.ad_campaigns"]\n\n'
            '[browser]\ntiles = ["revenue", "orders", "conversion", "campaigns"]\n'
            + waive
        )
    if faults is not None:
        (folder / "faults.json").write_text(json.dumps(faults))
    return folder


def run(
    venv: Path, repo: Path, *args: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("GATES_", "PYTEST_"))}, **(env or {})}
    # The fresh environment first; then this one's scripts (squawk), as the borrowed packages' own would be.
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run([*args], cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)


def test_a_wheel_collects_its_molecules_and_the_teams_own_in_the_teams_repository(installed, tmp_path):
    """`pytest -m staging --collect-only` in a team's repository lists gates' molecules and the team's, both forms of --gates-config."""
    repo = team_repo(tmp_path / "team")
    listed = run(installed, repo, "python", "-m", "pytest", "-m", "staging", "--collect-only", "-q")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert f"tests/test_revenue_tile.py::{USER_MOLECULE}" in listed.stdout
    assert "test_every_health_path_answers_200" in listed.stdout and "test_every_tile_shows_data" in listed.stdout
    assert str(REPO) not in listed.stdout  # the molecules come from the wheel, not this checkout
    for form in (["--gates-config", str(repo / "gates.toml")], [f"--gates-config={repo / 'gates.toml'}"]):
        again = run(installed, tmp_path, "python", "-m", "pytest", "-m", "staging", "--collect-only", "-q", *form)
        assert again.returncode == 0 and "test_every_health_path_answers_200" in again.stdout, again.stdout + again.stderr


def test_a_wheel_deploys_the_teams_app_and_the_teams_molecule_can_fail_it(installed, tmp_path):
    """`gates deploy` from the team's repository passes; with the tile broken, the team's molecule fails the gate by name."""
    waive = '\n[gate]\nwaive = { test_every_tile_shows_data = "the revenue tile is checked by our own molecule" }\n'
    repo = team_repo(tmp_path / "team", waive=waive)
    try:
        good = run(installed, repo, "gates", "deploy", "--first-release")
        assert good.returncode == 0, good.stdout + good.stderr
        record = json.loads(next((repo / "reports" / "deploys").glob("*/record.json")).read_text())
        gate = next(s for s in record["steps"] if s["name"] == "gate")
        assert "waived: test_every_tile_shows_data (the revenue tile is checked by our own molecule)" in gate["detail"]
        assert record["waived"] == {"staging: test_every_tile_shows_data": "the revenue tile is checked by our own molecule"}
        report = (repo / "reports" / "deploys" / record["id"] / "staging-gate.html").read_text()
        assert "waived: the revenue tile is checked by our own molecule" in report
        team_repo(repo, faults={"empty_tiles": ["revenue"]})
        bad = run(installed, repo, "gates", "deploy", "--first-release")
        said = [line for line in bad.stdout.splitlines() if "gate staging (" in line]  # the gate's end line
        assert bad.returncode == 1 and said, bad.stdout + bad.stderr
        assert f"failed: {USER_MOLECULE}: " in said[0] and "-> , expected $48,210" in said[0], said
        (latest,) = sorted((repo / "reports" / "deploys").glob("*/staging-gate.xml"))[-1:]
        results = junit_results(latest)
        assert USER_MOLECULE in failures(results) and results["test_every_health_path_answers_200"] == "passed"
    finally:
        run(installed, repo, "gates", "down", timeout=120)


def action_steps(inputs: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """(name, script, env) of each shell step of action.yml as GitHub would run it with ``inputs`` (its
    `uses:` steps are GitHub's own actions: tests/selftests/test_action.py checks them)."""
    action = yaml.safe_load((REPO / "action.yml").read_text())
    values = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()} | inputs
    steps = []
    for step in action["runs"]["steps"]:
        if "run" not in step:
            continue
        assert "${{" not in step["run"], f"{step['name']}: a script reads its inputs from env, never from ${{{{ }}}}"
        condition = step.get("if", "always()")
        assert condition in ("always()", "inputs.check == 'true'"), condition
        if condition == "inputs.check == 'true'" and values["check"] != "true":
            continue
        env = {k: re.sub(r"\$\{\{ inputs\.([\w-]+) \}\}", lambda m: values[m.group(1)], str(v)) for k, v in step["env"].items()}
        steps.append((step["name"], step["run"], env))
    return steps


def test_from_pip_install_to_a_gated_release_with_the_config_gates_init_wrote(installed, tmp_path, servers):
    """pytest-gates from its wheel (README as its description, `gates --version`): in a new team repository
    `gates init`, then the GitHub Action's shell steps run here (install, `gates doctor`, `gates config check`,
    `gates deploy` of staging and production) with the written config unchanged: the release passes."""
    metadata = run(installed, tmp_path, "python", "-c", "import importlib.metadata as m; d = m.metadata('pytest-gates'); print(d['Name']); print(d['Description'])")
    assert metadata.stdout.startswith("pytest-gates\n# gates\n"), metadata.stdout + metadata.stderr
    assert run(installed, tmp_path, "gates", "--version").stdout.strip() == "gates 0.1.0"
    repo = tmp_path / "team"
    shutil.copytree(DEMO, repo, ignore=shutil.ignore_patterns("__pycache__", "faults.json"))
    webhook = servers["receiver"]()
    said = run(installed, repo, "gates", "init")
    assert said.returncode == 0 and said.stdout.rstrip().endswith("gates deploy --first-release"), said.stdout + said.stderr
    written = (repo / "gates.toml").read_text()
    summary = tmp_path / "summary.md"
    env = {"SLACK_WEBHOOK_URL": f"{webhook.url}/hook", "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    (wheel,) = installed.parent.glob("dist/pytest_gates-*.whl")
    try:
        for name, script, step_env in action_steps({"package": str(wheel), "args": "--first-release --approve"}):
            done = run(installed, repo, "bash", "-e", "-c", script, env={**env, **step_env})
            assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"
            if name.startswith("The tools"):  # gates doctor, then gates config check
                assert "\nsupabase: 3.1.0 at " in done.stdout and ": ok: app team" in done.stdout, done.stdout
        record = json.loads(next((repo / "reports" / "deploys").glob("*/record.json")).read_text())
        assert record["outcome"] == "passed" and {s["env"] for s in record["steps"] if s["name"] == "gate"} == {"staging", "production"}
        assert webhook.messages, "no release notification reached the team's channel"
        assert summary.read_text().startswith("## gates release ")  # the job summary, written by gates deploy itself
        assert (repo / "gates.toml").read_text() == written
    finally:
        run(installed, repo, "gates", "down", timeout=120)
