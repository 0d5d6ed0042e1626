"""Two screenshots of the same page compared: how much of it changed, where, and a picture of it.

The release being replaced and the new one are visited the same way; their full-page PNGs are compared
over a grid of square blocks. Both are blurred a little and reduced to 4x4 averages (anti-aliasing and
sub-pixel rendering differ between two paints of one page); each block's difference is the mean colour
difference of the two, at the best of every offset of the candidate within ``shift`` pixels each way,
in half-pixel steps (text laid out a pixel or half a pixel off is the same text). A block differs when
that best difference is above ``tolerance``; the score is the fraction of blocks that differ, and
differing blocks near each other make one region. Screenshots of different sizes are compared on the
larger canvas, each padded with its own background colour: content only one of them has is a change.
Content that moved further than ``shift`` (a banner pushing the page down) changes every block it moved.

numpy and Pillow are imported where they are used: loading the checks stays quick for collection.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gates.core.measurement import Measurement

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

    Pixels = npt.NDArray[np.float32]

Source = bytes | Path

BLOCK = 16  # pixels: a block of the grid; about a line of body text high
SHIFT = 2  # pixels a block may slide to meet its counterpart (sub-pixel text, a 1 px layout jitter)
TOLERANCE = 0.03  # mean colour difference (0..1) of a block above which it changed: about 8 of 255 levels
MAX_SCORE = 0.05  # fraction of the page's blocks that may change before the comparison fails
MAX_HEIGHT = 16384  # pixels compared at most: a longer page is compared over its top part (said in the result)
_FACTOR = 4  # pixels: the comparison is over 4x4 averages
_BLUR = 1.5  # pixels: the Gaussian blur's radius, about a glyph stroke
_STRIPE = 512  # pixels of page compared at a time


@dataclasses.dataclass(frozen=True)
class Region:
    """A rectangle of the page, in pixels of the screenshots."""

    x: int
    y: int
    width: int
    height: int

    def describe(self) -> str:
        return f"{self.width}x{self.height} px at ({self.x}, {self.y})"

    def box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom), as Pillow takes it."""
        return self.x, self.y, self.x + self.width, self.y + self.height


@dataclasses.dataclass(frozen=True)
class VisualDiff:
    """What differs between two screenshots of one page."""

    score: float  # fraction of the canvas's blocks that differ, 0..1
    regions: tuple[Region, ...]  # the differing blocks, neighbours joined, largest first
    canvas: tuple[int, int]  # (width, height) compared: the larger of both, at most MAX_HEIGHT high
    baseline_size: tuple[int, int]
    candidate_size: tuple[int, int]
    changed_blocks: int
    blocks: int
    block: int = BLOCK

    @property
    def cropped(self) -> bool:
        """Whether a screenshot was taller than what was compared."""
        return max(self.baseline_size[1], self.candidate_size[1]) > self.canvas[1]

    def describe(self) -> str:
        sizes = f"{_size(self.baseline_size)} before, {_size(self.candidate_size)} now"
        crop = f", compared over the top {self.canvas[1]} px" if self.cropped else ""
        return (
            f"{self.score:.1%} of the page changed ({self.changed_blocks} of {self.blocks} blocks of "
            f"{self.block} px, {len(self.regions)} region{'s' if len(self.regions) != 1 else ''}; {sizes}{crop})"
        )


