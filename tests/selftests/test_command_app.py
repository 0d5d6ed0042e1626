"""The local platform runs any app by command: a Node app built by `npm ci` and started by `npm start`.

The app is written here: plain `node:http`, a package.json whose start script runs node (so node is
a grandchild of the instance's shell, as with any `npm start`), and a lockfile with no dependency, so
`npm ci` runs offline. It never says which release it is: the platform knows.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gates import config as config_mod
from gates.config import Config
from gates.core.errors import GatesError, UsageError
from gates.evidence.record import Record
from gates.evidence.state import Drill
from gates.gaterun import probe
from gates.platforms.local import LocalPlatform, build, down
from gates.platforms.local.snapshots import take
from gates.release import Context, Step, execute
from gates.release.deploy import deploy_step
from tests.selftests.demo import DEMO, write_config
from tests.selftests.platformfixtures import DEMO_DB_ENV, UNREACHABLE_DB_URL

SERVER_JS = """\
const http = require("node:http");
const server = http.createServer((req, res) => {
  const body = req.url === "/health" ? JSON.stringify({ status: "ok" }) : "<p>tiny node app</p>";
  res.writeHead(200, { "content-type": req.url === "/health" ? "application/json" : "text/html" });
  res.end(body);
});
server.listen(Number(process.env.PORT), process.env.HOST, () => console.log(`listening on ${process.env.PORT}`));
process.on("SIGTERM", () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });
"""
PACKAGE = {"name": "tiny", "version": "1.0.0", "private": True, "scripts": {"start": "node server.js"}}
LOCK = {"name": "tiny", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
        "packages": {"": {"name": "tiny", "version": "1.0.0"}}}  # fmt: skip
NODE_APP = {"build": "npm ci --no-audit --no-fund", "start": "npm start", "health_paths": ["/health"]}

MakeNodeConfig = Callable[..., Config]


def node_app(folder: Path, *, lockfile: bool = True) -> Path:
    folder.mkdir(parents=True)
    (folder / "server.js").write_text(SERVER_JS)
    (folder / "package.json").write_text(json.dumps(PACKAGE))
    if lockfile:
        (folder / "package-lock.json").write_text(json.dumps(LOCK))
    return folder


@pytest.fixture
def make_node_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A factory of configs releasing a Node app (written into tmp) to local environments on free ports."""
    monkeypatch.setenv(DEMO_DB_ENV, UNREACHABLE_DB_URL)
    monkeypatch.delenv("GATES_STATE_DIR", raising=False)
    made: list[Config] = []

    def make(*, lockfile: bool = True, app: dict[str, Any] | None = None, **settings: Any) -> Config:
        source = node_app(tmp_path / f"node-{len(made)}", lockfile=lockfile)
        table = {"database_url_env": DEMO_DB_ENV, **settings}
        probe_paths = '\n[probe]\npaths = ["/health", "/"]\n'
        app = {**NODE_APP, **(app or {})}
        variables = app.pop("env", {})  # a TOML table: written by hand below (write_config writes JSON values)
        path = write_config(
            tmp_path / f"config-{len(made)}", environments={"staging": table, "production": table},
            source=source, app=app, extra=probe_paths,
        )  # fmt: skip
        inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in variables.items())
        path.write_text(path.read_text().replace("[app]\n", f"[app]\nenv = {{ {inline} }}\n", 1))
        made.append(config_mod.load(path))
        return made[-1]

    yield make
    for config in made:
        down(config)


def deploy_probed(cfg: Config) -> Record:
    """One `gates deploy`-style deploy step of production (under the traffic probe), with its own record."""
    ctx = Context(cfg, Record(cfg.record_dir))
    waiver = "a deploy step on its own: the command platform's self-test"
    ctx.state.drill = Drill(env="staging", waived=waiver)
    execute(ctx, [Step("deploy", "production", deploy_step)])
    return ctx.record


def processes_under(folder: Path) -> list[str]:
    """Command lines of live processes whose working directory is inside ``folder`` (every instance's is)."""
    found: list[str] = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = (proc / "cwd").resolve()
            stat = (proc / "stat").read_text().rpartition(")")[2].split()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # ended while we looked, or not ours to see
            continue
        if stat and stat[0] != "Z" and cwd.is_relative_to(folder):
            found.append(cmdline)
    return found


