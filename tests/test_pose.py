"""The MediaPipe backend: running people's landmarkers and the search's tiles at once gives
what running them one by one gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handoff_cv.geometry import Crop, square_tiles
from handoff_cv.pipeline import make_backend
from handoff_cv.settings import Settings
from handoff_cv.video import iter_frames

SAMPLE = Path(__file__).resolve().parents[1] / "sample_videos" / "blind_right_to_left.mp4"


@pytest.fixture(scope="module")
def frames():
    return [f for f in iter_frames(SAMPLE) if 2.0 <= f.time_s < 2.4]  # both runners in view


def _crops(backend, frame) -> list[np.ndarray]:
    """Crops around the people the detector finds in the frame's two halves."""
    h, w = frame.image.shape[:2]
    found = [
        pose.shifted(tile.x0, tile.y0)
        for tile in square_tiles(w, h, h)
        for pose in backend.detect(tile.cut(frame.image))
    ]
    return [Crop.around(pose.box(), 1.6 * pose.box().height).cut(frame.image) for pose in found]


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return np.array_equal(a.xy, b.xy) and np.array_equal(a.visibility, b.visibility)


def test_people_followed_at_once_get_the_landmarks_they_get_one_by_one(frames):
    together, alone = make_backend(Settings()), make_backend(Settings())
    try:
        assert together._threads >= 1
        together._threads = 2  # even on a one-core machine
        found = pairs = 0
        for f in frames:
            crops = _crops(alone, f)[:2]
            requests = [(key, crop, round(f.time_s * 1000)) for key, crop in enumerate(crops)]
            many = together.follow_many(requests)
            one_by_one = [alone.follow(*request) for request in requests]
            assert all(_same(a, b) for a, b in zip(many, one_by_one, strict=True))
            found += sum(p is not None for p in many)
            pairs += len(requests) == 2
        assert found >= len(frames) and pairs >= 3  # runners in the crops, often two at once
        assert together._pool is not None  # the two ran in threads
    finally:
        together.close()
        alone.close()


def test_tiles_searched_at_once_find_what_they_find_one_by_one(frames):
    backend = make_backend(Settings())
    try:
        backend._threads = 2
        image = frames[0].image
        h, w = image.shape[:2]
        tiles = [t.cut(image) for t in square_tiles(w, h, h // 2)]
        for _ in range(2):  # the second round: both detectors have found someone
            many = backend.detect_many(tiles)
            one_by_one = [backend.detect(tile) for tile in tiles]
            assert [len(p) for p in many] == [len(p) for p in one_by_one]
            pairs = [zip(ps, qs, strict=True) for ps, qs in zip(many, one_by_one, strict=True)]
            assert all(_same(a, b) for pair in pairs for a, b in pair)
        assert sum(len(p) for p in many) >= 1
        assert len(backend._detectors) == 2
    finally:
        backend.close()