def _size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def compare(
    baseline: Source,
    candidate: Source,
    *,
    block: int = BLOCK,
    shift: int = SHIFT,
    tolerance: float = TOLERANCE,
    max_height: int = MAX_HEIGHT,
) -> VisualDiff:
    """Compare two screenshots (PNG bytes or paths) of the same page; see the module's docstring."""
    import numpy as np

    if block < 2 * _FACTOR or block % _FACTOR:
        raise ValueError(f"block must be a multiple of {_FACTOR} pixels, at least {2 * _FACTOR}, got {block}")
    before, after = _open(baseline), _open(candidate)
    width = max(before.width, after.width)
    height = min(max(before.height, after.height), max_height)
    # The canvas in whole blocks; what lies past a screenshot's edge is its background.
    rows, cols = -(-height // block), -(-width // block)
    reach = max(shift, 0)
    best = _block_differences(
        _canvas(before, cols * block, rows * block, 0), _canvas(after, cols * block, rows * block, reach), block, reach
    )
    changed = best > tolerance
    cells = [(int(r), int(c)) for r, c in zip(*np.nonzero(changed), strict=True)]
    regions = _regions(cells, block, width, height)
    return VisualDiff(
        score=len(cells) / (rows * cols),
        regions=regions,
        canvas=(width, height),
        baseline_size=before.size,
        candidate_size=after.size,
        changed_blocks=len(cells),
        blocks=rows * cols,
        block=block,
    )


def _open(source: Source) -> Image.Image:
    from PIL import Image

    data = source if isinstance(source, bytes) else source.read_bytes()
    image = Image.open(io.BytesIO(data))
    if image.mode not in ("RGBA", "LA", "P"):
        return image.convert("RGB")
    # Transparent pixels are white, as the browser paints a page with no background.
    clear = image.convert("RGBA")
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(clear, mask=clear.getchannel("A"))
    return flat


def _canvas(image: Image.Image, width: int, height: int, margin: int) -> Image.Image:
    """The image on a ``width`` x ``height`` canvas with ``margin`` around it (cut, or padded with its
    background), blurred: anti-aliasing and sub-pixel rendering differ between two paints of one page."""
    from PIL import Image, ImageFilter

    canvas = Image.new("RGB", (width + 2 * margin, height + 2 * margin), _background(image))
    canvas.paste(image.crop((0, 0, min(image.width, width), min(image.height, height))), (margin, margin))
    return canvas.filter(ImageFilter.GaussianBlur(_BLUR))


def _block_differences(a: Image.Image, b: Image.Image, block: int, reach: int) -> Pixels:
    """Per block of ``a``, the smallest mean colour difference to ``b`` (drawn with ``reach`` px of margin),
    over every offset within ``reach`` pixels in half-pixel steps. A half-pixel offset is the mean of its
    whole-pixel neighbours: text laid out half a pixel off is met too. Computed in stripes: a page many
    screens long takes the memory of one stripe."""
    import numpy as np

    rows, cols = a.height // block, a.width // block
    side = block // _FACTOR
    best = np.full((rows, cols), np.inf, dtype=np.float32)
    stripe = max(_STRIPE // block, 1)
    whole = range(-reach, reach + 1)
    for first in range(0, rows, stripe):
        last = min(first + stripe, rows)
        top, bottom = first * block, last * block
        mine = _reduced(a.crop((0, top, a.width, bottom)))
        theirs = {(dy, dx): _reduced(b.crop((reach + dx, reach + top + dy, reach + dx + a.width, reach + bottom + dy)))
                  for dy in whole for dx in whole}  # fmt: skip
        for hy in range(-2 * reach, 2 * reach + 1):
            for hx in range(-2 * reach, 2 * reach + 1):
                near = [theirs[(y, x)] for y in {hy // 2, -(-hy // 2)} for x in {hx // 2, -(-hx // 2)}]
                moved = near[0] if len(near) == 1 else sum(near[1:], near[0]) / len(near)
                diff = np.abs(mine - moved).mean(axis=2)
                per_block = diff.reshape(last - first, side, cols, side).mean(axis=(1, 3))
                np.minimum(best[first:last], per_block, out=best[first:last])
    return best


def _reduced(image: Image.Image) -> Pixels:
    """The image reduced to its 4x4 averages, as 0..1 floats."""
    import numpy as np

    return np.asarray(image.reduce(_FACTOR), dtype=np.float32) / 255.0


def _background(image: Image.Image) -> tuple[int, int, int]:
    """The page's background: the commonest colour of its last row (where a page ends on its background)."""
    row = image.crop((0, image.height - 1, image.width, image.height))
    colours = row.getcolors(maxcolors=image.width + 1) or [(1, (255, 255, 255))]
    colour = max(colours, key=lambda c: c[0])[1]
    if isinstance(colour, tuple) and len(colour) >= 3:
        return int(colour[0]), int(colour[1]), int(colour[2])
    return (255, 255, 255)  # _open gives RGB: never reached, but a white page is the browser's default


def _regions(cells: Sequence[tuple[int, int]], block: int, width: int, height: int) -> tuple[Region, ...]:
    """Differing blocks joined into rectangles: blocks at most one block apart (diagonals too) are one region,
    so a changed paragraph is one region, not one per line of it."""
    left = set(cells)
    found: list[Region] = []
    while left:
        stack = [left.pop()]
        members = list(stack)
        while stack:
            r, c = stack.pop()
            for dr in range(-2, 3):
                for dc in range(-2, 3):
                    near = (r + dr, c + dc)
                    if near in left:
                        left.remove(near)
                        stack.append(near)
                        members.append(near)
        top, bottom = min(r for r, _ in members), max(r for r, _ in members)
        first, last = min(c for _, c in members), max(c for _, c in members)
        x, y = first * block, top * block
        found.append(Region(x, y, min((last + 1) * block, width) - x, min((bottom + 1) * block, height) - y))
    return tuple(sorted(found, key=lambda g: (-g.width * g.height, g.y, g.x)))


def annotate(candidate: Source, diff: VisualDiff, *, dim: float = 0.55, line: int = 3) -> bytes:
    """The candidate's screenshot with the differing regions framed in red and the rest dimmed (PNG bytes),
    on the compared canvas: a region past the candidate's end (content it lost) is framed too."""
    from PIL import Image, ImageDraw

    shot = _open(candidate)
    width, height = diff.canvas
    page = Image.new("RGB", (width, height), _background(shot))
    page.paste(shot.crop((0, 0, min(shot.width, width), min(shot.height, height))), (0, 0))
    shown = Image.blend(page, Image.new("RGB", page.size, (40, 40, 40)), dim)
    for region in diff.regions:
        shown.paste(page.crop(region.box()), region.box()[:2])
    draw = ImageDraw.Draw(shown)
    for region in diff.regions:
        x0, y0, x1, y1 = region.box()
        draw.rectangle((max(x0 - line, 0), max(y0 - line, 0), min(x1 + line, width) - 1, min(y1 + line, height) - 1),
                       outline=(220, 30, 30), width=line)  # fmt: skip
    out = io.BytesIO()
    shown.save(out, "PNG", optimize=True)
    return out.getvalue()


def screenshots_match(diff: VisualDiff | None, *, max_score: float = MAX_SCORE, source: str = "") -> Measurement:
    """The new release's page looks like the one it replaces: at most ``max_score`` of its blocks changed.
    No comparison (a screenshot missing on either side) fails: nothing says the page still looks right."""
    expected = f"at most {max_score:.1%} of the page changed"
    question = "the page looks as it did in the release it replaces"
    where = source or "screenshots of both releases, compared block by block"
    if diff is None:
        problem = "no comparison: a screenshot of one of the releases is missing (fail closed)"
        return Measurement("visual comparison", question, "no comparison", expected, False, where, problems=[problem])
    problems = []
    if diff.score > max_score:
        shown = "; ".join(r.describe() for r in diff.regions[:5])
        more = f" and {len(diff.regions) - 5} more" if len(diff.regions) > 5 else ""
        problems.append(f"{diff.score:.1%} of the page changed (limit {max_score:.1%}): {shown}{more}")
    details = [dataclasses.asdict(r) for r in diff.regions]
    return Measurement("visual comparison", question, diff.describe(), expected, not problems, where,
                       details=details, problems=problems)  # fmt: skip