@pytest.mark.parametrize("strategy", ["rolling", "bluegreen", "canary"])
def test_a_node_app_released_by_command_loses_no_request(make_node_config: MakeNodeConfig, strategy: str) -> None:
    """A Node app built by `npm ci` and started by `npm start` (no X-Release of its own) rolls from release 1
    to 2 with zero failed probe requests, every answer attributed to its release by the platform."""
    cfg = make_node_config(strategy=strategy)
    assert deploy_probed(cfg).outcome == "passed"

    record = deploy_probed(cfg)

    assert record.outcome == "passed", record.reason
    run = probe.load(record.dir / "probe-production.jsonl")
    assert probe.judge(run, 2, cfg).ok, probe.judge(run, 2, cfg).explain()
    assert {s.release for s in run.samples} == {"1", "2"} and not [s for s in run.samples if s.failed]
    assert {s.server for s in run.samples if s.release == "2"} == {"v2-0", "v2-1"}
    served = httpx.get(cfg.environment("production").url + "/", timeout=5)
    assert "tiny node app" in served.text and served.headers["X-Release"] == "2"


def test_a_second_deploy_of_unchanged_content_reuses_the_build(make_node_config: MakeNodeConfig) -> None:
    """The same content is built once: the second release says "reused build" and the build ran once."""
    cfg = make_node_config(instances=1)
    platform, env = LocalPlatform(cfg), cfg.environment("staging")

    first = platform.deploy(env, str(cfg.app_source))
    second = platform.deploy(env, str(cfg.app_source))
    production = cfg.environment("production")
    third = platform.deploy(production, str(cfg.app_source))

    assert first.description.startswith(f"built {first.ref} in ") and "working tree (not in git)" in first.description
    assert second.description.startswith(f"reused build {first.ref}") and second.ref == first.ref
    assert third.description.startswith(f"reused build {first.ref}"), "environments share builds"
    log = cfg.state_dir / "builds" / f"{first.ref}.log"
    assert log.read_text().count("$ /bin/sh -c 'npm ci --no-audit --no-fund'") == 1


def test_a_build_that_fails_names_the_command_and_its_error_and_deploys_nothing(
    make_node_config: MakeNodeConfig,
) -> None:
    """`npm ci` without a lockfile fails the build: GatesError naming the command and npm's reason, no release
    recorded, nothing started; `build` alone (what a release runs before migrating) fails the same way."""
    cfg = make_node_config(lockfile=False)
    platform, env = LocalPlatform(cfg), cfg.environment("staging")

    with pytest.raises(GatesError) as before_migrating:
        build(cfg, env)
    with pytest.raises(GatesError) as deploying:
        platform.deploy(env, str(cfg.app_source))

    for failure in (before_migrating, deploying):
        message = str(failure.value)
        assert "build for staging failed: `npm ci --no-audit --no-fund` exited 1" in message
        assert "can only install with an existing package-lock.json" in message
    assert platform.releases(env) == []
    assert processes_under(cfg.state_dir) == []


def test_down_and_rollouts_leave_no_node_process_behind(make_node_config: MakeNodeConfig) -> None:
    """Each instance is a process group (sh -> npm -> sh -> node): a rollout stops the old groups whole,
    and `down` stops the rest, leaving no process of the environment running."""
    cfg = make_node_config()
    platform, env = LocalPlatform(cfg), cfg.environment("staging")
    platform.deploy(env, str(cfg.app_source))
    platform.deploy(env, str(cfg.app_source))

    running = processes_under(cfg.state_dir)
    assert len([p for p in running if p.startswith("node server.js")]) == 2, running

    stopped = down(cfg)

    assert [s.split(" (")[0] for s in stopped] == [
        "staging: instance v2-0",
        "staging: instance v2-1",
        "staging: HAProxy",
    ]
    assert processes_under(cfg.state_dir) == []


