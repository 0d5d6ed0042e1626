"""Shared fixtures of the self-tests (imported here: pytest_plugins is only allowed in the root conftest)."""

from tests.selftests.httpfixtures import servers
from tests.selftests.pgfixtures import pg_cluster, pg_database
from tests.selftests.platformfixtures import faulty_demo, free_port_fixture, make_config

__all__ = ["faulty_demo", "free_port_fixture", "make_config", "pg_cluster", "pg_database", "servers"]
