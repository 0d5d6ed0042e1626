"""HTTP checks: health paths and the release an environment serves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from gates.measurement import Measurement

RELEASE_HEADER = "X-Release"


def _get(client: httpx.Client, path: str, timeout: float) -> tuple[httpx.Response | None, str]:
    try:
        return client.get(path, timeout=timeout), ""
    except httpx.TimeoutException:
        return None, f"no answer within {timeout:g}s"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _status_field(response: httpx.Response) -> str | None:
    """The `status` of a JSON health body, if the body is JSON with one."""
    try:
        body: Any = response.json()
    except ValueError:
        return None
    return str(body.get("status")) if isinstance(body, dict) and "status" in body else None


def health_paths(client: httpx.Client, paths: Sequence[str], timeout: float) -> Measurement:
    """Every health path answers 200 within ``timeout``, and a JSON body says status ok."""
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for path in paths:
        url = str(client.base_url.join(path))
        response, error = _get(client, path, timeout)
        if response is None:
            rows.append({"url": url, "status": None, "error": error})
            problems.append(f"GET {url} -> {error}")
            continue
        seconds = response.elapsed.total_seconds()
        status_field = _status_field(response)
        rows.append(
            {"url": url, "status": response.status_code, "seconds": round(seconds, 3), "body_status": status_field}
        )
        if response.status_code != 200:
            problems.append(f"GET {url} -> {response.status_code}, expected 200")
        elif status_field is not None and status_field.lower() not in ("ok", "healthy", "pass"):
            problems.append(f"GET {url} -> 200 but status {status_field!r}, expected ok")
    if not paths:
        problems.append("no health paths configured: nothing was checked")
    observed = ", ".join(f"{r['url']} {r['status'] or r.get('error')}" for r in rows) or "no requests"
    return Measurement(
        name="health paths",
        question="every health path answers 200 with status ok within its timeout",
        observed=observed if problems else f"{len(rows)} of {len(rows)} answered 200",
        expected=f"200 within {timeout:g}s on {len(paths)} path(s)",
        ok=not problems,
        source=", ".join(f"GET {r['url']}" for r in rows) or str(client.base_url),
        details=rows,
        problems=problems,
    )


def served_releases(
    client: httpx.Client, path: str, requests: int, timeout: float
) -> tuple[list[int | None], list[str]]:
    """The release each of ``requests`` responses says it came from (header), and the errors seen."""
    seen: list[int | None] = []
    errors: list[str] = []
    for _ in range(requests):
        response, error = _get(client, path, timeout)
        if response is None:
            errors.append(error)
            continue
        header = response.headers.get(RELEASE_HEADER)
        seen.append(int(header) if header and header.isdigit() else None)
    return seen, errors