def test_the_python_demo_runs_by_its_start_command_alone(make_config: Callable[..., Config], tmp_path: Path) -> None:
    """The Python demo is one `start` command like any app: uvicorn on $PORT, ready on the first health path."""
    cfg = make_config(instances=1)
    start = "python -m uvicorn app:app --host $HOST --port $PORT"
    text = cfg.path.read_text().replace("[app]\n", f"[app]\nstart = {json.dumps(start)}\n", 1)
    cfg.path.write_text(text)
    cfg = config_mod.load(cfg.path)
    platform, env = LocalPlatform(cfg), cfg.environment("staging")

    release = platform.deploy(env, str(DEMO))

    assert (release.version, release.status) == (1, "complete")
    assert httpx.get(env.url + "/health", timeout=5).headers["X-Release"] == "1"
    assert [(i.release, i.healthy) for i in platform.status(env).instances] == [(1, True)]
    down(cfg)


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def test_a_snapshot_in_git_is_the_committed_tree_and_names_uncommitted_changes(tmp_path: Path) -> None:
    """In git, a snapshot holds the committed files of the app folder only (an uncommitted module is not
    shipped, an edit is not shipped), names what was left uncommitted, and never holds gates' state,
    traces or node_modules."""
    repo = tmp_path / "repo"
    app = node_app(repo / "apps" / "web")
    (app / "node_modules").mkdir()
    (app / "node_modules" / "x.js").write_text("installed")
    git(repo, "init", "-q")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-f", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "app")
    (app / "server.js").write_text("edited, not committed")
    (app / "extra.js").write_text("never committed")
    (app / ".gates").mkdir()
    (app / ".gates" / "state.json").write_text("{}")

    snap = take(app, tmp_path / "snap")

    assert sorted(p.name for p in snap.folder.iterdir()) == ["package-lock.json", "package.json", "server.js"]
    assert (snap.folder / "server.js").read_text() == SERVER_JS
    assert snap.uncommitted == ("extra.js", "server.js")
    assert snap.origin.startswith(f"commit {snap.commit[:12]}; uncommitted changes not shipped: extra.js, server.js")


def test_a_snapshot_outside_git_is_the_working_tree_filtered_by_the_ignore_files(tmp_path: Path) -> None:
    """Outside git, a snapshot is the working tree less what .gitignore and .dockerignore name, and less
    node_modules, traces and gates' state whatever they say."""
    app = node_app(tmp_path / "app")
    (app / ".gitignore").write_text("# build output\ndist/\n*.log\n")
    (app / ".dockerignore").write_text("secrets.env\n")
    for name in ("dist/bundle.js", "debug.log", "secrets.env", "node_modules/x.js", "trace.zip", "src/ok.js"):
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(name)

    snap = take(app, tmp_path / "snap")

    shipped = sorted(p.relative_to(snap.folder).as_posix() for p in snap.folder.rglob("*") if p.is_file())
    assert shipped == [".dockerignore", ".gitignore", "package-lock.json", "package.json", "server.js", "src/ok.js"]
    assert (snap.commit, snap.uncommitted, snap.origin) == ("", (), "working tree (not in git)")


