"""``[notify]``: release notifications to a Slack-compatible webhook."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gates.config.reader import ENV_VAR_NAME
from gates.core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class NotifyConfig:
    """Release notifications (see gates/evidence/notify.py) to a Slack-compatible webhook.

    ``webhook_env`` names the variable holding the webhook URL (a credential: never shown); empty:
    no notifications, and the sign-off's "notifications reachable" item stays unchecked.
    ``required``: a failed delivery fails the release (default: it is only reported in the record).
    ``link_base``: prefix of the evidence links in messages (where the records are published, e.g.
    a CI artifacts URL); empty: the record folder's path. ``timeout``: seconds per delivery.
    """

    webhook_env: str = ""
    required: bool = False
    link_base: str = ""
    timeout: float = 5.0


def validate_notify(notify: NotifyConfig, path: Path, key: str) -> None:
    if notify.webhook_env and not ENV_VAR_NAME.match(notify.webhook_env):
        raise ConfigError(
            path, f"{key}.webhook_env", f"expected an environment variable name, got {notify.webhook_env!r}"
        )
    if notify.timeout <= 0:
        raise ConfigError(path, f"{key}.timeout", f"expected a positive number, got {notify.timeout!r}")
    if notify.required and not notify.webhook_env:
        raise ConfigError(path, f"{key}.required", "required notifications need a webhook_env")
