"""Shared fixtures of the self-tests (imported here: pytest_plugins is only allowed in the root conftest).

The gates these tests start run in throw-away folders, where a team would have installed the Supabase
CLI with npm; this repository installs it in its own node_modules, so its .bin goes on PATH for them.
"""

import os
from pathlib import Path

from tests.selftests.dashboard import built_app
from tests.selftests.httpfixtures import servers
from tests.selftests.pgfixtures import pg_cluster, pg_database
from tests.selftests.platformfixtures import faulty_demo, free_port_fixture, make_config

__all__ = ["built_app", "faulty_demo", "free_port_fixture", "make_config", "pg_cluster", "pg_database", "servers"]

_TOOLS = Path(__file__).resolve().parents[2] / "node_modules" / ".bin"
if str(_TOOLS) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = f"{_TOOLS}{os.pathsep}{os.environ.get('PATH', '')}"
