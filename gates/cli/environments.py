"""Commands that read or operate environments: status, history, down."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from gates import config as config_mod
from gates.cli.common import EXIT_OK, load, recover_crashed
from gates.core.errors import GatesError, UsageError
from gates.core.redact import redact

if TYPE_CHECKING:
    from gates.platforms import WarmSet

MAX_HISTORY = 10_000  # entries `gates history` lists at most: beyond a bigint, and beyond what anyone reads


def cmd_status(args: argparse.Namespace) -> int:
    from gates.platforms import KeepsPrevious, platform_for

    cfg = load(args)
    recover_crashed(cfg)
    envs = [cfg.environment(args.env)] if args.env else list(cfg.environments.values())
    rows: list[dict[str, Any]] = []
    from gates.platforms.external import Unsupported

    for env in envs:
        try:
            platform = platform_for(cfg, env)
            st = platform.status(env)
            warm = platform.warm(env) if isinstance(platform, KeepsPrevious) else None
        except Unsupported as exc:
            rows.append({"env": env.name, "platform": env.platform, "url": env.url, "release": None, "database_url": "",
                         "instances": [], "note": str(exc), "ledger": _ledger_status(cfg, env)})  # fmt: skip
            continue
        rows.append(
            {
                "env": env.name,
                "platform": env.platform,
                "url": st.url,
                "release": st.release,
                "database_url": st.database_url,
                "instances": [
                    {
                        "id": i.id,
                        "pid": i.pid,
                        "port": i.port,
                        "release": i.release,
                        "healthy": i.healthy,
                        "state": i.state,
                        "checks": i.checks_said(),
                    }
                    for i in st.instances
                ],
                "serving": sorted({i.release for i in st.instances if i.state != "stopped" and i.release is not None}),
                "warm": _warm_row(warm),
                "ledger": _ledger_status(cfg, env),
            }
        )
    from gates.platforms.local.builds import state_usage

    state = state_usage(cfg)
    for row in rows:
        row["state_dir"] = state
    if args.json:
        print(redact(json.dumps(rows, indent=2)))
        return EXIT_OK
    for row in rows:
        serving = f"release {row['release']}" if row["release"] is not None else "no release yet"
        print(redact(f"{row['env']} ({row['platform']}): {row['url']} {serving}"))
        if row["database_url"]:
            print(redact(f"  database: {row['database_url']}"))
        for i in row["instances"]:
            health = "healthy" if i["healthy"] else "UNHEALTHY"
            print(f"  {i['id']}: pid {i['pid']} port {i['port']} release {i['release']} {health}")
            if not i["healthy"]:
                print(redact(f"    why: {i['checks']}"))
        if row.get("note"):
            print(f"  {row['note']}")
        elif not row["instances"]:
            print("  no instances")
        if row.get("warm"):
            print(f"  {row['warm']['line']}")
        if len(row.get("serving", [])) > 1:
            serving = ", ".join(str(v) for v in row["serving"])
            print(f"  WARNING: {row['env']} serves more than one release ({serving}): a rollout did not finish")
        known = row["ledger"]
        if known.get("unavailable"):
            print(f"  {known['unavailable']}")
        elif known["last"] is None:
            print("  ledger: no release recorded yet")
        else:
            print(redact(f"  last release (ledger): {known['last']['line']}"))
            print(f"  previous good release (ledger): {known['previous_good'] or 'none'}")
    apart = (
        "" if state["builds_bytes"] is None else f" in {state['builds_path']} ({state['builds_bytes'] / 2**20:.1f} MB)"
    )
    print(f"state folder {state['path']}: {state['bytes'] / 2**20:.1f} MB, {state['builds']} build(s) kept{apart}")
    return EXIT_OK


def _warm_row(warm: WarmSet | None) -> dict[str, Any] | None:
    if warm is None:
        return None
    until = warm.until.isoformat() if warm.until else None
    return {"release": warm.release, "instances": warm.instances, "rss_bytes": warm.rss_bytes, "until": until,
            "line": warm.describe()}  # fmt: skip


def _ledger_status(cfg: config_mod.Config, env: config_mod.Environment) -> dict[str, Any]:
    """What the environment's ledger says: its last entry and the previous good release (judged as `gates rollback`
    and the drill judge, gates/release/goodness.py), or why it says nothing."""
    import dataclasses

    from gates.release.goodness import judge

    judged = judge(cfg, env, cfg.record_dir)
    if judged.ledger.unavailable:
        return {"unavailable": judged.ledger.unavailable}
    last = judged.ledger.last
    return {
        "last": None if last is None else {**dataclasses.asdict(last), "line": last.line()},
        "previous_good": judged.previous_good(),
    }


def cmd_history(args: argparse.Namespace) -> int:
    import dataclasses

    from gates.coordination.ledger import ledger_of

    cfg = load(args)
    env = cfg.environment(args.env)
    if not 1 <= args.limit <= MAX_HISTORY:
        raise UsageError(f"gates history: --limit: expected 1 to {MAX_HISTORY}, got {args.limit}")
    known = ledger_of(cfg, env, limit=args.limit)
    if known.unavailable:
        raise GatesError(f"{env.name}: {known.unavailable}")
    if args.json:
        print(redact(json.dumps([dataclasses.asdict(e) for e in known.entries], indent=2)))
        return EXIT_OK
    if not known.entries:
        print(f"{env.name}: the ledger has no release of {cfg.app.name} yet")
    for entry in known.entries:
        print(redact(entry.line()))
    return EXIT_OK


def cmd_down(args: argparse.Namespace) -> int:
    from gates.database.cluster import LocalCluster
    from gates.platforms.registry import down

    cfg = load(args)
    stopped = down(cfg)
    cluster = LocalCluster.for_config(cfg)
    was_running = cluster.running()
    cluster.stop()  # also clears the data folder a crashed cluster left behind
    if was_running:
        stopped.append("postgres cluster")
    print("gates: stopped " + (", ".join(stopped) if stopped else "nothing (nothing was running)"))
    return EXIT_OK
