"""Error rate and p95, and raw samples, from a Prometheus HTTP API (Fly.io's metrics: ``/api/v1/query``).

Only the answer format is relied on: ``{"status": "success", "data": {"resultType": "vector",
"result": [{"metric": {...}, "value": [<time>, "<number>"]}]}}``, and for a range selector
(``metric[600s]``) ``"resultType": "matrix"`` with ``"values": [[<time>, "<number>"], ...]`` per series. An
empty result, a NaN, an error status or no answer is a failure naming the query (fail closed): no data
proves nothing. Every request is bounded (``QUERY_TIMEOUT``); the token travels in its header only.
Tested against a local HTTP server answering in that format; never run against Fly here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from gates.core.errors import GatesError
from gates.core.redact import redact
from gates.monitor.evaluate import Stats

# httpx is imported where a request is made: every gate's collection imports this module, and httpx (with
# the command line it loads) is 50-60 ms of CPU, paid by every gate that makes no request through it.
if TYPE_CHECKING:
    import httpx

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


def _result(
    base_url: str, promql: str, token: str, client: httpx.Client | None, at: float | None = None
) -> tuple[str, list[Any]]:
    """(the URL asked, ``data.result``) of one ``/api/v1/query`` (at ``at``, epoch seconds, else now); GatesError
    for no answer, an answer that is not JSON or an error status, each naming the query and never the token."""
    import httpx

    url = base_url.rstrip("/") + "/api/v1/query"
    http = client or httpx.Client(timeout=QUERY_TIMEOUT)
    params = {"query": promql, **({"time": f"{at:.3f}"} if at is not None else {})}
    try:
        response = http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
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
    if not isinstance(result, list):
        raise GatesError(f"prometheus {url}: no result list for {promql} (fail closed)")
    return url, result


def instant(base_url: str, promql: str, token: str, client: httpx.Client | None = None) -> float:
    """One scalar from ``/api/v1/query``; GatesError for anything but one finite number."""
    url, result = _result(base_url, promql, token, client)
    if not result:
        raise GatesError(f"prometheus {url}: no data for {promql} (empty result: fail closed)")
    try:
        value = float(result[0]["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        raise GatesError(f"prometheus {url}: unreadable value in {result[0]!r} for {promql}") from None
    if not math.isfinite(value):
        raise GatesError(f"prometheus {url}: {value} for {promql} (no traffic in the window?)")
    return value


Series = tuple[dict[str, str], list[tuple[float, float]]]


def samples(base_url: str, promql: str, token: str, at: float, client: httpx.Client | None = None) -> list[Series]:
    """The raw samples of a range selector (``metric{...}[600s]``) evaluated at ``at``: per series, its labels and
    its (epoch seconds, value) samples with their own timestamps. An empty result is an empty list (the caller
    names what is missing); a matrix that cannot be read is a GatesError."""
    url, result = _result(base_url, promql, token, client, at)
    found: list[Series] = []
    for series in result:
        try:
            labels = {str(k): str(v) for k, v in dict(series["metric"]).items()}
            values = [(float(t), float(v)) for t, v in series["values"]]
        except (KeyError, TypeError, ValueError):
            raise GatesError(f"prometheus {url}: unreadable series in {str(series)[:200]!r} for {promql}") from None
        found.append((labels, [(t, v) for t, v in values if math.isfinite(v)]))
    return found


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
