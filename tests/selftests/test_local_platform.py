"""The local platform: releases of the demo app behind HAProxy, deployed, probed, rolled back, stopped."""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gates.config import Config, Environment
from gates.core.errors import GatesError
from gates.core.procs import wait_until
from gates.platforms.base import Release
from gates.platforms.local import LocalPlatform, down, processes, rollback_target, sitelock
from gates.platforms.local.state import Proc, Site
from tests.selftests.demo import DEMO, port_is_free

MakeConfig = Callable[..., Config]


def staging(config: Config) -> tuple[LocalPlatform, Environment]:
    return LocalPlatform(config), config.environment("staging")


def served(env: Environment, path: str = "/health", count: int = 4) -> list[httpx.Response]:
    """``count`` answers of the environment URL: enough to reach every instance of a round robin."""
    return [httpx.get(env.url + path, timeout=5) for _ in range(count)]


def release_headers(responses: list[httpx.Response]) -> set[str]:
    return {r.headers["X-Release"] for r in responses}


def test_second_deploy_serves_release_2_through_haproxy_on_every_instance(make_config: MakeConfig) -> None:
    """After two deploys the environment URL answers from release 2 only, through two healthy instances on release 2."""
    platform, env = staging(make_config())
    platform.deploy(env, str(DEMO))
    second = platform.deploy(env, str(DEMO))

    responses = served(env)
    status = platform.status(env)
    assert (second.version, second.status) == (2, "complete")
    assert [r.status_code for r in responses] == [200] * 4
    assert release_headers(responses) == {"2"}
    assert {r.headers["X-Gates-Server"] for r in responses} == {"v2-0", "v2-1"}
    assert status.release == 2
    assert [(i.id, i.release, i.healthy) for i in status.instances] == [("v2-0", 2, True), ("v2-1", 2, True)]
    assert [(r.version, r.status) for r in platform.releases(env)] == [(2, "complete"), (1, "complete")]


def test_an_instance_slower_than_haproxys_check_interval_but_within_the_health_timeout_is_healthy(
    make_config: MakeConfig, faulty_demo: Callable[[dict[str, Any]], Path]
) -> None:
    """A release whose health path answers in 0.4 s (twice HAProxy's check interval, well within [app] health_timeout:
    a busy machine's pace) deploys, and status calls its instances healthy -- in rotation, and kept warm once
    replaced: HAProxy awaits a check's answer by the clock the deploy and the gate use, not by its interval."""
    config = make_config(instances=1)
    platform, env = LocalPlatform(config), config.environment("production")  # production keeps the previous warm
    slow = str(faulty_demo({"delay_ms": {"/health": 400}}))
    platform.deploy(env, slow)
    platform.deploy(env, slow)
    status = platform.status(env)
    assert [(i.id, i.healthy) for i in status.instances] == [("v2-0", True)], status
    assert [(i.id, i.healthy) for i in status.warm] == [("v1-0", True)], status


def test_release_failing_its_health_check_fails_and_the_old_release_keeps_serving(
    make_config: MakeConfig, faulty_demo: Callable[[dict[str, Any]], Path]
) -> None:
    """A release whose instance never passes GET /health fails naming release, instance and last answer; release 1 serves on."""
    config = make_config()
    # The bound runs from the instance's start: long enough that a loaded machine has the app listening (and
    # answering 503) before it ends, so the verdict quotes that answer rather than a refused connection.
    platform, env = LocalPlatform(config, health_timeout=15), config.environment("staging")
    platform.deploy(env, str(DEMO))

    with pytest.raises(GatesError) as failure:
        platform.deploy(env, str(faulty_demo({"fail_health": True})))

    message = str(failure.value)
    assert "release 2" in message and "instance v2-0" in message and "last answer: 503" in message
    assert "now serving: v1-0 (release 1), v1-1 (release 1)" in message
    assert [(r.version, r.status) for r in platform.releases(env)] == [(2, "failed"), (1, "complete")]
    assert release_headers(served(env)) == {"1"}
    status = platform.status(env)
    assert status.release == 1
    assert [(i.release, i.healthy) for i in status.instances] == [(1, True), (1, True)]


def test_rollback_redeploys_the_previous_release_as_a_new_one_and_says_which(
    make_config: MakeConfig, faulty_demo: Callable[[dict[str, Any]], Path]
) -> None:
    """Rollback rolls out the snapshot of the previous complete release as a new release described as a rollback to
    it, a redeploy, and why (nothing was warm)."""
    platform, env = staging(make_config())
    first = platform.deploy(env, str(DEMO))
    second = platform.deploy(env, str(faulty_demo({"extra_html": "<!-- release two -->"})))

    rolled = platform.rollback(env)

    assert second.ref != first.ref
    assert (rolled.version, rolled.ref, rolled.status) == (3, first.ref, "complete")
    assert rolled.description == "rollback to v1: redeploy, no release kept warm"  # staging keeps none
    pages = served(env, "/app")
    assert release_headers(pages) == {"3"}
    assert not any("release two" in page.text for page in pages)


