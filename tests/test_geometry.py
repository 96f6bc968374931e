from __future__ import annotations

import numpy as np
import pytest

from handoff_cv.geometry import Box, Crop, square_tiles


def test_box_iou():
    a = Box(0, 0, 10, 10)
    assert a.iou(a) == 1.0
    assert a.iou(Box(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert a.iou(Box(20, 20, 30, 30)) == 0.0


def test_crop_inside_is_exact_and_maps_back():
    image = np.arange(100 * 80 * 3, dtype=np.uint8).reshape(80, 100, 3)
    crop = Crop(10, 20, 30)
    assert np.array_equal(crop.cut(image), image[20:50, 10:40])
    assert np.allclose(crop.to_frame(np.array([[0.0, 0.0], [5.0, 7.0]])), [[10, 20], [15, 27]])


def test_crop_past_the_edge_is_padded_with_black_and_keeps_its_size():
    image = np.full((50, 50, 3), 200, np.uint8)
    out = Crop(-10, 40, 20).cut(image)
    assert out.shape == (20, 20, 3)
    assert out[:10].max() == 200 and out[10:].max() == 0  # rows past the bottom edge
    assert out[:10, :10].max() == 0  # columns left of the frame


def test_tiles_cover_the_region():
    tiles = square_tiles(1920, 1080, 1080)
    assert len(tiles) == 2
    covered = np.zeros((1080, 1920), bool)
    for t in tiles:
        covered[t.y0 : t.y0 + t.side, t.x0 : t.x0 + t.side] = True
    assert covered.all()
    assert len(square_tiles(1920, 1080, 540)) > 4
