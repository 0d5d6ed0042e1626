"""A page whose styles collapsed, told from the page alone: no baseline needed.

A page that lost its stylesheet still has every element and throws no error; what changed is that the
browser shows it with its own default styles. ``LAYOUT_PROBE`` is the script a visit evaluates in the
page's frame (``frame.evaluate(LAYOUT_PROBE, wait_ms)``); it measures:

- the stylesheets the document links and those that loaded (a link whose sheet is missing once its
  fetch ended did not load: a 404, a wrong content type, a refused origin), with the URLs that failed;
- of the visible elements of the body, how many have exactly the computed style the browser gives that
  element in an empty document of its own (font, colours, margins, padding, borders, display);
- the body's font family, and the browser's default one;
- the most block boxes that stand side by side across the page (a styled dashboard has columns; an
  unstyled page stacks every block in one).

``layout_collapsed`` judges those measurements: a stylesheet that did not load, or most elements in the
browser's default style, is a collapsed page. Given the measurements of the release being replaced too,
it also fails a page whose columns fell to one, whose body font fell back to the browser's default, or
whose share of default-styled elements rose sharply.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from gates.core.measurement import Measurement

MAX_DEFAULT_SHARE = 0.8  # of the visible elements, the most that may have the browser's default style
MAX_DEFAULT_RISE = 0.3  # against the baseline: the most that share may rise
MIN_ELEMENTS = 5  # fewer visible elements than this: the share says nothing
WAIT_MS = 3000  # the probe's bound on stylesheets still loading (the caller's evaluate bound must exceed it)

# Properties whose computed value tells a styled element from a default one. Inherited ones (font, colour)
# carry the body's style into every element, so one rule on the body is enough to call them styled.
_PROPERTIES = (
    "font-family font-size font-weight font-style color background-color background-image line-height text-align "
    "margin-top margin-right margin-bottom margin-left padding-top padding-right padding-bottom padding-left "
    "border-top-width border-top-style border-left-width border-left-style border-radius display box-shadow"
)

LAYOUT_PROBE = (
    """async (waitMs) => {
  const PROPS = '"""
    + _PROPERTIES
    + """'.split(' ');
  const INHERITED = new Set(['font-family', 'font-size', 'font-weight', 'font-style', 'color', 'line-height', 'text-align']);
  const SKIP = ['script', 'style', 'link', 'meta', 'template', 'noscript', 'br', 'iframe'];
  const links = () => [...document.querySelectorAll('link[rel~="stylesheet" i]')].filter(l => !l.disabled && l.href);
  const fetched = new Set(performance.getEntriesByType('resource').map(e => e.name));
  const pending = () => links().filter(l => !l.sheet && !fetched.has(l.href));
  // A stylesheet still on its way is neither loaded nor failed: wait for it, bounded.
  const deadline = Date.now() + waitMs;
  while (pending().length && Date.now() < deadline) {
    await new Promise(r => setTimeout(r, 50));
    performance.getEntriesByType('resource').forEach(e => fetched.add(e.name));
  }
  // A link that did not load still gets an empty sheet in Chromium: what it answered (when the browser may say,
  // on the page's origin or with Timing-Allow-Origin) and whether any rule came of it tell.
  const answers = new Map(performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus || 0]));
  const rules = (sheet) => { try { return sheet.cssRules.length; } catch { return -1; } };  // -1: not ours to read
  const all = links();
  const failed = [];
  for (const l of all) {
    const status = answers.get(l.href) || 0;
    if (!l.sheet) failed.push(`${l.href} (no stylesheet${status ? `, HTTP ${status}` : ''})`);
    else if (status >= 400) failed.push(`${l.href} (HTTP ${status})`);
    else if (rules(l.sheet) === 0) failed.push(`${l.href} (no rules: empty, or not served as text/css)`);
  }

  // The browser's own style of each tag: the same element in an empty document of its own.
  const blank = document.createElement('iframe');
  blank.setAttribute('aria-hidden', 'true');
  blank.style.cssText = 'display:block!important;position:absolute!important;left:-10000px!important;'
    + 'width:800px!important;height:600px!important;visibility:hidden!important';
  document.documentElement.appendChild(blank);
  const own = blank.contentDocument;
  // In standards mode, as the page is; a page whose policy refuses document.write keeps the blank's own.
  try { own.open(); own.write('<!doctype html><html><head></head><body></body></html>'); own.close(); } catch {}
  const cold = blank.contentWindow.getComputedStyle(own.body);
  const base = PROPS.map(p => cold.getPropertyValue(p));
  const defaults = new Map([['body', base]]);
  const defaultOf = (el) => {
    const tag = el.localName;
    if (!defaults.has(tag)) {
      const twin = own.body.appendChild(own.createElement(tag));
      if (tag === 'a' || tag === 'area') twin.setAttribute('href', '#');  // a link is styled as one only with its href
      defaults.set(tag, PROPS.map(p => blank.contentWindow.getComputedStyle(twin).getPropertyValue(p)));
    }
    return defaults.get(tag);
  };
  // In the default style: each property as the browser styles that tag, or (a property passed down, that the
  // tag does not set) as its parent has it, when the parent is in the default style too -- a link in a
  // heading has the heading's size in an unstyled page.
  const plain = new Map();
  const isPlain = (el) => {
    if (!plain.has(el)) {
      const cs = getComputedStyle(el), want = defaultOf(el);
      const parent = el === document.body ? null : el.parentElement;
      plain.set(el, PROPS.every((p, i) => {
        const v = cs.getPropertyValue(p);
        return v === want[i] || (parent !== null && INHERITED.has(p) && want[i] === base[i] && isPlain(parent)
          && v === getComputedStyle(parent).getPropertyValue(p));
      }));
    }
    return plain.get(el);
  };
  const HTML = 'http://www.w3.org/1999/xhtml';
  const visible = [document.body, ...document.body.querySelectorAll('*')].filter(el => {
    if (el.namespaceURI !== HTML || SKIP.includes(el.localName)) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  }).slice(0, 3000);
  const defaultStyled = visible.filter(isPlain).length;
  const bodyFont = getComputedStyle(document.body).fontFamily;
  const defaultFont = cold.fontFamily;
  blank.remove();

  // Columns: along lines across the page, the most block boxes that do not overlap one another.
  const BLOCKS = ['block', 'flex', 'grid', 'table', 'list-item', 'flow-root'];
  const boxes = visible.filter(el => el !== document.body && BLOCKS.includes(getComputedStyle(el).display))
    .map(el => el.getBoundingClientRect()).filter(r => r.width >= 24 && r.height >= 8);
  const lines = [...new Set(boxes.map(r => Math.round((r.top + r.height / 2) / 4) * 4))].slice(0, 400);
  let columns = boxes.length ? 1 : 0;
  for (const y of lines) {
    const across = boxes.filter(r => r.top <= y && r.bottom >= y).sort((a, b) => a.right - b.right);
    let count = 0, edge = -Infinity;
    for (const r of across) if (r.left >= edge - 1) { count += 1; edge = r.right; }
    columns = Math.max(columns, count);
  }
  return {stylesheets: all.length, loaded: all.length - failed.length, failed, elements: visible.length,
          defaultStyled, bodyFont, defaultFont, columns};
}"""
)


