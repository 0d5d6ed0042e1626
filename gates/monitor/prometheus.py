"""Error rate and p95 from a Prometheus HTTP API (Fly.io's metrics: ``/api/v1/query`` with PromQL).

Only the answer format is relied on: ``{"status": "success", "data": {"resultType": "vector",
"result": [{"metric": {...}, "value": [<time>, "<number>"]}]}}``. An empty result, a NaN, an
error status or no answer is a failure naming the query (fail closed): no data proves nothing.
Tested against a local HTTP server answering in that format; never run against Fly here.
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from gates.core.errors import GatesError
from gates.core.redact import redact
from gates.monitor.evaluate import Stats

QUERY_TIMEOUT = 15.0


def queries(app: str, seconds: int) -> dict[str, str]:
    """The PromQL of Fly's edge metrics for one app over the last ``seconds``."""
    sel = f'app="{app}"'
    window = f"[{seconds}s]"
    return {
        "error_rate": (
            f'sum(rate(fly_edge_http_responses_count{{{sel},status=~"5.."}}{window}))'
            f" / sum(rate(fly_edge_http_responses_count{{{sel}}}{window}))"
        ),
        "p95": f"histogram_quantile(0.95, sum by (le) (rate(fly_edge_http_response_time_seconds_bucket{{{sel}}}{window})))",
        "count": f"sum(increase(fly_edge_http_responses_count{{{sel}}}{window}))",
    }


def instant(base_url: str, promql: str, token: str, client: httpx.Client | None = None) -> float:
    """One scalar from ``/api/v1/query``; GatesError for anything but one finite number."""
    url = base_url.rstrip("/") + "/api/v1/query"
    http = client or httpx.Client(timeout=QUERY_TIMEOUT)
    try:
        response = http.get(url, params={"query": promql}, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise GatesError(redact(f"prometheus {url}: {type(exc).__name__}: {exc}")) from None
    finally:
        if client is None:
            http.close()
    try:
        body: Any = response.json()
    except ValueError:
        raise GatesError(f"prometheus {url}: HTTP {response.status_code}, not JSON, for {promql}") from None
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error", "no error given") if isinstance(body, dict) else "not an object"
        raise GatesError(
            redact(f"prometheus {url}: HTTP {response.status_code}, status error: {error} (query {promql})")
        )
    result = (body.get("data") or {}).get("result")
    if not isinstance(result, list) or not result:
        raise GatesError(f"prometheus {url}: no data for {promql} (empty result: fail closed)")
    try:
        value = float(result[0]["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        raise GatesError(f"prometheus {url}: unreadable value in {result[0]!r} for {promql}") from None
    if not math.isfinite(value):
        raise GatesError(f"prometheus {url}: {value} for {promql} (no traffic in the window?)")
    return value


def window_stats(base_url: str, token: str, app: str, seconds: int, client: httpx.Client | None = None) -> Stats:
    """Request count, error rate and p95 of the app's edge traffic over the window."""
    q = queries(app, max(1, seconds))
    count = instant(base_url, q["count"], token, client)
    return Stats(
        "prometheus",
        round(count),
        instant(base_url, q["error_rate"], token, client),
        instant(base_url, q["p95"], token, client),
    )
