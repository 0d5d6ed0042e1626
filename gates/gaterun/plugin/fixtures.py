"""Fixtures a molecule uses: the target, its platform, HTTP clients, the database, the probe's run, the verdict."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from gates import config as config_mod
from gates.core.errors import GatesError
from gates.core.measurement import Measurement
from gates.core.redact import redact
from gates.gaterun.plugin.evidence import IMAGES_KEY, MEASUREMENT_PROPERTY, MEASUREMENTS_KEY
from gates.gaterun.plugin.selection import TARGET_KEY
from gates.target import Target


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    """The environment this gate targets, resolved once: config, platform driver, database URL."""
    found = request.config.stash.get(TARGET_KEY, None)
    if found is None:
        raise pytest.UsageError("no environment selected: use -m <environment> or --env NAME")
    return found


@pytest.fixture(scope="session")
def gates_config(target: Target) -> config_mod.Config:
    """The loaded release config."""
    return target.config


@pytest.fixture(scope="session")
def environment(target: Target) -> config_mod.Environment:
    """The environment this gate targets."""
    return target.env


@pytest.fixture(scope="session")
def app(gates_config: config_mod.Config) -> config_mod.AppConfig:
    """The app section of the config."""
    return gates_config.app


@pytest.fixture(scope="session")
def platform(target: Target) -> Any:
    """The platform driver of the target environment."""
    return target.platform


@pytest.fixture(scope="session")
def status(target: Target) -> Any:
    """What the platform says the environment runs (instances, releases); skips, saying why, where the
    platform has no instance list (an environment deployed by something else)."""
    from gates.platforms.external import Unsupported

    try:
        return target.platform.status(target.env)
    except Unsupported as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def expected_release(request: pytest.FixtureRequest, platform: Any, environment: config_mod.Environment) -> int | None:
    """The release the environment must serve: --expect-release, else the platform's newest complete one."""
    explicit: int | None = request.config.getoption("gates_expect_release")
    if explicit is not None:
        return explicit
    for release in platform.releases(environment):
        if release.status == "complete":
            return int(release.version)
    return None


@pytest.fixture(scope="session")
def http(environment: config_mod.Environment, app: config_mod.AppConfig) -> Iterator[Any]:
    """An httpx client bound to the environment's URL, with timeouts, not following redirects; after the first
    request of the run that gets no answer, later ones fail at once naming it (gates.core.httpclient)."""
    from gates.core.httpclient import gate_client

    with gate_client(environment.url, app.health_timeout) as client:
        yield client


@pytest.fixture(scope="session")
def app_http(environment: config_mod.Environment, app: config_mod.AppConfig) -> Iterator[Any]:
    """For a team's molecules: an httpx client like ``http``, whose request that gets no answer (timeout,
    refused connection) fails the molecule with one line naming the request and the bound, not a traceback."""
    from gates.core.httpclient import molecule_client

    def fail(reason: str) -> NoReturn:
        pytest.fail(reason, pytrace=False)

    with molecule_client(environment.url, app.health_timeout, fail) as client:
        yield client


@pytest.fixture(scope="session")
def db_url(target: Target) -> str:
    """The URL of the target's database (for tools that connect themselves, like the Supabase CLI); skips,
    saying why, for an environment deployed by something else without a database."""
    if not target.has_database:
        pytest.skip(
            f"{target.env.name} has no database configured (platform {target.env.platform}, no database_url_env)"
        )
    return target.database_url


@pytest.fixture(scope="session")
def db(db_url: str, target: Target) -> Iterator[Any]:
    """A psycopg connection to the environment's database; read-only when the environment is production."""
    import psycopg

    from gates.database import gate_connection

    try:
        conn = gate_connection(db_url, target.env, target.config)
    except psycopg.Error as exc:
        pytest.fail(redact(f"cannot connect to the {target.env.name} database: {exc}"), pytrace=False)
    with conn:
        yield conn


@pytest.fixture(scope="session")
def migration_files(gates_config: config_mod.Config) -> Any:
    """The app's migration files, in version order."""
    from gates.database.migrations import local_migrations

    try:
        return local_migrations(gates_config.migrations_dir)
    except GatesError as exc:  # two files sharing a version: one line, not a traceback
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def probe_run(request: pytest.FixtureRequest, target: Target, expected_release: int | None) -> Any:
    """The traffic probe of the rollout: --probe-samples, else the newest record's probe of the release served now;
    skips, saying why, for an environment deployed by something else (gates rolled nothing out to probe)."""
    from gates.gaterun import probe

    explicit = request.config.getoption("gates_probe_samples")
    if not explicit and not getattr(target.platform, "deploys", True):
        pytest.skip(
            f"{target.env.name} is deployed by something else (platform {target.env.platform}): gates rolled "
            "nothing out to probe; pass --probe-samples PATH to judge a probe of its rollout"
        )
    try:
        if explicit:
            return probe.load(Path(explicit))
        return probe.find(target.config, target.env, expected_release)
    except GatesError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> Callable[[Measurement], None]:
    """Attach a Measurement to this test's evidence and fail with its explanation when it is not ok."""

    def judge(measurement: Measurement) -> None:
        request.node.stash.setdefault(MEASUREMENTS_KEY, []).append(measurement)
        request.node.user_properties.append((MEASUREMENT_PROPERTY, json.dumps(measurement.as_dict())))
        if not measurement.ok:
            pytest.fail(measurement.explain(), pytrace=False)

    return judge


@pytest.fixture
def attach_image(request: pytest.FixtureRequest) -> Callable[[str, bytes], None]:
    """Attach a PNG (a plot) to this test's HTML report under a name, whatever the verdict."""

    def attach(name: str, png: bytes) -> None:
        request.node.stash.setdefault(IMAGES_KEY, []).append((name, png))

    return attach
