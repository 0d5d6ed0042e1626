"""``[environments.NAME]``: one place the app runs, its admin_url filled in from ``[browser]``'s template."""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gates.config.app import AppConfig
from gates.config.reader import ENV_VAR_NAME
from gates.core.durations import parse_duration
from gates.core.errors import ConfigError, UsageError

STRATEGIES = ("rolling", "immediate", "bluegreen", "canary")


@dataclasses.dataclass(frozen=True)
class Environment:
    """One place the app runs: staging, production, ..."""

    name: str
    platform: str
    url: str
    app: str = ""
    database_url_env: str = ""
    instances: int = 2
    # Empty: the platform's own default (local: rolling; fly: fly.toml's [deploy] strategy, else flyctl's rolling).
    strategy: str = ""
    fly_config: str = ""
    protected: bool = False
    # The Admin page that embeds the app's dashboard (Shopify Admin, or the local platform's stand-in);
    # empty: [browser] admin_url, a template, filled in with this environment's store and app.
    admin_url: str = ""
    store: str = ""  # the Shopify store's handle: {store} of the admin_url template
    video: str = ""  # recording of the browser visit: production | always | never; empty: [browser] video
    # Rolling deploys: new instances started at once; unset: 25 % of ``instances`` rounded up, at least 1.
    max_surge: int | None = None
    # Rolling deploys: old instances taken out of rotation (and stopped, or kept warm) as a batch starts, before
    # their replacements are up, so a batch starts ``surge + unavailable`` new ones; unset: 25 % of ``instances``
    # rounded down (Kubernetes' default), and never all of them: at least one instance always serves.
    max_unavailable: int | None = None
    # Keep the previous release's instances running out of rotation until the release is confirmed, so a
    # rollback is a traffic switch; unset: on for production only.
    keep_previous: bool | None = None
    # Whether molecules may write to this environment's database through the app (the write-path kit,
    # gates/gaterun/writepath.py): they store marked rows and delete them afterwards. Unset: everywhere but production.
    writes_allowed: bool | None = None
    # How long that previous release stays warm once the release is confirmed ("1h", "30m", or "off": stopped
    # at confirmation); empty: 1h on production, off elsewhere. gates/platforms/local/warm.py stops it after.
    keep_previous_for: str = ""

    @property
    def rollout_strategy(self) -> str:
        """The strategy a platform without a default of its own rolls out with."""
        return self.strategy or "rolling"

    @property
    def is_production(self) -> bool:
        return self.protected or self.name == "production"

    @property
    def uses_local_cluster(self) -> bool:
        """A local environment without a database of its own gets one in gates' local Postgres cluster:
        the one place that rule is written."""
        return self.platform == "local" and not self.database_url_env

    @property
    def has_database(self) -> bool:
        """It names a database, or gets one in the local cluster."""
        return bool(self.database_url_env) or self.uses_local_cluster

    @property
    def surge(self) -> int:
        """New instances a rolling deploy starts at once."""
        return max(1, self.max_surge if self.max_surge is not None else -(-self.instances // 4))

    @property
    def unavailable(self) -> int:
        """Old instances a rolling deploy takes out of rotation at once, before their replacements are up."""
        wanted = self.max_unavailable if self.max_unavailable is not None else self.instances // 4
        return max(0, min(wanted, self.instances - 1))

    @property
    def keeps_previous(self) -> bool:
        if self.keep_previous is not None:
            return self.keep_previous
        return self.is_production or self.keep_previous_for not in ("", "off")

    @property
    def keep_previous_seconds(self) -> float:
        """The warm window after confirmation in seconds; 0: the previous release stops when the release is confirmed."""
        window = self.keep_previous_for or ("1h" if self.is_production and self.keeps_previous else "off")
        return 0.0 if window == "off" else parse_duration(window, f"environments.{self.name}.keep_previous_for")

    @property
    def allows_writes(self) -> bool:
        return not self.is_production if self.writes_allowed is None else self.writes_allowed


ADMIN_URL_FIELDS = ("store", "app", "env")


def fill_admin_url(env: Environment, app: AppConfig, browser: Any, path: Path, prefix: str, key: str) -> Environment:
    """The environment's admin_url: its own, else ``[browser] admin_url`` with its fields filled in."""
    template = browser.get("admin_url", "") if isinstance(browser, Mapping) else ""
    if env.admin_url or not template or not isinstance(template, str):
        return env  # a wrong type of [browser] admin_url is reported when the section is read
    tkey = f"{prefix}browser.admin_url"
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ConfigError(path, tkey, f"not a valid template: {exc}") from None
    unknown = sorted({f for f in fields if f not in ADMIN_URL_FIELDS})
    if unknown:
        raise ConfigError(path, tkey, f"unknown field {{{unknown[0]}}} (expected {{store}}, {{app}} or {{env}})")
    if "store" in fields and not env.store:
        raise ConfigError(path, f"{key}.store", "the [browser] admin_url template needs this environment's store")
    url = template.format(store=env.store, app=env.app or app.name, env=env.name)
    return dataclasses.replace(env, admin_url=url)


def validate_environment(env: Environment, path: Path, key: str) -> None:
    """The keys every platform shares; each driver checks its own (gates.target.open_config asks the registry)."""
    if env.strategy and env.strategy not in STRATEGIES:
        raise ConfigError(
            path, f"{key}.strategy", f"unknown strategy {env.strategy!r} (expected one of: {', '.join(STRATEGIES)})"
        )
    if env.instances < 1:
        raise ConfigError(path, f"{key}.instances", f"expected at least 1, got {env.instances}")
    parts = urlsplit(env.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(path, f"{key}.url", f"expected an http(s) URL, got {env.url!r}")
    if parts.password:
        raise ConfigError(path, f"{key}.url", "must not carry a password; name an environment variable instead")
    admin = urlsplit(env.admin_url)
    if env.admin_url and (admin.scheme not in ("http", "https") or not admin.hostname):
        raise ConfigError(path, f"{key}.admin_url", f"expected an http(s) URL, got {env.admin_url!r}")
    if env.database_url_env and not ENV_VAR_NAME.match(env.database_url_env):
        raise ConfigError(
            path, f"{key}.database_url_env", f"expected an environment variable name, got {env.database_url_env!r}"
        )
    if env.keep_previous_for not in ("", "off"):
        try:
            parse_duration(env.keep_previous_for, f"{key}.keep_previous_for")
        except UsageError as exc:
            said = str(exc).split(": ", 1)[-1].replace("or 1h, got", 'or 1h, or "off", got')
            raise ConfigError(path, f"{key}.keep_previous_for", said) from None
        if env.keep_previous is False:
            raise ConfigError(path, f"{key}.keep_previous_for", "keeps nothing: keep_previous is false")
