"""DEVOPS-010: every feature flag is false in production; values are never shown."""

from __future__ import annotations

import pytest

from gates.checks.flags import flags_false
from gates.gaterun.flagsources import read_flags

pytestmark = [pytest.mark.production, pytest.mark.flags]


def test_every_flag_is_false_in_production(gates_config, environment, platform, http, verdict):
    """Every configured flag (and every secret with the configured prefix) reads false; a missing one fails."""
    if not gates_config.flags.names and not gates_config.flags.prefix:
        pytest.skip("no [flags] names or prefix configured: no flag to check")
    names, verdicts, problems, source = read_flags(gates_config, environment, platform, http)
    verdict(flags_false(verdicts, names, source, problems))
