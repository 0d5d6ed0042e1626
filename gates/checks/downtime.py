"""Zero downtime: what a traffic probe saw during a rollout, judged.

Pure functions over the probe's samples (see gates/gaterun/probe.py): every request answered 2xx/3xx, the
release served switched from the old one to the new one and never back, no stretch without a
successful answer longer than the bound, and enough requests to say so (fail closed).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

from gates.core.measurement import Measurement
from gates.monitor.sampler import Sample

SHOWN = 5  # failures and stray answers named in a failure message


@dataclasses.dataclass(frozen=True)
class Timeline:
    """A probe's samples summed up: counts, the longest gap between successful answers, the releases seen."""

    requests: int
    failed: int
    max_gap_ms: float | None  # None with fewer than two successful answers
    gap_at: float | None  # when the longest gap began (epoch seconds)
    releases: tuple[str, ...]  # releases of successful answers, in order of first appearance
    started_at: float | None
    seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def timeline(samples: Sequence[Sample]) -> Timeline:
    ok = sorted((s for s in samples if not s.failed), key=lambda s: s.answered_at)
    gaps = [(b.answered_at - a.answered_at, a.answered_at) for a, b in itertools.pairwise(ok)]
    gap, gap_at = max(gaps) if gaps else (None, None)
    first = min((s.at for s in samples), default=None)
    last = max((s.answered_at for s in samples), default=None)
    return Timeline(
        requests=len(samples),
        failed=sum(1 for s in samples if s.failed),
        max_gap_ms=None if gap is None else gap * 1000,
        gap_at=gap_at,
        releases=tuple(dict.fromkeys(s.release for s in ok)),
        started_at=first,
        seconds=(last - first) if first is not None and last is not None else 0.0,
    )


def switch_at(samples: Sequence[Sample], new: str) -> float | None:
    """When the new release first answered successfully (epoch seconds), if it did."""
    return min((s.answered_at for s in samples if not s.failed and s.release == new), default=None)


@dataclasses.dataclass(frozen=True)
class Limits:
    max_gap_ms: float
    min_requests: int


def rollout_without_downtime(
    samples: Sequence[Sample],
    *,
    old: int | None,
    new: int | None,
    deployed_at: float | None,
    limits: Limits,
    source: str,
    probed: int | None = None,
) -> Measurement:
    """Zero failed requests, old -> new and never back after the deploy returned, no gap over the bound.

    ``old``/``new``: the release served before the deploy and the one the environment must serve now;
    ``deployed_at``: when the platform said the rollout was done (epoch seconds); ``probed``: the
    release the probed deploy rolled out (evidence of another deploy proves nothing about ``new``).
    """
    t = timeline(samples)
    t0 = t.started_at or 0.0
    problems: list[str] = []
    if t.requests < limits.min_requests:
        problems.append(
            f"only {t.requests} requests, fewer than the minimum {limits.min_requests}: no proof either way"
        )
    failures = [s for s in samples if s.failed]
    if failures:
        problems.append(f"{len(failures)} of {t.requests} requests failed ({_kinds(failures)})")
        problems += [f"at +{s.at - t0:.3f}s GET {s.url}: {_why(s)}" for s in failures[:SHOWN]]
    if t.max_gap_ms is not None and t.max_gap_ms > limits.max_gap_ms:
        problems.append(
            f"no successful answer for {t.max_gap_ms:.0f} ms from +{(t.gap_at or t0) - t0:.3f}s"
            f" (bound {limits.max_gap_ms:g} ms)"
        )
    if probed != new:
        problems.append(f"the probe watched the deploy of release {probed}, not of release {new} served now")
    problems += _switch_problems(samples, old, new, deployed_at, t0)
    gap = f"{t.max_gap_ms:.0f} ms" if t.max_gap_ms is not None else "n/a"
    return Measurement(
        name="zero downtime",
        question="every request of the probe during the rollout succeeded, the release switched old -> new once",
        observed=(
            f"{t.requests} requests at {t.rate:.0f}/s, {t.failed} failed, max gap {gap},"
            f" releases served {' -> '.join(t.releases) or 'none'}"
        ),
        expected=(
            f">= {limits.min_requests} requests, 0 failed, max gap <= {limits.max_gap_ms:g} ms,"
            f" {old if old is not None else '(none)'} -> {new}"
        ),
        ok=not problems,
        source=source,
        details=[
            {"release": r, "answers": sum(1 for s in samples if s.release == r and not s.failed)} for r in t.releases
        ],
        problems=problems,
    )


def _switch_problems(
    samples: Sequence[Sample], old: int | None, new: int | None, deployed_at: float | None, t0: float
) -> list[str]:
    ok = [s for s in samples if not s.failed]
    if new is None:
        return ["the probe's deploy left no new release serving (the deploy failed)"]
    if not ok:
        return []  # counted above: no answer at all is no proof
    problems: list[str] = []
    allowed = {str(new)} | ({str(old)} if old is not None else set())
    strays = [s for s in ok if s.release not in allowed]
    if strays:
        named = ", ".join(sorted({s.release or "(no release header)" for s in strays}))
        problems.append(f"{len(strays)} answers from release(s) {named}, neither the old {old} nor the new {new}")
    if old is not None and ok[0].release != str(old):
        problems.append(
            f"the first answer came from release {ok[0].release or '?'}, not the old {old}: the probe began too late"
        )
    if ok[-1].release != str(new):
        problems.append(f"the last answer came from release {ok[-1].release or '?'}, not the new {new}")
    if deployed_at is None:
        problems.append("the probe does not say when the deploy finished: cannot tell old from going back")
    elif old is not None:
        back = [s for s in ok if s.release == str(old) and s.at > deployed_at]
        if back:
            problems.append(
                f"{len(back)} answers from the old release {old} after the deploy finished"
                f" (first at +{back[0].at - t0:.3f}s): it went back"
            )
    return problems


def _why(s: Sample) -> str:
    return s.error if s.status is None else f"HTTP {s.status}"


def _kinds(failures: Sequence[Sample]) -> str:
    kinds: dict[str, int] = {}
    for s in failures:
        if s.status is not None:
            kind = f"HTTP {s.status}"
        elif "timeout" in s.error.lower() or "timed out" in s.error.lower():
            kind = "timeout"
        else:
            kind = "connection error"
        kinds[kind] = kinds.get(kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
