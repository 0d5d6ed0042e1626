"""HTTP checks: health paths and the release an environment serves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gates.core.health import RELEASE_HEADER, healthy_body
from gates.core.measurement import Measurement

# httpx is imported where a request is made: every gate's collection imports this module, and httpx (with
# the command line it loads) is 50-60 ms of CPU, paid by every gate that makes no request through it.
if TYPE_CHECKING:
    import httpx


class Requests:
    """One molecule's series of GETs, each bounded by ``timeout``; after the first timeout the rest are not
    tried (a black-holed app costs one timeout, not one per request) and say so."""

    def __init__(self, client: httpx.Client, timeout: float) -> None:
        self.client = client
        self.timeout = timeout
        self.timed_out = ""  # the first request that got no answer

    def get(self, url: str, headers: dict[str, str] | None = None) -> tuple[httpx.Response | None, str]:
        """The response, or None and why there is none."""
        import httpx

        if self.timed_out:
            return None, f"not tried: {self.timed_out} timed out"
        try:
            return self.client.get(url, headers=headers, timeout=self.timeout), ""
        except httpx.TimeoutException as exc:
            self.timed_out = f"GET {self.client.base_url.join(url)}"
            said = str(exc)
            # An earlier molecule's request already got no answer: the client refused this one at once.
            return None, said if said.startswith("not tried: ") else f"no answer within {self.timeout:g}s"
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _status_field(response: httpx.Response) -> str | None:
    """The `status` of a JSON health body, if the body is JSON with one."""
    try:
        body: Any = response.json()
    except ValueError:
        return None
    return str(body.get("status")) if isinstance(body, dict) and "status" in body else None


def health_problem(response: httpx.Response) -> str:
    """What is wrong with a health answer ('' when nothing): not 200, or a JSON status that is not ok."""
    if response.status_code != 200:
        return f"{response.status_code}, expected 200"
    status = _status_field(response)
    if status is not None and not healthy_body({"status": status}):
        return f"200 but status {status!r}, expected ok"
    return ""


def health_paths(client: httpx.Client, paths: Sequence[str], timeout: float) -> Measurement:
    """Every health path answers 200 within ``timeout``, and a JSON body says status ok."""
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    series = Requests(client, timeout)
    for path in paths:
        url = str(client.base_url.join(path))
        response, error = series.get(path)
        if response is None:
            rows.append({"url": url, "status": None, "error": error})
            problems.append(f"GET {url} -> {error}")
            continue
        seconds = response.elapsed.total_seconds()
        rows.append(
            {
                "url": url,
                "status": response.status_code,
                "seconds": round(seconds, 3),
                "body_status": _status_field(response),
            }
        )
        problem = health_problem(response)
        if problem:
            problems.append(f"GET {url} -> {problem}")
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
    series = Requests(client, timeout)
    for _ in range(requests):
        response, error = series.get(path)
        if response is None:
            errors.append(error)
            continue
        header = response.headers.get(RELEASE_HEADER)
        seen.append(int(header) if header and header.isdigit() else None)
    return seen, errors
