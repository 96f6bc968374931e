"""Shared fixtures: small synthetic videos made on the fly, and the shared real footage."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_file(name: str) -> Path:
    """A file of ../shared/data; fails (never skips) with a clear message when missing."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.fail(
            f"missing shared test data {path}: this test needs the read-only ../shared/data "
            "folder beside the project root (see the README's Tests section)",
            pytrace=False,
        )
    return path


def write_video(
    path: Path,
    frames: Sequence[np.ndarray],
    *,
    fps: int = 30,
    times_s: Sequence[float] | None = None,
    rotation: int = 0,
    codec: str = "libx264",
) -> Path:
    """Encode RGB frames to ``path``; ``times_s`` gives variable-frame-rate timestamps."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if times_s is not None:
            stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            if times_s is not None:
                frame.pts = round(times_s[i] * 1000)
                frame.time_base = stream.codec_context.time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def moving_square_frames(n: int = 12, size: tuple[int, int] = (96, 64)) -> list[np.ndarray]:
    """Frames with a white square moving right by 4 px a frame on black."""
    w, h = size
    frames = []
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        img[20:36, 4 * i : 4 * i + 16] = 255
        frames.append(img)
    return frames


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "clip.mp4", frames: Sequence[np.ndarray] | None = None, **kw) -> Path:
        return write_video(tmp_path / name, frames or moving_square_frames(), **kw)

    return make


@pytest.fixture(scope="session")
def demo_video() -> Path:
    return shared_file("sports2d_demo.mp4")
