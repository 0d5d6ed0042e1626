"""Tools found without a checkout of gates, and one line naming the install command when missing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gates.core.tools import SUPABASE_VERSION, ToolMissing, find


def test_a_missing_supabase_cli_says_how_to_install_the_pinned_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nowhere to be found: one line naming where it looked and the exact install command."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SUPABASE_BIN", raising=False)
    with pytest.raises(ToolMissing) as caught:
        find("supabase", roots=(tmp_path,))
    said = str(caught.value)
    assert "\n" not in said and f"npm install --prefix ~/.gates/tools supabase@{SUPABASE_VERSION}" in said


def test_the_projects_node_modules_then_the_variable_then_the_config_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """node_modules/.bin of the project is found; $SUPABASE_BIN beats it; [tools] beats both."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("SUPABASE_BIN", raising=False)
    local = _executable(tmp_path / "node_modules" / ".bin" / "supabase")
    assert find("supabase", roots=(tmp_path,)).path == str(local)
    other = _executable(tmp_path / "other" / "supabase")
    monkeypatch.setenv("SUPABASE_BIN", str(other))
    assert find("supabase", roots=(tmp_path,)).how == "$SUPABASE_BIN"
    configured = _executable(tmp_path / "tools" / "supabase")
    assert find("supabase", str(configured), roots=(tmp_path,)).path == str(configured)
    with pytest.raises(
        ToolMissing, match=r"\[tools\] supabase = '/nowhere/supabase': not an executable; install supabase with `npm"
    ):
        find("supabase", "/nowhere/supabase")


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho 3.1.0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    assert os.access(path, os.X_OK)
    return path
