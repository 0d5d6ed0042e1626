"""Which run is a gate run, which environment it targets, and which molecules it holds (waived ones skipped)."""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from gates import config as config_mod
from gates.core.errors import UsageError
from gates.core.markers import CONCERNS, GATES, MOLECULES, WAIVED_PREFIX, gate_of_run, seed_step
from gates.target import Target, open_config, resolve

TARGET_KEY = pytest.StashKey[Target | None]()
GATE_RUN_KEY = pytest.StashKey[bool]()
SEED_STEP_PROPERTY = "gates_seed_step"  # the molecule's DEVOPS id, on every report and in the JUnit XML
CONCERN_PROPERTY = "gates_concern"


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """In a gate run, everything imported and collected so far is moved out of the garbage collector's reach
    (``gc.freeze``): a gate is one short process, and pytest's own collections (one at its end, more as objects
    pile up) would otherwise walk every module, class and item again: 60-100 ms of a 4 s gate."""
    if session.config.stash.get(GATE_RUN_KEY, False):
        gc.freeze()


def selects_a_gate(markexpr: str, explicit_env: str | None) -> bool:
    """A run that selects a gate (its marker in -m, or an environment named with --env/$GATES_ENV)."""
    return bool(explicit_env) or bool(set(re.findall(r"[A-Za-z_][A-Za-z0-9_-]*", markexpr)) & set(GATES))


def explicit_env(config: pytest.Config) -> str | None:
    explicit: str | None = config.getoption("gates_env") or os.environ.get(config_mod.ENV_SELECT)
    return explicit


def gate_markers(item: pytest.Item) -> set[str]:
    return {m.name for m in item.iter_markers() if m.name in GATES}


def select_environment(cfg: config_mod.Config, explicit: str | None, markexpr: str) -> config_mod.Environment:
    """The environment a run targets: --env/$GATES_ENV, else the one environment named in -m."""
    if explicit:
        return cfg.environment(explicit)
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_-]*", markexpr)) - {"and", "or", "not"}
    named = [
        name for name in cfg.environments if name in words and not re.search(rf"not\s+{re.escape(name)}\b", markexpr)
    ]
    known = ", ".join(cfg.environments)
    if len(named) == 1:
        return cfg.environments[named[0]]
    if len(named) > 1:
        raise UsageError(
            f"-m {markexpr!r} names several environments ({', '.join(named)}); pass --env NAME (known: {known})"
        )
    raise UsageError(f"no environment selected: use -m <environment> or --env NAME (known: {known})")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Resolve the target once, before anything runs; molecules without a target are deselected."""
    molecules = [item for item in items if gate_markers(item)]
    if not molecules:
        return
    explicit = explicit_env(config)
    markexpr = config.getoption("markexpr") or ""
    if not explicit and not markexpr:
        # A plain `pytest` is a developer run: molecules need a target, so leave them out and say so.
        keep = [item for item in items if not gate_markers(item)]
        config.hook.pytest_deselected(items=molecules)
        items[:] = keep
        return
    try:
        cfg = open_config(config.getoption("gates_config"))
        target = resolve(cfg, select_environment(cfg, explicit, markexpr).name)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[TARGET_KEY] = target
    _waive(target.config.gate.waive, molecules)
    _tag_seed_steps(gate_of_run(markexpr, target.env.is_production), molecules)
    _health_first(items)


def _health_first(items: list[pytest.Item]) -> None:
    """The molecules of the health concern run first, the others in the order collected. Why: they ask the app
    its cheapest questions, each bounded by ``[app] health_timeout``, and an app that gives no answer is then
    silent for the whole gate (gates.core.httpclient): the browser's visit is not tried and no browser started,
    so a gate against a hung app waits one health_timeout, not the browser's start and its load_timeout."""
    items.sort(key=lambda item: 0 if gate_markers(item) and item.get_closest_marker("health") else 1)


def _tag_seed_steps(gate: str, items: list[pytest.Item]) -> None:
    """Each molecule's seed step id and concern ride on its reports (HTML columns, JUnit, events)."""
    for item in items:
        concerns = [m.name for m in item.iter_markers() if m.name in CONCERNS]
        item.user_properties.append((SEED_STEP_PROPERTY, seed_step(gate, concerns)))
        item.user_properties.append((CONCERN_PROPERTY, ", ".join(dict.fromkeys(concerns))))


def _waive(waivers: Mapping[str, str], items: list[pytest.Item]) -> None:
    """Built-in molecules waived in [gate] waive are skipped, saying so with the reason: never silently absent."""
    for item in items:
        reason = waivers.get(getattr(item, "originalname", item.name))
        if reason is not None and Path(str(item.path)).resolve().parent == MOLECULES:
            item.add_marker(pytest.mark.skip(reason=f"{WAIVED_PREFIX} {reason}"))


def pytest_report_header(config: pytest.Config) -> str | None:
    target = config.stash.get(TARGET_KEY, None)
    if target is None:
        return None
    return f"gates: environment {target.env.name} ({target.env.platform}) at {target.env.url}"