def test_rollback_without_an_earlier_complete_release_says_there_is_nothing_to_roll_back_to(
    make_config: MakeConfig,
) -> None:
    """Rollback of an environment with no complete release refuses, saying there is nothing to roll back to."""
    platform, env = staging(make_config())

    with pytest.raises(GatesError, match="nothing to roll back to: no complete release yet"):
        platform.rollback(env)


def test_rollback_target_skips_failed_releases_and_the_current_one() -> None:
    """The default rollback target is the newest complete release older than the current (newest complete) one."""
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    history = [Release(1, "a", at, "complete"), Release(2, "b", at, "complete"), Release(3, "c", at, "failed")]

    assert rollback_target(history, None, "staging").version == 1
    assert rollback_target(history, 2, "staging").version == 2
    with pytest.raises(GatesError, match="release 3 is failed"):
        rollback_target(history, 3, "staging")


def test_down_stops_every_gates_process_and_frees_the_port(make_config: MakeConfig) -> None:
    """down stops every instance and the HAProxy gates started, names them, frees the port, and then finds nothing."""
    config = make_config()
    platform, env = staging(config)
    platform.deploy(env, str(DEMO))
    ports = [i.port for i in platform.status(env).instances]

    stopped = down(config)

    assert [s.split(" (")[0] for s in stopped] == [
        "staging: instance v1-0",
        "staging: instance v1-1",
        "staging: HAProxy",
    ]
    assert processes_mentioning(config.state_dir) == []
    assert port_is_free(int(env.url.rsplit(":", 1)[1]))
    assert all(port_is_free(port) for port in ports if port)
    assert [i.id for i in platform.status(env).instances] == []
    assert down(config) == []


def test_down_never_stops_a_process_whose_pid_was_reused(
    make_config: MakeConfig, sleeper: subprocess.Popen[bytes]
) -> None:
    """down leaves alone a process whose pid gates recorded but whose command line is not the one gates started."""
    config = make_config()
    recorded = {"id": "v1-0", "pid": sleeper.pid, "port": 1, "release": 1, "log": "-", "started_at": "-"}
    state = config.state_dir / "staging"
    state.mkdir(parents=True)
    (state / "instances.json").write_text(json.dumps([{**recorded, "argv": ["python", "-m", "uvicorn", "app:app"]}]))
    (state / "haproxy.pid").write_text(f"{sleeper.pid}\n")

    assert down(config) == []
    assert sleeper.poll() is None


