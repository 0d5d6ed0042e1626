"""The zero-downtime check and the probe's evidence file, on made-up samples: no network, no platform."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gates.bench.sandbox import write_config
from gates.checks.downtime import Limits, rollout_without_downtime, timeline
from gates.config import load
from gates.core.errors import ConfigError, GatesError
from gates.gaterun import probe
from gates.monitor.plot import plot_timeline
from gates.monitor.sampler import Sample

LIMITS = Limits(max_gap_ms=1000, min_requests=10)
T0 = 1_800_000_000.0


def answers(releases: str, *, start: float = 0.0, step: float = 0.005, status: int = 200) -> list[Sample]:
    """One 200 answer per character of ``releases`` (each the release that gave it), ``step`` seconds apart."""
    return [
        Sample(T0 + start + i * step, "http://x/health", status, 0.001, "", r, f"v{r}-0") for i, r in enumerate(releases)
    ]


def judge(samples: list[Sample], *, old: int | None = 1, new: int = 2, deployed: float = 0.05, probed: int = 2):
    return rollout_without_downtime(
        samples, old=old, new=new, deployed_at=T0 + deployed, limits=LIMITS, source="probe.jsonl", probed=probed
    )


def test_a_clean_switch_from_old_to_new_passes():
    """Answers from 1, a mixed moment, then only 2, none failed, no gap: zero downtime."""
    m = judge(answers("1111121212122222222222"))
    assert m.ok, m.explain()
    assert "22 requests" in m.observed and "0 failed" in m.observed and "releases served 1 -> 2" in m.observed


def test_failed_requests_are_counted_by_kind_and_named_with_their_time():
    """A refused connection and a 503 fail the check; the message gives the count, the kinds and each one."""
    refused = Sample(T0 + 0.03, "http://x/health", None, 0.0001, "ConnectionRefusedError: [Errno 111] refused")
    samples = sorted([*answers("11111222222222"), refused, *answers("2", start=0.031, status=503)], key=lambda s: s.at)
    m = judge(samples)
    assert not m.ok
    assert "2 of 16 requests failed (1 HTTP 503, 1 connection error)" in m.problems
    assert any(p.startswith("at +0.030s GET http://x/health: ConnectionRefusedError") for p in m.problems)


def test_a_stretch_without_a_successful_answer_longer_than_the_bound_fails():
    """Slow answers fail nothing yet leave 1.5 s with no answer: the gap is named with its length and bound."""
    m = judge([*answers("111112"), *answers("22222222", start=1.6)])
    assert not m.ok
    assert any("no successful answer for 1" in p and "(bound 1000 ms)" in p for p in m.problems), m.problems


def test_the_old_release_answering_after_the_deploy_finished_is_going_back():
    """An answer from the old release after the platform said the rollout was done fails as going back."""
    m = judge(answers("1111122222221222"), deployed=0.04)
    assert not m.ok
    assert any("answers from the old release 1 after the deploy finished" in p and "went back" in p for p in m.problems)


def test_a_third_release_or_a_late_start_or_a_wrong_end_is_named():
    """Answers from a release that is neither old nor new, a first answer from the new one, a last from the old."""
    stray = judge(answers("11113222222222"))
    assert any("release(s) 3, neither the old 1 nor the new 2" in p for p in stray.problems)
    late = judge(answers("22222222222222"))
    assert any("first answer came from release 2, not the old 1" in p for p in late.problems)
    unfinished = judge(answers("11111111111111"), deployed=10)
    assert any("last answer came from release 1, not the new 2" in p for p in unfinished.problems)


def test_fewer_requests_than_the_minimum_fail_closed():
    """Five perfect answers are not enough evidence: the check fails saying so."""
    m = judge(answers("11222"))
    assert not m.ok and any("only 5 requests, fewer than the minimum 10" in p for p in m.problems)


def test_evidence_of_another_deploy_proves_nothing_about_the_release_served():
    """A probe of the deploy of release 2 does not vouch for release 3."""
    m = judge(answers("111112222222222"), probed=2, new=3)
    assert any("watched the deploy of release 2, not of release 3" in p for p in m.problems)


def test_the_timeline_measures_the_gap_between_answers_not_between_requests():
    """A slow answer ends its gap when it arrives: two answers 100 ms apart with one taking 300 ms give 400 ms."""
    slow = Sample(T0 + 0.1, "u", 200, 0.3, "", "1")
    t = timeline([Sample(T0, "u", 200, 0.0, "", "1"), slow])
    assert t.max_gap_ms == pytest.approx(400) and t.requests == 2 and t.failed == 0


def write_probe(path: Path, before: int | None, after: int | None, samples: list[Sample], **end: object) -> Path:
    lines = [{"probe": {"env": "production", "urls": ["http://x/health"], "before": before}}]
    lines += [s.as_dict() for s in samples]
    lines += [{"end": {"after": after, "deployed_at": T0 + 0.05, **end}}]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_probe_file_reads_back_and_sums_up_for_the_record(tmp_path):
    """Header, samples and trailer read back; the record keeps requests, failed, max gap, rate and CPU share."""
    run = probe.load(write_probe(tmp_path / "p.jsonl", 1, 2, answers("1111122222"), cpu_seconds=0.05, seconds=1.0))
    assert (run.before, run.after, len(run.samples), run.waived) == (1, 2, 10, "")
    summary = run.summary()
    assert summary["requests"] == 10 and summary["failed"] == 0 and summary["cpu_percent"] == 5.0
    assert summary["releases"] == ["1", "2"] and summary["max_gap_ms"] == pytest.approx(5, abs=0.1)


def test_by_hand_the_newest_record_of_the_release_served_is_found_else_it_fails_closed(tmp_path):
    """Without --probe-samples the molecule takes the newest record's probe of the release served; none is an error."""
    config = load(write_config(tmp_path, environments={"production": {}}))
    env = config.environment("production")
    write_probe(config.record_dir / "20261128T100000Z-aaaaaa" / "probe-production.jsonl", 1, 2, answers("12"))
    write_probe(config.record_dir / "20261128T110000Z-bbbbbb" / "probe-production.jsonl", 2, 3, answers("23"))
    assert probe.find(config, env, 2).path.parent.name == "20261128T100000Z-aaaaaa"
    # A rollback's own probe file is evidence of the release it rolled out.
    write_probe(config.record_dir / "20261128T110000Z-bbbbbb" / "probe-production.rollback.jsonl", 3, 5, answers("35"))
    assert probe.find(config, env, 5).path.name == "probe-production.rollback.jsonl"
    with pytest.raises(GatesError) as missing:
        probe.find(config, env, 4)
    assert "no probe evidence of the deploy of release 4 to production" in str(missing.value)
    assert "gates deploy" in str(missing.value) and "--probe-samples" in str(missing.value)


