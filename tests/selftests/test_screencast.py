"""The recording of a visit: screencast frames thinned to the configured rate and count, encoded as a small WebP."""

from __future__ import annotations

import io
import itertools

import pytest
from PIL import Image

from gates.gaterun.screencast import animated_webp, thin


def jpeg(shade: int, width: int = 1000) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, width // 2), (shade, 255 - shade, 80)).save(out, "JPEG")
    return out.getvalue()


def test_frames_are_thinned_to_the_rate_and_count_and_end_on_the_last():
    """A frame every 50 ms at 5 fps keeps one per 200 ms; a cap on the count keeps first and last; the final
    frame (the page as the visit left it) is always kept."""
    frames = [(i * 0.05, bytes([i])) for i in range(41)]  # 2 s of 20 fps
    kept = thin(frames, fps=5, most=60)
    assert [round(t, 2) for t, _ in kept] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0]
    assert all(b[0] - a[0] >= 0.2 - 1e-6 for a, b in itertools.pairwise(kept))
    capped = thin(frames, fps=5, most=4)
    assert len(capped) == 4 and capped[0] == frames[0] and capped[-1] == frames[-1]
    assert thin([], fps=5, most=4) == []


def test_the_recording_is_an_animated_webp_within_width_and_bytes():
    """Frames wider than the bound are scaled down; the WebP loops, has every kept frame, and fits its byte bound."""
    frames = [(i * 0.3, jpeg(i * 20)) for i in range(6)]
    clip = animated_webp(frames, fps=5, width=400, most=60, max_bytes=2_000_000)
    assert clip is not None
    image = Image.open(io.BytesIO(clip))
    assert image.format == "WEBP" and image.is_animated and image.n_frames == 6 and image.width == 400


def test_a_recording_over_its_byte_bound_drops_frames_or_is_not_kept():
    """Too large: fewer frames until it fits; a single painted frame is no recording at all."""
    noisy = [(i * 0.3, _noise(i)) for i in range(12)]
    whole = animated_webp(noisy, fps=5, width=800, most=60, max_bytes=50_000_000)
    assert whole is not None
    bound = len(whole) // 3
    smaller = animated_webp(noisy, fps=5, width=800, most=60, max_bytes=bound)
    assert smaller is None or (len(smaller) <= bound and Image.open(io.BytesIO(smaller)).n_frames < 12)
    assert animated_webp(noisy[:1], fps=5, width=800, most=60, max_bytes=50_000_000) is None


def _noise(seed: int) -> bytes:
    import random

    rng = random.Random(seed)
    image = Image.frombytes("RGB", (400, 300), bytes(rng.getrandbits(8) for _ in range(400 * 300 * 3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_visits_are_recorded_in_production_by_default_and_as_configured(tmp_path):
    """[browser] video: production (the default) records production only; always and never mean what they say;
    an environment's own video overrides it."""
    from gates.config import ConfigError, parse
    from gates.gaterun.visit import records_video

    envs = {"staging": {"platform": "local", "url": "http://127.0.0.1:1"},
            "production": {"platform": "local", "url": "http://127.0.0.1:2"}}  # fmt: skip
    for mode, expected in ((None, {"staging": False, "production": True}), ("always", {"staging": True, "production": True}),
                           ("never", {"staging": False, "production": False})):  # fmt: skip
        data = {"app": {"name": "a"}, "environments": envs, "browser": {"video": mode} if mode else {}}
        cfg = parse(data, tmp_path / "gates.toml")
        assert {name: records_video(cfg, env) for name, env in cfg.environments.items()} == expected, mode
    envs["staging"] = {**envs["staging"], "video": "always"}
    cfg = parse({"app": {"name": "a"}, "environments": envs, "browser": {"video": "never"}}, tmp_path / "gates.toml")
    assert records_video(cfg, cfg.environment("staging")) and not records_video(cfg, cfg.environment("production"))
    envs["staging"]["video"] = "weekly"
    with pytest.raises(ConfigError, match=r"environments\.staging\.video: expected one of: production, always, never"):
        parse({"app": {"name": "a"}, "environments": envs}, tmp_path / "gates.toml")
