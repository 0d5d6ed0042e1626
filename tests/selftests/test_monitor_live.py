"""The monitor and the flags against a deployed demo on the local platform (HAProxy's checks, secrets as env)."""

from __future__ import annotations

import json

import httpx

from gates import config as config_mod
from gates.gaterun.runner import run_gate
from gates.platforms.local import LocalPlatform, Site
from gates.platforms.secrets import SecretStore
from tests.selftests.demo import DEMO, gates, junit_results, none_failed

WEBHOOK_ENV = "GATES_SELFTEST_ALERT_WEBHOOK"
GROWTH = "test_memory_does_not_grow_with_requests_through_the_window"
MONITOR = {
    "window": "2s", "rate": 20.0, "rolling": 5, "min_samples": 10,
    "paths": ["/health", "/api/ads/health", "/api/flags"], "webhook_env": WEBHOOK_ENV,
}  # fmt: skip


def test_a_deployed_demo_passes_gates_monitor_and_fails_flags_with_a_flag_on(make_config, servers, tmp_path):
    """Secrets reach the instances; HAProxy's checks are read (0.2 s, passing); `gates monitor` passes with a plot,
    the window's JSON and the gate report in its record, the gate's pytest started with the window and held until
    told to go; the endpoint source sees the flag that is on."""
    cfg = make_config(instances=1)
    flags = {"names": ["ANALYTICS_REAL_DATA"], "source": "endpoint"}
    text = "".join(
        f"\n[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in t.items())
        for name, t in (("monitor", MONITOR), ("flags", flags))
    )
    cfg.path.write_text(cfg.path.read_text() + text)
    cfg = config_mod.load(cfg.path)
    env = cfg.environment("production")
    SecretStore(Site(cfg, env).dir).set("ANALYTICS_REAL_DATA", "true")
    platform = LocalPlatform(cfg)
    platform.deploy(env, str(DEMO))

    assert httpx.get(env.url + "/api/flags", timeout=5).json()["flags"] == {"ANALYTICS_REAL_DATA": True}
    (check,) = platform.health_checks(env)
    assert (check.instance, check.interval, check.status) == ("v1-0", 0.2, "passing")
    assert [s.name for s in platform.secrets(env)] == ["ANALYTICS_REAL_DATA"]

    receiver = servers["receiver"]()
    result = gates(
        "monitor", "--env", "production", "--for", "2s", config=cfg.path, env={WEBHOOK_ENV: receiver.url}, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (record,) = (tmp_path / "config-0" / "deploys").iterdir()
    steps = json.loads((record / "record.json").read_text())["steps"]
    assert [(s["name"], s["env"], s["outcome"]) for s in steps] == [("monitor", "production", "passed")]
    assert {"monitor-production.png", "monitor-production.json", "monitor-production-gate.html"} <= set(
        steps[0]["artifacts"]
    )
    results = junit_results(record / "monitor-production-gate.xml")
    assert none_failed(results), results
    # The gate's pytest was started holding its molecules (--gates-hold), and was told to go once the window was over.
    command = (record / "logs" / "monitor-production-gate.log").read_text().splitlines()[0]
    assert f"--gates-hold {record / 'logs' / 'monitor-production-gate-go'}" in command, command
    assert json.loads((record / "logs" / "monitor-production-gate-go").read_text())["word"] == "go"
    # A 2s window reads memory too few times to judge its growth: the molecule skips saying so, never passes.
    assert results[GROWTH].startswith("skipped: a window of 2s reads memory too few times"), results[GROWTH]
    assert [m["text"] for m in receiver.messages if "test alert" in m["text"]]  # the alert molecule's test alert

    (tmp_path / "flags" / "logs").mkdir(parents=True)
    run_gate(cfg, env, "production and flags", tmp_path / "flags", "g")
    message = junit_results(tmp_path / "flags" / "g.xml")["test_every_flag_is_false_in_production"]
    assert "ANALYTICS_REAL_DATA: is not false in production (value not shown)" in message