def test_a_file_that_is_not_probe_evidence_is_an_error_naming_it(tmp_path):
    """A file without the probe header fails closed, naming the path."""
    path = tmp_path / "x.jsonl"
    path.write_text('{"at": 1}\n')
    with pytest.raises(GatesError, match=r"x\.jsonl: no readable probe evidence"):
        probe.load(path)


def test_the_timeline_plot_marks_the_switch_and_shows_failures(tmp_path):
    """The plot renders samples by release, a failure and marks into a PNG."""
    samples = [*answers("111122"), Sample(T0 + 0.05, "u", None, 0.0, "refused")]
    path = plot_timeline(samples, "t", tmp_path / "t.png", marks=[(T0 + 0.02, "switch")], by_release=True)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_probe_settings_have_defaults_and_bad_values_name_the_key(tmp_path):
    """[probe] defaults to 200 requests/s over 4 connections, 1 s gap bound, 100 requests minimum; bad values are errors."""
    path = write_config(tmp_path, environments={"production": {}})
    probe_defaults = load(path).probe
    assert (probe_defaults.rate, probe_defaults.concurrency, probe_defaults.max_gap_ms) == (200.0, 4, 1000.0)
    assert probe_defaults.min_requests == 100 and probe_defaults.paths == ()
    for bad, key in (("rate = 0", "probe.rate"), ('paths = ["health"]', "probe.paths[0]"), ("min_requests = 0", "probe.min_requests")):
        path.write_text(path.read_text().split("\n[probe]")[0] + f"\n[probe]\n{bad}\n")
        with pytest.raises(ConfigError) as info:
            load(path)
        assert f": {key}: " in str(info.value)


def test_the_gate_gets_the_newest_probe_file_of_its_environment(tmp_path):
    """A rollback probed after the deploy is the evidence of what serves now; another environment's file is not."""
    from gates.gaterun.probe import latest_probe, probe_path
    from gates.gaterun.runner import gate_command

    config = load(write_config(tmp_path, environments={"production": {}}))
    env = config.environment("production")
    out = tmp_path / "record"
    assert latest_probe(out, env) is None
    write_probe(probe_path(out, env), 1, 2, [])
    write_probe(out / "probe-production-eu.jsonl", 1, 2, [])
    rollback = write_probe(probe_path(out, env, "rollback"), 2, 3, [])
    os.utime(probe_path(out, env), (1_000_000_000, 1_000_000_000))  # written long before the rollback
    assert latest_probe(out, env) == rollback
    args = gate_command(config, env, "production", out, "gate", 3, 0)
    assert args[args.index("--probe-samples") + 1] == str(rollback)
