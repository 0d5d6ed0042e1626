"""flyctl's command tree, as the workflow checker needs it: root commands with their aliases, and for the
commands a release workflow runs, their subcommands, flags and how many arguments they take.

Version: flyctl v0.4.87 (the version /work/shared/facts/fly.md was read against). How it was made:
transcribed by hand from flyctl's source (superfly/flyctl, read through a source index, not cloned):
``internal/command/root/root.go`` (``root.AddCommand``), each command's ``New...`` constructor
(``command.New(use, ...)``, ``cmd.Aliases``, ``cmd.Args``, ``cmd.AddCommand``, ``flag.Add``) and
``internal/flag/flag.go`` (the shared flags: ``App`` -a, ``AppConfig`` -c, ``JSONOutput`` -j, ``Yes``
-y with alias ``--auto-confirm``, ``Image`` -i ...). Files read: root.go, apps/apps.go, apps/releases.go,
releases/releases.go, deploy/deploy.go, status/status.go, secrets/secrets.go, certificates/root.go, storage, flag/flag.go;
the machine subcommands are the files of internal/command/machine. root.go at one indexed commit still
registers ``mysql``, ``domains`` and ``dns-records``; the v0.4.87 reading (fly.md) has none of them, and
this table follows it. Re-check against ``fly <command> --help`` when the pinned flyctl changes.

A node without ``flags`` was not transcribed below its name: any flag or argument beneath it is
accepted (the checker says only what it knows).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

FLYCTL_VERSION = "v0.4.87"
UNTRANSCRIBED: Mapping[str, Any] = MappingProxyType({})  # a subcommand known by name only


def _names(names: str) -> dict[str, Mapping[str, Any]]:
    return dict.fromkeys(names.split(), UNTRANSCRIBED)


# Flags every command has (root.PersistentFlags): name -> takes a value.
GLOBAL_FLAGS: Mapping[str, bool] = {"--access-token": True, "-t": True, "--verbose": False, "--debug": False,
                                    "--help": False, "-h": False}  # fmt: skip
_APP = {"--app": True, "-a": True, "--config": True, "-c": True}
_JSON = {"--json": False, "-j": False}
_YES = {"--yes": False, "-y": False, "--auto-confirm": False}
_RELEASES: dict[str, Any] = {"args": 0, "flags": {**_APP, **_JSON, "--image": False}}

# deploy/deploy.go: CommonFlags plus app, config, update-only, skip-release-command and the manifest flags.
_DEPLOY_VALUES = (
    "--image -i --strategy --dockerfile --ignorefile --image-label --build-arg --build-secret --build-target "
    "--depot --depot-scope --buildpacks-docker-host --buildpacks-volume --env -e --wait-timeout "
    "--release-command-timeout --lease-timeout --max-unavailable --file-local --file-literal --file-secret "
    "--primary-region --regions --only-regions --exclude-regions --only-machines --exclude-machines "
    "--process-groups --label --max-concurrent --immediate-max-concurrent --volume-initial-size --signal -s "
    "--deploy-retries --vm-size --vm-cpu-kind --vm-cpus --vm-memory --vm-gpu-kind --vm-gpus --host-dedication-id "
    "--export-manifest --from-manifest"
)
_DEPLOY_SWITCHES = (
    "--now --remote-only --local-only --push --wg --https-failover --http-failover --detach --no-cache --nixpacks "
    "--build-only --recreate-builder --force-machines --ha --smoke-checks --dns-checks --no-public-ips --flycast "
    "--update-only --skip-release-command"
)
_DEPLOY_FLAGS = {
    **_APP,
    **_YES,
    **dict.fromkeys(_DEPLOY_VALUES.split(), True),
    **dict.fromkeys(_DEPLOY_SWITCHES.split(), False),
}

# command -> {"aliases": [...], "sub": {...}, "args": max positional arguments, "flags": {flag: takes a value}}
TREE: Mapping[str, Mapping[str, Any]] = {
    "agent": {}, "auth": {}, "certs": {}, "checks": {"sub": {"list": {"flags": {**_APP, **_JSON, "--check-name": True}, "args": 0}}},
    "completion": {}, "config": {}, "console": {}, "consul": {}, "create": {}, "curl": {},
    "dashboard": {"aliases": ["dash"]}, "destroy": {}, "dig": {}, "docs": {}, "doctor": {},
    "extensions": {"aliases": ["ext"]}, "help": {}, "history": {}, "image": {"aliases": ["img"]}, "incidents": {},
    "info": {}, "ips": {}, "jobs": {}, "launch": {}, "litefs-cloud": {"aliases": ["lfsc"]}, "logs": {}, "mcp": {},
    "metrics": {}, "move": {}, "mpg": {}, "open": {}, "orgs": {}, "ping": {}, "platform": {},
    "postgres": {"aliases": ["pg"]}, "proxy": {}, "redis": {}, "regions": {}, "registry": {}, "resume": {},
    "scale": {}, "services": {}, "settings": {}, "sftp": {}, "ssh": {}, "status": {"args": 0, "flags": {**_APP, **_JSON, "--all": False, "--deployment": False, "--watch": False, "--rate": True}}, "suspend": {},
    "synthetics": {}, "tokens": {}, "version": {}, "wireguard": {"aliases": ["wg"]},
    "volumes": {"aliases": ["v", "vol", "volume"]},
    "storage": {"aliases": ["tigris"], "sub": _names("create update list dashboard destroy status")},
    "apps": {
        "aliases": ["app"],
        "sub": {
            **_names("list create destroy restart move resume suspend open errors"),
            "releases": _RELEASES,
        },
    },
    "releases": _RELEASES,
    "deploy": {"args": 1, "flags": _DEPLOY_FLAGS},
    "machine": {
        "aliases": ["machines", "m"],
        "sub": _names(
            "api clone cordon destroy remove rm egress-ip exec kill leases list ls place proxy restart run start "
            "status stop suspend uncordon update wait"
        ),
    },
    "secrets": {
        "sub": {
            **_names("set sync unset import deploy keys"),
            "list": {"args": 0, "flags": {**_APP, **_JSON}},
        }
    },
}  # fmt: skip
