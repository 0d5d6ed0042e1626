"""Zero downtime: not one request failed while production was rolled out, measured by the traffic probe."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from gates.gaterun import probe

pytestmark = [pytest.mark.production, pytest.mark.zero_downtime]


def test_no_request_failed_during_the_rollout(probe_run, expected_release, gates_config, attach_image, verdict):
    """Every probe request of the rollout succeeded; the release switched old -> new and never back; no gap over the bound."""
    if probe_run.waived:
        pytest.skip(probe_run.waived)
    # A throwaway folder, not pytest's tmp_path: that one prunes old runs' folders first, a tenth of a second
    # of the gate spent on housekeeping.
    with tempfile.TemporaryDirectory(prefix="gates-probe-") as folder:
        attach_image("traffic probe of the rollout", probe.plot(probe_run, Path(folder) / "probe.png").read_bytes())
    verdict(probe.judge(probe_run, expected_release, gates_config))
