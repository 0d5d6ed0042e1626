"""A moving picture of a browser visit: Chromium's screencast over CDP, kept as a small animated WebP.

Playwright's own video needs an ffmpeg build it downloads; the screencast needs nothing but the
browser: Chromium sends a JPEG each time the page repaints (``Page.screencastFrame``, acked one by
one). The frames are thinned to the configured rate and count and encoded with Pillow, so the
recording stays small enough to embed in a self-contained HTML report.
"""

from __future__ import annotations

import base64
import contextlib
import io
import itertools
import time
from collections.abc import Sequence
from typing import Any

Frame = tuple[float, bytes]  # (seconds since the epoch, JPEG)

_MAX_RAW_FRAMES = 600  # what a busy page may send before thinning: ~30 MB of JPEG at 800 px at most
_LAST_FRAME_MS = 1000  # the final state stays on screen a moment before the loop starts again
_QUALITY = 50


class Screencast:
    """Frames of one page, from ``Page.startScreencast`` until ``stop``."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.frames: list[Frame] = []

    @classmethod
    def start(cls, context: Any, page: Any, width: int) -> Screencast | None:
        """Start recording ``page``; None when the browser has no CDP (the visit goes on unrecorded)."""
        from playwright.sync_api import Error as PlaywrightError

        try:
            session = context.new_cdp_session(page)
            recorder = cls(session)
            session.on("Page.screencastFrame", recorder.on_frame)
            session.send("Page.startScreencast", {"format": "jpeg", "quality": 60, "maxWidth": width,
                                                  "maxHeight": width * 2, "everyNthFrame": 1})  # fmt: skip
        except PlaywrightError:
            return None
        return recorder

    def on_frame(self, params: dict[str, Any]) -> None:
        from playwright.sync_api import Error as PlaywrightError

        if len(self.frames) < _MAX_RAW_FRAMES:
            stamp = float(params.get("metadata", {}).get("timestamp") or time.time())
            self.frames.append((stamp, base64.b64decode(params["data"])))
        # Chromium sends the next frame only after this one is acknowledged.
        with contextlib.suppress(PlaywrightError):
            self.session.send("Page.screencastFrameAck", {"sessionId": params["sessionId"]})

    def stop(self, fps: float, width: int, most: int, max_bytes: int, *, answers: bool = True) -> bytes | None:
        """End the recording; the animated WebP of it, or None when the page painted fewer than two frames.
        A page that no longer ``answers`` (its renderer spinning) is not asked to stop: CDP sends have no
        timeout, and the frames so far are kept; the context's close ends the screencast."""
        from playwright.sync_api import Error as PlaywrightError

        if answers:
            with contextlib.suppress(PlaywrightError):
                self.session.send("Page.stopScreencast")
                self.session.detach()
        return animated_webp(self.frames, fps=fps, width=width, most=most, max_bytes=max_bytes)


def thin(frames: Sequence[Frame], fps: float, most: int) -> list[Frame]:
    """At most ``fps`` frames a second and ``most`` in all, always ending on the last (the page as it was left)."""
    if not frames:
        return []
    gap = 1.0 / fps - 1e-6  # timestamps are floats: 0.6 - 0.4 < 0.2
    kept: list[Frame] = []
    for frame in frames:
        if not kept or frame[0] - kept[-1][0] >= gap:
            kept.append(frame)
    if kept[-1] is not frames[-1]:
        if len(kept) > 1 and frames[-1][0] - kept[-1][0] < gap:
            kept[-1] = frames[-1]
        else:
            kept.append(frames[-1])
    if len(kept) > most:
        step = (len(kept) - 1) / (most - 1)
        kept = [kept[round(i * step)] for i in range(most)]
    return kept


def animated_webp(frames: Sequence[Frame], *, fps: float, width: int, most: int, max_bytes: int) -> bytes | None:
    """Encode the thinned frames as a looping animated WebP no wider than ``width`` and no larger than
    ``max_bytes`` (fewer frames until it fits); None with fewer than two frames or when nothing fits."""
    from PIL import Image

    kept = thin(frames, fps, most)
    while len(kept) >= 2:
        images = []
        for _, jpeg in kept:
            image = Image.open(io.BytesIO(jpeg)).convert("RGB")
            if image.width > width:
                image = image.resize((width, max(1, round(image.height * width / image.width))))
            images.append(image)
        # An animation has one size: frames of another (the viewport settling, a frame cut short) are fitted
        # to the first frame's, or the encoder refuses them ("invalid frame dimensions").
        size = images[0].size
        images = [image if image.size == size else image.resize(size) for image in images]
        durations = [max(1, round((b[0] - a[0]) * 1000)) for a, b in itertools.pairwise(kept)]
        out = io.BytesIO()
        images[0].save(out, "WEBP", save_all=True, append_images=images[1:], duration=[*durations, _LAST_FRAME_MS],
                       loop=0, quality=_QUALITY, method=0)  # fmt: skip
        if out.tell() <= max_bytes:
            return out.getvalue()
        if len(kept) == 2:
            return None
        kept = [*kept[:-1:2], kept[-1]]  # half the frames, still ending on the last
    return None
