"""``[tools]``: paths of the command-line tools gates drives."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ToolsConfig:
    """Paths of the command-line tools gates drives (relative to this file); empty: found as gates.core.tools says."""

    supabase: str = ""
    squawk: str = ""
