"""The synthetic monitor: sampling, evaluation, alerts (one per breach, then a recovery), the Prometheus source,
the monitor molecules and `gates monitor`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from gates import config as config_mod
from gates.checks.monitoring import health_checks_configured, window_within_thresholds
from gates.core.errors import GatesError
from gates.evidence.channels import Recorded
from gates.gaterun.runner import run_gate
from gates.monitor import Alerter, Breach, Delivery, Sample, Stats, Thresholds, breaches, p95, sample, stats
from gates.monitor.prometheus import instant, queries, window_stats
from gates.monitor.window import WINDOW_ENV, load_window, run_window, stats_of
from gates.platforms.base import HealthCheck
from gates.platforms.fly import fly_health_checks
from gates.release import plan
from tests.selftests.demo import free_port, gates, junit_results, write_config

WEBHOOK_ENV = "GATES_SELFTEST_ALERT_WEBHOOK"


def monitor_config(folder: Path, url: str, **monitor: Any) -> config_mod.Config:
    """A config whose production environment is ``url`` (a local stand-in), with a [monitor] section."""
    path = write_config(folder, environments={"production": {"url": url}})
    table = {"webhook_env": WEBHOOK_ENV, **monitor}
    with path.open("a") as fh:
        fh.write("\n[monitor]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items()))
    return config_mod.load(path)


def samples(durations: list[float], failed: set[int] = frozenset()) -> list[Sample]:  # type: ignore[assignment]
    return [Sample(float(i), "u", 500 if i in failed else 200, d) for i, d in enumerate(durations)]


# -- evaluation: pure ------------------------------------------------------------------------------


def test_p95_is_the_nearest_rank_percentile():
    """p95 of 1..100 is 95; of one sample it is that sample; of none it is None."""
    assert p95([float(i) for i in range(100, 0, -1)]) == 95.0
    assert p95([0.3]) == 0.3 and p95([]) is None


def test_a_window_with_too_few_samples_fails():
    """Fewer samples than the minimum fail the window check, however good they are (fail closed)."""
    m = window_within_thresholds(stats(samples([0.01] * 5)), Thresholds(0.001, 3.0, 20), "test")
    assert not m.ok
    assert m.problems == ("5 samples < 20 required",)


def test_a_window_with_no_data_fails_on_every_count():
    """No samples at all: too few samples, and error rate and p95 unknown, each a breach."""
    found = breaches(Stats("synthetic", 0, None, None), Thresholds())
    assert [b.metric for b in found] == ["samples", "error rate", "p95"]


def test_a_clean_window_passes_and_one_error_in_a_hundred_breaches_0_1_percent():
    """100 fast answers pass; one failure among them is 1 % >= 0.1 %: a breach naming the error rate."""
    assert window_within_thresholds(stats(samples([0.01] * 100)), Thresholds(), "t").ok
    m = window_within_thresholds(stats(samples([0.01] * 100, {50})), Thresholds(), "t")
    assert not m.ok and m.problems == ("error rate 1.00% >= 0.10%",)


def test_alerter_sends_one_alert_per_breach_and_one_recovery():
    """A breach seen on five evaluations in a row sends one alert; its end sends one recovery; a later breach alerts again."""
    sent: list[dict[str, Any]] = []
    alerter = Alerter(Recorded(lambda text: sent.append({"text": text}) or Delivery(True, 200)), where="demo production", evidence="monitor.json")
    breach = [Breach("error rate", 0.2, 0.001)]
    for at, found in enumerate([[], breach, breach, breach, breach, breach, [], [], breach, []]):
        alerter.observe(1_700_000_000.0 + at, found)
    assert [e.kind for e in alerter.events] == ["alert", "recovery", "alert", "recovery"]
    first = sent[0]["text"]
    assert "demo production" in first and "error rate 20.00% >= 0.10%" in first and "monitor.json" in first
    assert "2023-11-14T22:13:21+00:00" in first  # when it started
    assert "after 5.0s" in sent[1]["text"]


# -- the window, live against local servers -----------------------------------------------------------


def test_a_fault_during_the_window_sends_exactly_one_alert_and_one_recovery(tmp_path, servers, monkeypatch):
    """Requests 10-19 fail: the receiver gets one alert naming the error rate, then one recovery once it clears."""
    receiver = servers["receiver"]()
    target = servers["target"](fail=lambda n: 10 <= n < 20)
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url + "/hook")
    cfg = monitor_config(tmp_path, target.url, rate=200.0, rolling=5, min_samples=10, paths=["/health"])

    result = run_window(cfg, cfg.environment("production"), 60, tmp_path / "out", "monitor", stop_after=40)

    texts = [m["text"] for m in receiver.messages]
    assert len(texts) == 2, texts
    assert "error rate" in texts[0] and "rotating_light" in texts[0] and "monitor.json" in texts[0]
    assert "recovered" in texts[1]
    assert [e.kind for e in result.events] == ["alert", "recovery"]
    assert not result.ok and result.stats.errors == 10
    data, taken = load_window(result.json_path)
    assert len(taken) == 40 and stats_of(data, taken).errors == 10
    assert [e["kind"] for e in data["events"]] == ["alert", "recovery"]
    assert result.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_slow_endpoint_breaches_p95(tmp_path, servers, monkeypatch):
    """An endpoint answering in no less than 0.3 s breaches a 0.1 s p95 limit; the window check names p95 and its value."""
    monkeypatch.setenv(WEBHOOK_ENV, servers["receiver"]().url)
    target = servers["target"](delays={"/slow": 0.3})
    cfg = monitor_config(tmp_path, target.url, rate=100.0, rolling=4, min_samples=8, max_p95=0.1, paths=["/slow"])

    result = run_window(cfg, cfg.environment("production"), 60, tmp_path / "out", "monitor", stop_after=8)

    m = window_within_thresholds(result.stats, Thresholds(0.001, 0.1, 8), "t")
    # The injected delay is a floor of every answer's duration; a loaded machine only adds to it.
    assert result.stats.p95 is not None and result.stats.p95 >= 0.3
    assert not m.ok and m.problems == (f"p95 {result.stats.p95:.3f}s >= 0.1s",)
    assert [e.kind for e in result.events] == ["alert"]  # still breaching at the end: no recovery


def test_the_sampler_records_transport_errors_and_stops_after_n_samples():
    """Against a closed port every sample is an error with no status; stop_after bounds the count."""
    taken = sample([f"http://127.0.0.1:{free_port()}/health"], rate=500, duration=30, stop_after=5)
    assert len(taken) == 5 and all(s.status is None and s.failed and "ConnectionRefusedError" in s.error for s in taken)


# -- Prometheus source ---------------------------------------------------------------------------------


def vector(value: str) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1.7e9, value]}]}}


def test_prometheus_success_vector_is_read_with_the_token_and_the_promql(servers):
    """A success vector gives its number; the query is Fly's PromQL for the app and window."""
    url, seen = servers["canned"](200, vector("0.0004"))
    assert instant(url, queries("hotdash-app", 300)["error_rate"], "tok") == 0.0004
    assert 'fly_edge_http_responses_count{app="hotdash-app",status=~"5.."}[300s]' in httpx.URL(seen[0]).params["query"]
    s = window_stats(url, "tok", "hotdash-app", 300)
    assert (s.source, s.count, s.error_rate, s.p95) == ("prometheus", 0, 0.0004, 0.0004)


