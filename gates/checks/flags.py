"""The flags check: every configured flag is false in production. Values are never shown.

Sources turn whatever they read into verdicts (false, not false, missing) before anything else
sees it, so a value cannot reach a Measurement. Counted as false (trimmed, any case): ``false``,
``0``, ``off``, ``no``, ``disabled``, and JSON ``false`` and ``0``. Everything else -- ``true``,
``1``, ``yes``, an empty string, a typo -- is not false. A flag missing from its source fails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gates.core.measurement import Measurement

FALSE_SPELLINGS = ("false", "0", "off", "no", "disabled")
MISSING = None


def is_false(value: Any) -> bool:
    """Whether a flag value means false (see the module docstring for the spellings)."""
    if isinstance(value, bool):
        return value is False
    if isinstance(value, int | float):
        return value == 0
    return isinstance(value, str) and value.strip().lower() in FALSE_SPELLINGS


def flags_false(
    verdicts: Mapping[str, bool | None], names: Sequence[str], source: str, problems: Sequence[str] = ()
) -> Measurement:
    """Every flag in ``names`` is false: ``verdicts`` maps a name to is-false, or None when missing."""
    issues = list(problems)
    rows: list[dict[str, Any]] = []
    for name in names:
        verdict = verdicts.get(name, MISSING)
        state = "missing" if verdict is None else "false" if verdict else "NOT false"
        rows.append({"flag": name, "verdict": state})
        if verdict is None:
            issues.append(f"{name}: missing from {source} (fail closed)")
        elif not verdict:
            issues.append(f"{name}: is not false in production (value not shown)")
    if not names:
        issues.append("no flags found to check (names and prefix matched nothing)")
    return Measurement(
        name="flags false",
        question="every configured feature flag is false in production",
        observed=f"{sum(1 for r in rows if r['verdict'] == 'false')} of {len(names)} false",
        expected=f"all {len(names)} false",
        ok=not issues,
        source=source,
        details=rows,
        problems=issues,
    )
