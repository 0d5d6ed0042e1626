"""Where flag values are read, each source answering only verdicts (is-false, or None when missing).

- ``platform``: the local platform's secrets (``gates secrets set``);
- ``endpoint``: a JSON document the app serves (flags under a dotted path), i.e. what the app believes;
- ``digest``: platform secret digests (Fly shows digests, never values) compared with the digest
  of a calibration secret known to hold ``false``: only that spelling is recognised as false.

The platform's secrets are asked for only where they are needed (the digest source, a prefix): an
environment deployed by something else (``external``) has none to give, and its flags are read from
the app's endpoint, where a prefix finds its names in the document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gates.checks.flags import is_false
from gates.config import Config, Environment
from gates.platforms.base import Secret

# httpx is imported where a request is made: every gate's collection imports this module, and httpx (with
# the command line it loads) is 50-60 ms of CPU, paid by every gate that makes no request through it.
if TYPE_CHECKING:
    import httpx


def flag_names(config: Config, secrets: Sequence[Secret]) -> list[str]:
    """The configured names, and every secret name starting with the configured prefix."""
    prefix = config.flags.prefix
    found = [s.name for s in secrets if prefix and s.name.startswith(prefix)]
    return list(dict.fromkeys([*config.flags.names, *found]))


def from_values(values: Mapping[str, Any], names: Sequence[str]) -> dict[str, bool | None]:
    return {n: (is_false(values[n]) if n in values else None) for n in names}


def from_endpoint(
    client: httpx.Client, path: str, json_path: str, names: Sequence[str], prefix: str = ""
) -> tuple[dict[str, bool | None], list[str]]:
    """Verdicts from the app's flags document, with every flag of it named with ``prefix`` too; a failed
    request or a wrong shape is a problem (all missing)."""
    import httpx

    missing: dict[str, bool | None] = dict.fromkeys(names)
    try:
        response = client.get(path)
    except httpx.HTTPError as exc:
        return missing, [f"GET {path}: {type(exc).__name__}"]
    if response.status_code != 200:
        return missing, [f"GET {path}: HTTP {response.status_code}, expected 200"]
    try:
        node: Any = response.json()
    except ValueError:
        return missing, [f"GET {path}: not JSON"]
    for part in [p for p in json_path.split(".") if p]:
        node = node.get(part) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        return missing, [f"GET {path}: no object at {json_path!r}"]
    served = [str(k) for k in node if prefix and str(k).startswith(prefix)]
    return from_values(node, list(dict.fromkeys([*names, *served]))), []


def from_digests(
    secrets: Sequence[Secret], calibration: str, names: Sequence[str]
) -> tuple[dict[str, bool | None], list[str]]:
    """Verdicts by digest equality with the calibration secret (which must itself exist)."""
    digests = {s.name: s.digest for s in secrets}
    reference = digests.get(calibration)
    if not reference:
        return dict.fromkeys(names), [f"calibration secret {calibration} is missing: digests cannot be judged"]
    return {n: (digests[n] == reference if n in digests else None) for n in names}, []


def read_flags(
    config: Config, env: Environment, platform: Any, client: httpx.Client
) -> tuple[list[str], dict[str, bool | None], list[str], str]:
    """(names, verdicts, problems, source description) for the configured source."""
    flags = config.flags
    secrets, unreadable = _secrets(platform, env) if flags.prefix or flags.source == "digest" else ([], "")
    names = flag_names(config, secrets)
    if flags.source == "endpoint":
        verdicts, problems = from_endpoint(client, flags.endpoint, flags.json_path, names, flags.prefix)
        return list(verdicts), verdicts, problems, f"GET {env.url}{flags.endpoint} ({flags.json_path})"
    if flags.source == "digest":
        if unreadable:
            verdicts, problems = dict.fromkeys(names), [f"no secret digests to judge: {unreadable}"]
        else:
            verdicts, problems = from_digests(secrets, flags.calibration, names)
        return names, verdicts, problems, f"{env.name} secret digests vs {flags.calibration}"
    from gates.platforms.local import Site
    from gates.platforms.secrets import SecretStore

    if env.platform != "local":
        return (
            names,
            dict.fromkeys(names),
            [f"source 'platform' reads local secrets; {env.name} is on {env.platform}"],
            "platform secrets",
        )
    store = SecretStore(Site(config, env).dir)
    return names, from_values(store.values(), names), [], f"{env.name} secrets ({store.path.name})"


def _secrets(platform: Any, env: Environment) -> tuple[Sequence[Secret], str]:
    """The platform's secrets, or none and why, where it cannot read them by design (an external environment)."""
    from gates.platforms.external import Unsupported

    try:
        return platform.secrets(env), ""
    except Unsupported as exc:
        return [], str(exc)