def test_prometheus_empty_result_fails_closed(servers):
    """An empty result (no series for the app) is an error naming the query, not a zero."""
    url, _ = servers["canned"](200, {"status": "success", "data": {"resultType": "vector", "result": []}})
    with pytest.raises(GatesError, match="empty result: fail closed"):
        instant(url, "up", "tok")


def test_prometheus_error_status_is_an_error_naming_it(servers):
    """An error answer (bad PromQL) fails with Prometheus' own error text; NaN fails too."""
    url, _ = servers["canned"](400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"})
    with pytest.raises(GatesError, match="parse error at char 5"):
        instant(url, "sum(", "tok")
    nan_url, _ = servers["canned"](200, vector("NaN"))
    with pytest.raises(GatesError, match="nan"):
        instant(nan_url, "x", "tok")


def test_a_window_with_the_prometheus_source_judges_fly_metrics(tmp_path, servers, monkeypatch):
    """With source = prometheus the window's verdict is Prometheus' numbers; a failing API leaves no data (fails)."""
    target = servers["target"]()
    prom, _ = servers["canned"](200, vector("25"))
    monkeypatch.setenv("GATES_SELFTEST_PROM_TOKEN", "tok-123456")
    monkeypatch.setenv(WEBHOOK_ENV, servers["receiver"]().url)
    cfg = monitor_config(
        tmp_path, target.url, source="prometheus", prometheus_url=prom, prometheus_token_env="GATES_SELFTEST_PROM_TOKEN",
        rate=200.0, rolling=3, min_samples=20, paths=["/health"],
    )  # fmt: skip
    result = run_window(cfg, cfg.environment("production"), 60, tmp_path / "out", "m", stop_after=3)
    assert result.stats.source == "prometheus" and result.stats.count == 25
    assert [b.metric for b in result.breaches] == ["error rate", "p95"]  # 25 >= limits: the canned value is used
    data, taken = load_window(result.json_path)
    assert stats_of(data, taken) == result.stats


# -- health checks -------------------------------------------------------------------------------------


def test_health_checks_slower_than_30s_or_failing_fail_naming_the_instance():
    """A 60 s interval, an unknown interval and a critical check each fail; none at all fails."""
    checks = [
        HealthCheck("m1", "http", 15.0, "passing"),
        HealthCheck("m2", "http", 60.0, "passing"),
        HealthCheck("m3", "tcp", None, "critical", "connection refused"),
    ]
    m = health_checks_configured(checks, 30.0, "test")
    assert m.problems == (
        "m2 http: every 60s, more than 30s",
        "m3 tcp: interval unknown (fail closed)",
        "m3 tcp: critical (connection refused)",
    )
    assert health_checks_configured(checks[:1], 30.0, "t").ok
    assert not health_checks_configured([], 30.0, "t").ok


def test_fly_checks_list_json_becomes_health_checks_without_flyctls_own():
    """`fly checks list --json` (machine -> checks) is read; bg_deployments_compat checks are dropped."""
    # Shape from flyctl's internal/command/checks (checks list --json): map of machine id -> check list.
    data = {
        "148e21ea7e5e89": [
            {"name": "servicecheck-00-http-8080", "status": "passing", "output": "OK", "updated_at": "2026-01-01T00:00:00Z"},
            {"name": "bg_deployments_compat_http", "status": "critical", "output": "", "updated_at": "2026-01-01T00:00:00Z"},
        ]
    }
    checks = fly_health_checks(data, 15.0)
    assert checks == [HealthCheck("148e21ea7e5e89", "servicecheck-00-http-8080", 15.0, "passing", "")]
    assert health_checks_configured(checks, 30.0, "fly checks list").ok
    assert not health_checks_configured(fly_health_checks(data, None), 30.0, "fly checks list").ok


def test_the_fly_platform_reads_checks_through_the_fake_fly_at_fly_tomls_interval(tmp_path, monkeypatch):
    """FlyPlatform.health_checks: the fake fly's `checks list` (2 machines), at the fly.toml service check's 15 s."""
    from gates.platforms.fly import FlyPlatform
    from tests.selftests.flyfake import FAKES, TOKEN, FakeFly

    monkeypatch.setenv("FLY_BIN", str(FAKES / "fly"))
    monkeypatch.setenv("FLY_API_TOKEN", TOKEN)
    monkeypatch.setenv("FAKE_FLY_STATE", str(FakeFly(tmp_path / "fake-fly.json").path))
    monkeypatch.setenv("GATES_SELFTEST_DB", "postgresql://u@db.example/postgres")
    (tmp_path / "fly.toml").write_text('app = "hotdash-staging"\n[http_service]\n[[http_service.checks]]\npath = "/health"\ninterval = "15s"\n')
    (tmp_path / "gates.toml").write_text(
        '[app]\nname = "a"\n[environments.production]\nplatform = "fly"\napp = "hotdash-staging"\nurl = "https://a.example"\n'
        f'fly_config = "fly.toml"\ndatabase_url_env = "GATES_SELFTEST_DB"\n[local]\nstate_dir = "{tmp_path / "state"}"\n'
    )
    cfg = config_mod.load(tmp_path / "gates.toml")
    checks = FlyPlatform(cfg).health_checks(cfg.environment("production"))
    assert [(c.instance, c.interval, c.status) for c in checks] == [
        ("148e21ea7e5d89", 15.0, "passing"), ("3d8d9016b21e08", 15.0, "passing"),
    ]  # fmt: skip


# -- the monitor molecules and the pipeline step ---------------------------------------------------------


def test_a_webhook_that_is_down_fails_the_alert_molecule_clearly(tmp_path, servers):
    """With the webhook on a closed port the alert molecule fails saying the alert was not delivered and why; a 2xx receiver passes it."""
    cfg = monitor_config(tmp_path, servers["target"]().url)
    env = cfg.environment("production")
    (tmp_path / "logs").mkdir()
    down = f"http://127.0.0.1:{free_port()}/hook"
    run_gate(cfg, env, "monitor", tmp_path, "down", env_vars={WEBHOOK_ENV: down})
    message = junit_results(tmp_path / "down.xml")["test_a_test_alert_reaches_the_alert_channel"]
    assert "the test alert was not delivered: ConnectError" in message
    assert down not in message  # the webhook URL is a credential

    receiver = servers["receiver"]()
    run_gate(cfg, env, "monitor", tmp_path, "up", env_vars={WEBHOOK_ENV: receiver.url + "/hook"})
    assert junit_results(tmp_path / "up.xml")["test_a_test_alert_reaches_the_alert_channel"] == "passed"
    assert "test alert" in receiver.messages[0]["text"]


def test_the_window_molecule_without_a_window_fails_closed(tmp_path, servers, monkeypatch):
    """Run without a window (no $GATES_MONITOR_WINDOW), the window molecule fails saying so."""
    monkeypatch.delenv(WINDOW_ENV, raising=False)
    cfg = monitor_config(tmp_path, servers["target"]().url)
    (tmp_path / "logs").mkdir()
    run_gate(cfg, cfg.environment("production"), "monitor", tmp_path, "g")
    message = junit_results(tmp_path / "g.xml")["test_error_rate_and_p95_of_the_window_are_within_thresholds"]
    assert "GATES_MONITOR_WINDOW is not set" in message and "0 samples < 20 required" in message


def test_the_browser_molecule_without_its_visits_fails_closed(tmp_path, servers, monkeypatch):
    """Run without the window browser's visits (no $GATES_MONITOR_BROWSER), the browser molecule fails saying so."""
    from gates.monitor.window import BROWSER_ENV

    monkeypatch.delenv(BROWSER_ENV, raising=False)
    cfg = monitor_config(tmp_path, servers["target"]().url)
    (tmp_path / "logs").mkdir()
    run_gate(cfg, cfg.environment("production"), "monitor", tmp_path, "g")
    message = junit_results(tmp_path / "g.xml")["test_the_dashboard_stays_clean_in_a_browser_through_the_window"]
    assert "GATES_MONITOR_BROWSER is not set" in message


def test_the_plan_ends_with_a_monitor_step_when_a_window_is_configured(tmp_path, servers):
    """[monitor] window adds a monitor step on production after its gate; without it the plan is unchanged."""
    cfg = monitor_config(tmp_path, servers["target"]().url, window="3s")
    assert [(s.name, s.env) for s in plan(cfg)][-2:] == [("gate", "production"), ("monitor", "production")]
    plain = config_mod.load(write_config(tmp_path / "plain", environments={"production": {}}))
    assert "monitor" not in [s.name for s in plan(plain)]


@pytest.mark.parametrize("duration", ["5x", "0s", "-3s", "soon"])
def test_gates_monitor_with_a_bad_duration_exits_2(tmp_path, duration):
    """`gates monitor --for` takes 30s, 5m, 1h: anything else is one line naming the option, exit 2."""
    config = write_config(tmp_path, environments={"production": {}})
    result = gates("monitor", "--env", "production", f"--for={duration}", config=config)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"gates: error: gates monitor: --for: expected a duration like 30s, 5m or 1h, got {duration!r}"]
    assert not (tmp_path / "deploys").exists()  # nothing half-done


def test_a_bad_monitor_config_names_the_key(tmp_path):
    """An unknown monitor source is a config error naming [monitor] source."""
    path = write_config(tmp_path, environments={"production": {}})
    path.write_text(path.read_text() + '\n[monitor]\nsource = "datadog"\n')
    with pytest.raises(config_mod.ConfigError, match=r"monitor\.source: expected one of: synthetic, prometheus"):
        config_mod.load(path)


def test_math_nan_is_not_a_pass():
    """A NaN error rate breaches (comparisons with NaN are false: guarded explicitly)."""
    assert [b.metric for b in breaches(Stats("x", 50, math.nan, 0.1), Thresholds())] == ["error rate"]
