"""Small geometric values shared by the pose and track stages: boxes and crops."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels, ``x0 <= x1`` and ``y0 <= y1``."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def from_points(cls, xy: np.ndarray) -> Box:
        """The tightest box around ``(n, 2)`` points."""
        lo, hi = np.nanmin(xy, axis=0), np.nanmax(xy, axis=0)
        return cls(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))

    @classmethod
    def from_center(cls, cx: float, cy: float, width: float, height: float) -> Box:
        return cls(cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def iou(self, other: Box) -> float:
        """Intersection over union with ``other`` (0 when they do not overlap)."""
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        if w <= 0 or h <= 0:
            return 0.0
        inter = w * h
        return inter / (self.area + other.area - inter)

    def clip(self, width: int, height: int) -> Box:
        return Box(
            min(max(self.x0, 0), width),
            min(max(self.y0, 0), height),
            min(max(self.x1, 0), width),
            min(max(self.y1, 0), height),
        )

    def as_array(self) -> np.ndarray:
        return np.array([self.x0, self.y0, self.x1, self.y1], dtype=float)


@dataclass(frozen=True)
class Crop:
    """A square window of a frame, in integer pixels; it may reach past the frame's edges.

    Parts outside the frame are filled with black, so the person keeps the same place in
    the crop whatever the frame border does (the landmarker's own tracking relies on it).
    """

    x0: int
    y0: int
    side: int

    @classmethod
    def around(cls, box: Box, side: float) -> Crop:
        cx, cy = box.center
        side_px = max(round(side), 16)
        return cls(round(cx - side_px / 2), round(cy - side_px / 2), side_px)

    @property
    def box(self) -> Box:
        return Box(self.x0, self.y0, self.x0 + self.side, self.y0 + self.side)

    def cut(self, image: np.ndarray) -> np.ndarray:
        """The crop's pixels (a view when the crop lies inside the image, else a padded copy)."""
        h, w = image.shape[:2]
        x0, y0, x1, y1 = self.x0, self.y0, self.x0 + self.side, self.y0 + self.side
        if x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h:
            return np.ascontiguousarray(image[y0:y1, x0:x1])
        out = np.zeros((self.side, self.side, image.shape[2]), dtype=image.dtype)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if sx1 > sx0 and sy1 > sy0:
            out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
        return out

    def to_frame(self, xy: np.ndarray) -> np.ndarray:
        """Map crop pixel coordinates back to frame pixels."""
        return xy + np.array([self.x0, self.y0], dtype=xy.dtype)


def square_tiles(width: int, height: int, tile: int, overlap: float = 0.2) -> list[Crop]:
    """Cover a ``width`` x ``height`` region with square tiles of side ``tile``, the fewest
    that overlap by at least ``overlap`` of a tile (so a person on a seam is whole in one)."""
    tile = max(16, min(tile, max(width, height)))

    def starts(length: int) -> list[int]:
        if length <= tile:
            return [(length - tile) // 2]
        step = max(1, int(tile * (1 - overlap)))
        n = int(np.ceil((length - tile) / step)) + 1
        return [round(v) for v in np.linspace(0, length - tile, n)]

    return [Crop(x, y, tile) for y in starts(height) for x in starts(width)]


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` area-averaged ``factor`` times smaller. The last rows and columns that do not
    fill a whole block are left out: a whole factor keeps OpenCV on its fast block-averaging
    path (3-4x faster than an odd ratio)."""
    h, w = image.shape[0] // factor * factor, image.shape[1] // factor * factor
    return cv2.resize(image[:h, :w], (w // factor, h // factor), interpolation=cv2.INTER_AREA)