def test_deploy_while_another_holds_the_environment_lock_fails_naming_the_lock(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy waits a bounded time for the environment's deploy lock, then fails naming it, having recorded nothing."""
    monkeypatch.setattr(sitelock, "LOCK_TIMEOUT", 0.3)
    platform, env = staging(make_config())
    lock = platform.config.state_dir / "staging" / "deploy.lock"
    lock.parent.mkdir(parents=True)

    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(GatesError, match="waiting for the deploy lock of staging"):
            platform.deploy(env, str(DEMO))

    assert platform.releases(env) == []


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process gates did not start, standing in for one that reused a recorded pid."""
    proc = subprocess.Popen(["sleep", "30"])
    yield proc
    proc.kill()
    proc.wait()


def processes_mentioning(folder: Path) -> list[str]:
    """Command lines of running processes that name ``folder`` (every process gates starts does)."""
    found: list[str] = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended while we looked
            continue
        if str(folder) in text:
            found.append(text)
    return found


def test_a_process_is_named_by_its_pid_and_start_time_whatever_its_command_line_says(tmp_path):
    """A just-spawned instance is running from the first look, even before execve has written its command line
    (or after ``sh -c`` exec'd the app); the same pid with another start time (a reused pid) is not ours, nor
    is a reaped process."""
    child = subprocess.Popen(["sleep", "30"])
    ticks = int(Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[19])
    proc = Proc("v1-0", child.pid, 1, 1, ("sh", "-c", "sleep 30"), str(tmp_path / "log"), "", ticks)
    try:
        assert processes.running(proc), "running though its command line is not the one recorded"
        assert not processes.running(dataclasses.replace(proc, ticks=ticks + 1)), "another process with that pid"
        legacy = dataclasses.replace(proc, ticks=0)  # a record from before start times: named by its command line
        # That one is named by its command line, so only once execve has written it (Popen can return before).
        wait_until("sleep's command line", lambda: processes.cmdline(child.pid) == ["sleep", "30"], timeout=10)
        assert processes.running(dataclasses.replace(legacy, argv=("sleep", "30")))
        assert not processes.running(legacy)
    finally:
        child.kill()
        child.wait()
    assert not processes.running(proc)


def test_instances_started_together_fork_from_one_import_of_the_server_each_with_its_own_environment(
    make_config: MakeConfig,
) -> None:
    """The Python default's batch of four (max_surge 4) is forked from one process: each instance in a session of
    its own, not gates' child, with its own APP_INSTANCE and port (the app imported after its environment was
    set), its output in its own log; all healthy, and `gates down` stops them all."""
    platform, env = staging(make_config(instances=4, max_surge=4))
    platform.deploy(env, str(DEMO))

    status = platform.status(env)
    assert [(i.id, i.healthy) for i in status.instances] == [(f"v1-{n}", True) for n in range(4)]
    answered = {httpx.get(f"http://127.0.0.1:{i.port}/health", timeout=5).json()["instance"] for i in status.instances}
    assert answered == {"v1-0", "v1-1", "v1-2", "v1-3"}
    site = Site(platform.config, env)
    site_logs = site.logs
    deploy_log = (site_logs / "deploy.log").read_text()
    assert all(f"instance v1-{n} started (pid " in deploy_log for n in range(4))
    assert deploy_log.count("forked with the others of its batch") == 4
    for instance in status.instances:
        fields = Path(f"/proc/{instance.pid}/stat").read_text().rpartition(")")[2].split()
        assert int(fields[1]) != os.getpid() and int(fields[2]) == int(fields[3]) == instance.pid  # group, session
        assert "Uvicorn running on http://127.0.0.1:" + str(instance.port) in (site_logs / f"{instance.id}.log").read_text()
    started = site.load_instances()
    down(platform.config)
    assert len(started) == 4 and not any(processes.running(p) or processes.group(p.pid) for p in started)


def test_a_fork_server_that_cannot_import_the_server_fails_each_instance_naming_why(tmp_path: Path) -> None:
    """A fork server whose Python has no uvicorn starts nothing: every instance of the batch is an error naming
    the server's exit and the end of its log (the import that failed), within its bound, and it leaves no process."""
    from gates.platforms.local.forkserver import ForkServer

    log = tmp_path / "logs" / "forkserver.log"
    with ForkServer.running("/usr/bin/python3", tmp_path, {"PATH": "/usr/bin:/bin"}, log) as server:
        outcomes = server.fork([(tmp_path / "logs" / f"v1-{n}.log", {}, ["app:app"]) for n in range(2)])
        again = server.fork([(tmp_path / "logs" / "v1-2.log", {}, ["app:app"])])
    assert len(outcomes) == 2 and all(isinstance(o, GatesError) for o in outcomes), outcomes
    said = str(outcomes[0])
    assert "could not start the instance: the fork server (/usr/bin/python3) exited 1: " in said
    assert "No module named 'uvicorn'" in said and f"(its log: {log})" in said
    assert isinstance(again[0], GatesError) and str(again[0]) == said
    assert server.proc.poll() is not None


def test_a_spawned_process_is_started_directly_in_a_session_of_its_own_and_reaped_when_it_exits(tmp_path):
    """spawn starts the command itself (no launcher process in between: its parent is this process), in a session
    and process group of its own, with only the environment given and its output appended to its log; named by pid
    and start time from the first look; once it exits it is reaped (no zombie left) and its group is gone."""
    log = tmp_path / "logs" / "p.log"
    log.parent.mkdir()
    log.write_text("earlier\n")
    script = "import os, time; print(os.environ.get('ONLY'), 'HOME' in os.environ, flush=True); time.sleep(60)"
    pid, ticks = processes.spawn(["/usr/bin/python3", "-c", script], tmp_path, {"ONLY": "given"}, log)
    proc = Proc("p", pid, 1, 1, (), str(log), "", ticks)
    try:
        assert processes.running(proc)
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        assert (int(fields[1]), int(fields[2]), int(fields[3])) == (os.getpid(), pid, pid)  # parent, group, session
        wait_until("its output", lambda: "given False" in log.read_text(), timeout=30)
        assert log.read_text().startswith("earlier\n")
    finally:
        assert processes.stop_instance(proc)
    wait_until("the exited process to be reaped", lambda: not Path(f"/proc/{pid}").exists(), timeout=10)
    assert not processes.running(proc) and processes.group(pid) == []


@pytest.mark.parametrize("instances", [1, 2])
def test_an_instance_that_crashes_at_start_fails_the_deploy_with_its_log_and_process_state(
    make_config: MakeConfig, tmp_path: Path, instances: int
) -> None:
    """An app that dies on import fails the deploy at once: the message names the instance, what /proc says
    of its pid, and the end of its log (the exception) -- started on its own, or forked with the others of its
    batch (two at once)."""
    platform, env = staging(make_config(instances=instances, max_surge=instances))
    app = tmp_path / "crashing"
    app.mkdir()
    (app / "app.py").write_text("raise RuntimeError('boom at start')\n")

    with pytest.raises(GatesError) as failed:
        platform.deploy(env, str(app))
    message = str(failed.value)
    assert "instance v1-0 exited before it was healthy (pid " in message
    assert "no such process" in message or "state Z" in message
    assert "RuntimeError: boom at start" in message
