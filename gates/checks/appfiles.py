"""Where the preflight finds the app's files: its fly.toml, Dockerfile, package.json and workflows.

The fly.toml is the environment's ``fly_config`` (a Fly environment without one: the app source's
fly.toml); the Dockerfile is the one that fly.toml builds (``[build] dockerfile``, relative to it),
else the app source's (gates runs ``fly deploy <app source>``, and flyctl looks in its working directory); the workflows are the ``.github/workflows`` of the repository holding the
app source (or the config). None: the app has no such file, and the molecule says so.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from gates.checks.workflows import find_workflows
from gates.config import Config, Environment


def fly_toml(config: Config, env: Environment) -> Path | None:
    if env.fly_config:
        return config.resolve(env.fly_config)
    return config.app_source / "fly.toml" if env.platform == "fly" else None


def dockerfile(config: Config, env: Environment) -> Path | None:
    fly = fly_toml(config, env)
    candidates = [config.app_source / "Dockerfile"]
    if fly is not None and fly.is_file():
        try:
            build = tomllib.loads(fly.read_text()).get("build") or {}
        except tomllib.TOMLDecodeError:
            build = {}  # the fly.toml lint names the syntax error
        if "dockerfile" in build:  # else flyctl takes the one in the deploy's working directory, the app source
            return fly.parent / str(build["dockerfile"]) if (fly.parent / str(build["dockerfile"])).is_file() else None
    return next((p for p in candidates if p.is_file()), None)


def package_json(config: Config) -> Path | None:
    path = config.app_source / "package.json"
    return path if path.is_file() else None


def workflows(config: Config) -> Path | None:
    return find_workflows(config.app_source, config.root)
