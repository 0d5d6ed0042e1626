"""Zero downtime: not one request failed while production was rolled out, measured by the traffic probe."""

from __future__ import annotations

import pytest

from gates import probe

pytestmark = [pytest.mark.production, pytest.mark.zero_downtime]


def test_no_request_failed_during_the_rollout(
    probe_run, expected_release, gates_config, attach_image, tmp_path, verdict
):
    """Every probe request of the rollout succeeded; the release switched old -> new and never back; no gap over the bound."""
    if probe_run.waived:
        pytest.skip(probe_run.waived)
    attach_image("traffic probe of the rollout", probe.plot(probe_run, tmp_path / "probe.png").read_bytes())
    verdict(probe.judge(probe_run, expected_release, gates_config))
