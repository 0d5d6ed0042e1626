"""The gates pytest plugin: markers, environment selection, fixtures and evidence.

Loaded through the ``pytest11`` entry point, so an installed gates brings
its markers, fixtures and molecules to any repository: when a run selects a
gate (``-m staging``, ``-m production``, ``-m preflight``, ... or ``--env``),
the molecules shipped in ``gates/gaterun/molecules`` are collected beside the
repository's own tests, and the repository's tests marked for that gate are
part of it. A molecule asks for the target through fixtures and hands its
Measurement to ``verdict``; the plugin attaches the Measurement to the HTML
report and JUnit XML and fails the test with a message naming value,
condition and source.
"""

from gates.gaterun.plugin.evidence import pytest_runtest_makereport
from gates.gaterun.plugin.fixtures import (
    app,
    app_http,
    attach_image,
    db,
    db_url,
    environment,
    expected_release,
    gates_config,
    http,
    migration_files,
    platform,
    probe_run,
    status,
    target,
    verdict,
)
from gates.gaterun.plugin.header import (
    pytest_html_results_table_header,
    pytest_html_results_table_html,
    pytest_html_results_table_row,
)
from gates.gaterun.plugin.options import pytest_addoption, pytest_configure
from gates.gaterun.plugin.selection import (
    pytest_collection_finish,
    pytest_collection_modifyitems,
    pytest_report_header,
    select_environment,
    selects_a_gate,
)

# The entry point's module is the plugin pytest registers: its hooks and fixtures are the names below.
__all__ = [
    "app", "app_http", "attach_image", "db", "db_url", "environment", "expected_release", "gates_config", "http",
    "migration_files", "platform", "probe_run", "pytest_addoption", "pytest_collection_finish",
    "pytest_collection_modifyitems", "pytest_configure", "pytest_html_results_table_header",
    "pytest_html_results_table_html", "pytest_html_results_table_row", "pytest_report_header",
    "pytest_runtest_makereport", "select_environment", "selects_a_gate", "status", "target", "verdict",
]  # fmt: skip
