"""A local HTTP server speaking GitHub's REST shapes for the CI check (api.github.com is never reached).

Payload shapes follow GitHub's REST docs (see the facts file github.md): GET
/repos/{o}/{r}/commits/{ref} -> {sha, ...}; .../commits/{sha}/check-runs -> {total_count,
check_runs[{name, status, conclusion, html_url, app{slug}}]} paginated by a Link header;
.../commits/{sha}/status -> {state, total_count, statuses[{context, state, target_url}]};
/repos/{o}/{r}/branches/{b}/protection/required_status_checks -> {strict, contexts, checks[{context,
app_id}]} (404 "Branch not protected" when unprotected, 403 when the token may not read it).
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPO = "hotrodan/hotdash"
SHA = "4f1c2b9e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"


def check_run(name: str, status: str = "completed", conclusion: str | None = "success") -> dict[str, Any]:
    run_id = zlib.crc32(name.encode())  # stable across processes, unlike hash()
    return {
        "id": run_id,
        "name": name,
        "head_sha": SHA,
        "status": status,
        "conclusion": conclusion,
        "html_url": f"https://github.com/{REPO}/runs/{run_id}",
        "app": {"slug": "github-actions"},
    }


Route = tuple[int, Any, Mapping[str, str]]


class GitHubFake:
    """Routes path-with-query -> (status, JSON body, headers); records each request's headers."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append((self.path, dict(self.headers)))
                status, body, headers = fake.routes.get(self.path, (404, {"message": "Not Found"}, {}))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value.replace("{base}", fake.url))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def commit(self, branch: str = "main", sha: str = SHA) -> None:
        self.routes[f"/repos/{REPO}/commits/{branch}"] = (200, {"sha": sha, "commit": {"message": "x"}}, {})
        self.routes[f"/repos/{REPO}/commits/{sha}/status"] = (
            200,
            {"state": "pending", "total_count": 0, "statuses": [], "sha": sha},
            {},
        )

    def statuses(self, *entries: tuple[str, str], sha: str = SHA) -> None:
        """Legacy commit statuses (context, state); the combined state is GitHub's: any failure/error
        fails it, else any pending keeps it pending, else success."""
        states = [state for _, state in entries]
        combined = (
            "failure"
            if {"failure", "error"} & set(states)
            else "pending"
            if "pending" in states or not states
            else "success"
        )
        body = [{"context": c, "state": st, "target_url": f"https://ci.example/{c}"} for c, st in entries]
        self.routes[f"/repos/{REPO}/commits/{sha}/status"] = (
            200,
            {"state": combined, "total_count": len(body), "statuses": body, "sha": sha},
            {},
        )

    def protection(self, *contexts: str, branch: str = "main", status: int = 200) -> None:
        """The branch's required status checks (both the old ``contexts`` and the newer ``checks``)."""
        path = f"/repos/{REPO}/branches/{branch}/protection/required_status_checks"
        if status != 200:
            self.routes[path] = (status, {"message": "Branch not protected" if status == 404 else "Forbidden"}, {})
            return
        checks = [{"context": c, "app_id": 15368} for c in contexts]
        self.routes[path] = (200, {"strict": True, "contexts": list(contexts), "checks": checks}, {})

    def runs(self, *pages: list[dict[str, Any]] | Route, sha: str = SHA) -> None:
        """Check-run pages; a page given as (status, body, headers) is served as is (an error page)."""
        base = f"/repos/{REPO}/commits/{sha}/check-runs?filter=latest&per_page=100"
        total = sum(len(p) for p in pages if isinstance(p, list))
        for i, page in enumerate(pages):
            path = base if i == 0 else f"{base}&page={i + 1}"
            link = {"Link": f'<{{base}}{base}&page={i + 2}>; rel="next"'} if i + 1 < len(pages) else {}
            if isinstance(page, tuple):
                self.routes[path] = page
            else:
                self.routes[path] = (200, {"total_count": total, "check_runs": page}, link)

    def __enter__(self) -> GitHubFake:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
