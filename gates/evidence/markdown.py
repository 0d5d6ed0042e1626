"""The little Markdown gates writes (headings, lists, check lists, tables, links, code), as HTML.

Only what ``summary.md`` uses, so a record opens in a browser without a Markdown library: every
text is escaped first, then links and inline code are made from the escaped text.
"""

from __future__ import annotations

import html
import re

_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
_CODE = re.compile(r"`([^`]*)`")
_CELL = re.compile(r"(?<!\\)\|")


def inline(text: str) -> str:
    """One line's inline markup: `code` and [text](link); everything else escaped."""
    escaped = html.escape(text, quote=False)
    escaped = _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", escaped)
    return _LINK.sub(lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', escaped)


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [c.strip().replace("\\|", "|") for c in _CELL.split(inner)]


def _table(rows: list[str]) -> str:
    head, body = _cells(rows[0]), [_cells(r) for r in rows[2:]]
    out = ["<table>", "<tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in body]
    return "\n".join([*out, "</table>"])


def _item(text: str) -> str:
    for mark, checked in (("[x] ", True), ("[ ] ", False)):
        if text.startswith(mark):
            box = "<input type='checkbox' disabled" + (" checked" if checked else "") + ">"
            return f"<li class='check'>{box} {inline(text[len(mark) :])}</li>"
    return f"<li>{inline(text)}</li>"


def to_html(markdown: str) -> str:
    """The body HTML of ``markdown``."""
    lines = markdown.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 6)
            out.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.startswith("|") and i + 1 < len(lines) and set(lines[i + 1].strip()) <= set("|-: "):
            end = i
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            out.append(_table(lines[i:end]))
            i = end
            continue
        elif line.startswith("- "):
            end = i
            while end < len(lines) and lines[end].startswith("- "):
                end += 1
            out.append("<ul>" + "".join(_item(item[2:]) for item in lines[i:end]) + "</ul>")
            i = end
            continue
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
        i += 1
    return "\n".join(out)


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}"
    "li.check{list-style:none}code{background:#f3f3f3;padding:0 .2em}"
)


def page(title: str, body: str) -> str:
    """A whole HTML page around ``body``."""
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
