"""Shared fixtures of the self-tests."""

pytest_plugins = ["tests.selftests.pgfixtures", "tests.selftests.platformfixtures"]