@dataclasses.dataclass(frozen=True)
class LayoutProbe:
    """What ``LAYOUT_PROBE`` measured on one page."""

    stylesheets: int  # linked by the document
    loaded: int
    failed: tuple[str, ...]  # URLs of the linked stylesheets that did not load
    elements: int  # visible elements of the body (the body included)
    default_styled: int  # of those, the ones in exactly the browser's default style
    body_font: str
    default_font: str
    columns: int  # the most block boxes side by side

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LayoutProbe:
        """The probe's answer; a missing or mistyped field is a ValueError (a page that redefined the builtins
        the probe relies on gives nonsense, not measurements)."""
        try:
            return cls(
                stylesheets=int(data["stylesheets"]),
                loaded=int(data["loaded"]),
                failed=tuple(str(u) for u in data["failed"]),
                elements=int(data["elements"]),
                default_styled=int(data["defaultStyled"]),
                body_font=str(data["bodyFont"]),
                default_font=str(data["defaultFont"]),
                columns=int(data["columns"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the layout probe's answer is not measurements: {exc!r}") from None

    @property
    def default_share(self) -> float:
        return self.default_styled / self.elements if self.elements else 0.0

    @property
    def default_font_used(self) -> bool:
        return _fonts(self.body_font) == _fonts(self.default_font)

    def describe(self) -> str:
        return (
            f"{self.loaded} of {self.stylesheets} stylesheets loaded, {self.default_styled} of {self.elements} "
            f"elements in the browser's default style ({self.default_share:.0%}), body font {self.body_font}, "
            f"{self.columns} column{'s' if self.columns != 1 else ''}"
        )


def _fonts(family: str) -> tuple[str, ...]:
    return tuple(f.strip().strip("\"'").lower() for f in family.split(","))


def layout_collapsed(
    probe: LayoutProbe | None,
    baseline: LayoutProbe | None = None,
    *,
    max_default_share: float = MAX_DEFAULT_SHARE,
    max_default_rise: float = MAX_DEFAULT_RISE,
    min_elements: int = MIN_ELEMENTS,
    source: str = "",
) -> Measurement:
    """The page kept its styles and layout: every linked stylesheet loaded and at most ``max_default_share`` of
    its visible elements look as the browser shows an unstyled page; against ``baseline`` (the release being
    replaced), also no fall to one column, to the default font, or a rise of the default share beyond
    ``max_default_rise``. No measurements fails (closed)."""
    question = "the page is styled: its stylesheets loaded and its elements are not in the browser's default style"
    expected = f"every stylesheet loaded, at most {max_default_share:.0%} of the elements in the default style"
    where = source or "the page's DOM and computed styles, read in the browser"
    if probe is None:
        problem = "no layout measurements of the page (fail closed)"
        return Measurement("layout", question, "no measurements", expected, False, where, problems=[problem])
    problems: list[str] = []
    if probe.failed or probe.loaded < probe.stylesheets:
        named = ", ".join(probe.failed) or "unnamed"
        problems.append(f"{probe.stylesheets - probe.loaded} of {probe.stylesheets} stylesheets did not load: {named}")
    if probe.elements >= min_elements and probe.default_share > max_default_share:
        problems.append(
            f"{probe.default_styled} of {probe.elements} visible elements ({probe.default_share:.0%}) have the "
            f"browser's default style (limit {max_default_share:.0%}): the page is shown unstyled"
        )
    if baseline is not None:
        problems += _against(probe, baseline, max_default_rise, min_elements)
    return Measurement("layout", question, probe.describe(), expected, not problems, where,
                       details=[_row("now", probe)] + ([_row("before", baseline)] if baseline else []),
                       problems=problems)  # fmt: skip


def _against(probe: LayoutProbe, baseline: LayoutProbe, max_rise: float, min_elements: int) -> list[str]:
    """What collapsed since the release being replaced."""
    problems: list[str] = []
    if baseline.columns >= 2 and probe.columns < 2:
        problems.append(f"the layout fell to {probe.columns} column (was {baseline.columns})")
    if probe.default_font_used and not baseline.default_font_used:
        problems.append(
            f"the body font fell back to the browser's default {probe.body_font} (was {baseline.body_font})"
        )
    rise = probe.default_share - baseline.default_share
    if min(probe.elements, baseline.elements) >= min_elements and rise > max_rise:
        problems.append(
            f"elements in the browser's default style rose to {probe.default_share:.0%} from "
            f"{baseline.default_share:.0%} (limit +{max_rise:.0%})"
        )
    return problems


def _row(which: str, probe: LayoutProbe) -> dict[str, Any]:
    return {"release": which, **dataclasses.asdict(probe), "default_share": round(probe.default_share, 3)}
