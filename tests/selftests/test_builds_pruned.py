"""Nothing left forever: after a release, the builds no release can return to are pruned, and `gates status` shows
the state folder's size. Real rollouts of the demo on the local platform (no database: none is needed here)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from gates.config import Config, load
from gates.evidence.record import Record
from gates.evidence.state import Drill
from gates.platforms.local import LocalPlatform
from gates.platforms.local.builds import builds_dir
from gates.release import Context, Step, execute, prune_builds
from gates.release.deploy import deploy_step
from tests.selftests.demo import demo_copy, gates

MakeConfig = Callable[..., Config]
SICK = "async def health(request: Request) -> Response:\n    return JSONResponse({'status': 'error'}, status_code=503)\n"


def _release(config: Config, source: Path) -> tuple[Record, str]:
    """One production deploy of ``source`` with its record, then the prune a `gates deploy` ends with; (record, said)."""
    config = dataclasses.replace(config, app=dataclasses.replace(config.app, source=str(source)))
    ctx = Context(config, Record(config.record_dir))
    ctx.state.drill = Drill(env="production", waived="a deploy step on its own: the prune's self-test")
    ctx.platforms["production"] = LocalPlatform(config, health_timeout=5.0)  # the sick release fails fast
    execute(ctx, [Step("deploy", "production", deploy_step)])
    return ctx.record, prune_builds(ctx)


def _source(tmp_path: Path, n: int, sick: bool = False) -> Path:
    """The demo's code as commit ``n`` would ship it; ``sick``: its /health answers 503 (it never comes up)."""
    app = demo_copy(tmp_path / f"v{n}")
    (app / "release-note.txt").write_text(f"release {n}\n")
    if sick:
        code = (app / "app.py").read_text()
        (app / "app.py").write_text(code.replace("async def health(request: Request) -> Response:\n", SICK, 1))
    return app


def test_builds_no_release_can_return_to_are_pruned_and_status_shows_the_state_folder(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """With keep_builds = 2, after releases 1 and 2 (good), 3 (its rollout failed) and 4 (good), only the builds of the
    last two good releases stay (4 serves, 2 is the rollback's target); 1's and the failed one's are gone, marker and
    log too. `gates status` shows the state folder's size and the builds kept."""
    config = make_config(instances=1)
    config.path.write_text(config.path.read_text().replace("[local]\n", "[local]\nkeep_builds = 2\n", 1))
    config = load(config.path)
    refs = []
    for n, sick in ((1, False), (2, False), (3, True), (4, False)):
        record, said = _release(config, _source(tmp_path, n, sick))
        assert record.outcome == ("failed" if sick else "passed"), record.reason
        refs.append(record.state.builds["production"].deployed)
    builds = builds_dir(config)
    assert sorted(p.name for p in builds.iterdir() if p.is_dir()) == sorted([refs[1], refs[3]])
    assert not [p for p in builds.iterdir() if p.name.startswith((refs[0], refs[2]))]
    # The failed release's build went with its own release's prune; release 1's once 4 and 2 were the last good two.
    assert said == f"pruned 1 build(s) no release can return to: {refs[0]}"

    status = gates("status", "--json", "--env", "production", config=config.path)
    (row,) = json.loads(status.stdout)
    assert row["state_dir"]["path"] == str(config.state_dir) and row["state_dir"]["builds"] == 2
    assert row["state_dir"]["bytes"] > 0
    text = gates("status", "--env", "production", config=config.path).stdout
    assert f"state folder {config.state_dir}: " in text and " MB, 2 build(s) kept" in text


def test_keep_builds_below_one_is_refused_naming_the_key(tmp_path: Path) -> None:
    """[local] keep_builds = 0 would prune the build that serves: the config is refused, naming file and key."""
    from tests.selftests.demo import write_config

    path = write_config(tmp_path, environments={"staging": {}})
    path.write_text(path.read_text().replace("[local]\n", "[local]\nkeep_builds = 0\n", 1))
    result = gates("config", "check", config=path)
    assert result.returncode == 2 and "local.keep_builds: expected 1 or more, got 0" in result.stderr, result.stderr
