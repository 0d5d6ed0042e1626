"""The comparison at the top of the record's index.html: per gate, both screenshots, the difference, the plots.

Read from what each gate left beside its report (``<gate>-comparison.json`` and its PNGs); a gate
that compared nothing left nothing, and the page then starts with the release's timeline as before.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

_STYLE = (
    ".gates-comparison figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}"
    ".gates-comparison img{max-width:420px;border:1px solid #ccc}"
    ".gates-comparison figcaption{font-size:.85em;color:#444}"
)
_ORDER = ("baseline", "candidate", "difference", "latency", "memory")
_CAPTIONS = {
    "baseline": "the release it replaces",
    "candidate": "the new release",
    "difference": "what changed (framed in red)",
    "latency": "latency per route, both releases",
    "memory": "resident memory per instance, both releases",
}


def comparison_html(folder: Path) -> str:
    """The HTML of every gate's comparison in ``folder``, newest gate last; empty when none compared."""
    parts = []
    for summary in sorted(folder.glob("*-comparison*.json")):
        try:
            facts = json.loads(summary.read_text())
        except (OSError, ValueError):
            continue
        gate = summary.name.split("-comparison", 1)[0]
        figures = []
        for kind in _ORDER:
            name = next((n for n in facts.get("images", ()) if f"-comparison-{kind}" in n), None)
            if name and (folder / name).is_file():
                src = html.escape(name, quote=True)
                figures.append(f"<figure><a href='{src}'><img src='{src}' alt='{kind}'></a>"
                               f"<figcaption>{html.escape(_CAPTIONS[kind])}</figcaption></figure>")  # fmt: skip
        said = facts.get("visual", {}).get("said", "") if isinstance(facts.get("visual"), dict) else ""
        pair = str(facts.get("pair") or facts.get("visual", {}).get("pair", ""))
        parts.append(f"<h3>{html.escape(gate)}: {html.escape(pair)}</h3><p>{html.escape(said)}</p>{''.join(figures)}")
    if not parts:
        return ""
    body = "".join(parts)
    return (
        f"<style>{_STYLE}</style><section class='gates-comparison' id='comparison'>"
        f"<h2>Compared with the release it replaces</h2>{body}</section>\n"
    )
