"""How ``gates status`` sees one local instance: its own health answer beside HAProxy's view, in Fly's words."""

from __future__ import annotations

from gates.config import Config
from gates.platforms.base import Instance
from gates.platforms.haproxy import ServerStat
from gates.platforms.local import launcher
from gates.platforms.local.processes import running
from gates.platforms.local.state import Proc


def instance_view(config: Config, proc: Proc, stats: dict[str, ServerStat] | None) -> Instance:
    """One instance as status reports it: healthy when it answers its health path itself (within ``[app]
    health_timeout``) and HAProxy has it UP (DRAIN when warm); its checks say why not (no answer, or which)."""
    alive = running(proc)
    path = config.app.readiness_path
    answer = (
        launcher.health(proc, path, config.app.health_timeout, judge_body=True)
        if alive
        else launcher.Answer(False, "process not running")
    )
    stat = (stats or {}).get(proc.id)
    wanted = "DRAIN" if proc.warm else "UP"
    front_view = "HAProxy not running" if stats is None else stat.status if stat else "not in HAProxy"
    return Instance(
        id=proc.id,
        release=proc.release,
        state=("warm" if proc.warm else front_view) if alive else "stopped",
        healthy=alive and answer.ok and front_view == wanted,
        address=f"127.0.0.1:{proc.port}",
        pid=proc.pid,
        port=proc.port,
        checks=(
            (f"GET {path}", answer.verdict),
            ("haproxy", front_view if front_view == wanted or stat is None else stat.describe()),
        ),
    )


def check_state(haproxy_status: str) -> str:
    """HAProxy's server status in Fly's words: UP passing, a transition (``UP 1/2``) warning, else critical."""
    if haproxy_status == "UP":
        return "passing"
    return "warning" if haproxy_status.startswith(("UP ", "DOWN ")) else "critical"