def test_the_build_and_the_instances_get_app_env_and_none_of_gates_other_variables(
    make_node_config: MakeNodeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[app] env` reaches the build and every instance (with PORT and HOST), and the build alone is told to
    install dev dependencies; a variable of the gates process that is not passed on on purpose (another
    environment's secret) reaches neither, nor does a node_modules/.bin folder of its PATH."""
    monkeypatch.setenv("PRODUCTION_DB_URL_FOR_TEST", "postgresql://u:never-in-a-build@db/x")
    monkeypatch.setenv("PATH", f"/work/tree/node_modules/.bin:{os.environ['PATH']}")  # a developer's shell
    app = {
        "build": "npm ci --no-audit --no-fund && env > build-env.txt",
        "start": "env > instance-env-$PORT.txt && exec node server.js",
        "env": {"NODE_ENV": "production"},
    }
    cfg = make_node_config(instances=1, app=app)
    platform, env = LocalPlatform(cfg), cfg.environment("staging")

    release = platform.deploy(env, str(cfg.app_source))

    folder = cfg.state_dir / "builds" / release.ref
    port = platform.status(env).instances[0].port
    built, started = (folder / "build-env.txt").read_text(), (folder / f"instance-env-{port}.txt").read_text()
    assert "NODE_ENV=production" in built and "NODE_ENV=production" in started
    assert "npm_config_include=dev" in built and "npm_config_include" not in started  # the build's dev dependencies
    assert "/work/tree/node_modules/.bin" not in built + started  # the working tree's bins stand in for nothing
    assert f"PORT={port}" in started and "HOST=127.0.0.1" in started and "APP_RELEASE=1" in started
    assert "never-in-a-build" not in built + started


def test_an_app_that_says_another_release_is_never_ready(make_node_config: MakeNodeConfig) -> None:
    """An app need not send X-Release, but one that does must send its own: an instance answering as
    another release fails its readiness naming what it said, and gets no traffic."""
    cfg = make_node_config(instances=1, app={"build": "", "start": "node server.js"})
    server = cfg.app_source / "server.js"
    server.write_text(SERVER_JS.replace("res.writeHead(200, {", 'res.writeHead(200, { "x-release": "7",'))
    platform, env = LocalPlatform(cfg, health_timeout=3), cfg.environment("staging")

    with pytest.raises(GatesError) as failed:
        platform.deploy(env, str(cfg.app_source))

    assert "instance v1-0" in str(failed.value) and "(X-Release '7', expected 1)" in str(failed.value)
    assert processes_under(cfg.state_dir) == []


BOOT_CHECK = 'if (!process.env.SESSION_SECRET) {\n  throw new Error("boot: SESSION_SECRET is not set");\n}\n'


def test_an_app_that_throws_at_boot_is_explained_by_its_first_error_and_its_output_is_kept(
    make_node_config: MakeNodeConfig,
) -> None:
    """A committed Node app that throws at boot (`npm start`: node's stack, `Node.js v20`, then npm's lines): the
    deploy fails quoting the thrown error, not the footer, and the record keeps the instance's whole output in a
    file the step names and lists."""
    cfg = make_node_config(instances=1)
    app = cfg.app_source
    (app / "server.js").write_text(BOOT_CHECK + SERVER_JS)
    git(app, "init", "-q")
    git(app, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    git(app, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "app that needs its secret")

    record = deploy_probed(cfg)

    step = next(s for s in record.steps if s.name == "deploy")
    assert (record.outcome, step.outcome) == ("failed", "failed")
    assert "instance v1-0 exited before it was healthy" in step.detail
    assert "its first error: Error: boot: SESSION_SECRET is not set (its output: " in step.detail
    assert "Node.js v" not in step.detail and "npm error" not in step.detail
    kept = "logs/instances-production/v1-0.log"
    assert f"instance v1-0's output: {kept}, in the record" in step.detail and kept in step.artifacts
    output = (record.dir / kept).read_text()
    assert 'throw new Error("boot: SESSION_SECRET is not set")' in output and "Node.js v" in output


ONLY_HERE = "only-in-the-working-tree"
NODE_BUILD = {"build": "npm ci --no-audit --no-fund && node build.js", "start": "npm start"}


def committed(app: Path, message: str) -> None:
    git(app, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    git(app, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)


def repository_with_a_module(tmp_path: Path) -> Path:
    """A repository whose own node_modules holds ONLY_HERE (as a developer's install would), and a committed
    Node app in ``app/`` whose build requires it without declaring it."""
    repo = tmp_path / "repo"
    module = repo / "node_modules" / ONLY_HERE
    module.mkdir(parents=True)
    (module / "index.js").write_text("module.exports = 'from the working tree';\n")
    app = node_app(repo / "app")
    (app / "build.js").write_text(f"require({ONLY_HERE!r});\n")
    git(repo, "init", "-q")
    committed(repo / "app", "an app whose build needs a module it does not declare")
    return repo


@pytest.mark.parametrize("inside", [True, False], ids=["state-in-the-repository", "state-elsewhere"])
def test_a_build_resolves_nothing_outside_its_snapshot_wherever_the_state_folder_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inside: bool
) -> None:
    """A build needing a module only the working tree's node_modules has fails naming it, with the state folder in
    the repository (where Node would find that module above the build) as elsewhere; once the app needs it no more
    it builds, once: the second build of the same content is reused, and neither is below the repository."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(DEMO_DB_ENV, UNREACHABLE_DB_URL)
    repo = repository_with_a_module(tmp_path)
    environments = {"staging": {"database_url_env": DEMO_DB_ENV}}
    path = write_config(
        repo if inside else tmp_path / "elsewhere", source=repo / "app", app=NODE_BUILD, environments=environments
    )
    cfg = config_mod.load(path)
    env = cfg.environment("staging")

    with pytest.raises(GatesError) as failed:
        build(cfg, env)
    (repo / "app" / "build.js").write_text("console.log('built');\n")
    committed(repo / "app", "the build needs nothing undeclared")
    first, second = build(cfg, env), build(cfg, env)

    assert "build for staging failed: `npm ci --no-audit --no-fund && node build.js` exited 1" in str(failed.value)
    assert f"Error: Cannot find module '{ONLY_HERE}'" in str(failed.value)
    assert (first.reused, second.reused, second.ref) == (False, True, first.ref)
    assert not first.folder.resolve().is_relative_to(repo.resolve()), first.folder
    assert first.folder.is_relative_to(tmp_path / "cache" if inside else cfg.state_dir)


# A build tool as a devDependency (as @react-router/dev is the demo's): a package of the app itself, so npm ci
# installs it offline. Its bin writes built.txt.
MAKER = {"name": "maker", "version": "1.0.0", "bin": {"maker": "./maker.js"}}
MAKER_JS = '#!/usr/bin/env node\nrequire("node:fs").writeFileSync("built.txt", "made\\n");\n'
DEV_PACKAGE = {
    **PACKAGE,
    "scripts": {**PACKAGE["scripts"], "build": "maker"},
    "devDependencies": {"maker": "file:./tools/maker"},
}
DEV_LOCK = {**LOCK, "packages": {
    "": {"name": "tiny", "version": "1.0.0", "devDependencies": {"maker": "file:./tools/maker"}},
    "node_modules/maker": {"resolved": "tools/maker", "link": True},
    "tools/maker": {"version": "1.0.0", "dev": True, "bin": {"maker": "maker.js"}},
}}  # fmt: skip


def test_the_build_gets_its_dev_dependencies_whatever_node_env_the_app_sets(make_node_config: MakeNodeConfig) -> None:
    """`[app] env = { NODE_ENV = "production" }` (which makes npm omit dev dependencies): the build's `npm ci` still
    installs the devDependency its `npm run build` runs, as fly launch's Dockerfile runs `npm ci --include=dev`."""
    cfg = make_node_config(
        app={"build": "npm ci --no-audit --no-fund && npm run build", "env": {"NODE_ENV": "production"}}
    )
    app = cfg.app_source
    (app / "tools" / "maker").mkdir(parents=True)
    (app / "tools" / "maker" / "package.json").write_text(json.dumps(MAKER))
    (app / "tools" / "maker" / "maker.js").write_text(MAKER_JS)
    (app / "tools" / "maker" / "maker.js").chmod(0o755)
    (app / "package.json").write_text(json.dumps(DEV_PACKAGE))
    (app / "package-lock.json").write_text(json.dumps(DEV_LOCK))

    built = build(cfg, cfg.environment("staging"))

    assert (built.folder / "built.txt").read_text() == "made\n"


def test_builds_that_would_land_below_a_node_modules_are_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the builds' folder itself has a node_modules above it (a cache folder inside a project), the build
    stops before anything is copied or run: a usage error naming that node_modules and what to set."""
    repo = repository_with_a_module(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(repo / "cache"))
    monkeypatch.setenv(DEMO_DB_ENV, UNREACHABLE_DB_URL)
    path = write_config(
        repo, source=repo / "app", app=NODE_BUILD, environments={"staging": {"database_url_env": DEMO_DB_ENV}}
    )
    cfg = config_mod.load(path)

    with pytest.raises(UsageError) as refused:
        build(cfg, cfg.environment("staging"))

    assert f"would resolve modules from {repo.resolve() / 'node_modules'} (Node looks in every folder above)" in str(
        refused.value
    )
    assert "set XDG_CACHE_HOME or [local] state_dir to a folder outside any project" in str(refused.value)
    assert not (repo / "cache").exists()
