"""Appearance of a person: the colours of their shirt and shorts, to re-identify them.

Used by the tracker to join the pieces of one person's track across a gap (a jump or a
flip the pose model cannot follow, a runner hidden behind another) without joining two
people who happen to pass the same place.
"""

from __future__ import annotations

import cv2
import numpy as np

from handoff_cv.pose import LANDMARK_INDEX, Pose

_TORSO = [LANDMARK_INDEX[n] for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")]
_THIGHS = [LANDMARK_INDEX[n] for n in ("left_hip", "right_hip", "right_knee", "left_knee")]
# Hue and saturation only: brightness follows the light more than the clothes.
_BINS = [12, 4]
_RANGES = [0, 180, 0, 256]


def clothing_histogram(image: np.ndarray, pose: Pose) -> np.ndarray | None:
    """Normalised hue-saturation histogram of torso and thighs; None when out of frame."""
    h, w = image.shape[:2]
    polygons = [pose.xy[_TORSO], pose.xy[_THIGHS]]
    pts = np.concatenate(polygons)
    x0, y0 = np.clip(np.floor(pts.min(axis=0)).astype(int), 0, [w, h])
    x1, y1 = np.clip(np.ceil(pts.max(axis=0)).astype(int) + 1, 0, [w, h])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    sub = image[y0:y1, x0:x1]
    mask = np.zeros(sub.shape[:2], dtype=np.uint8)
    for poly in polygons:
        cv2.fillPoly(mask, [np.round(poly - [x0, y0]).astype(np.int32)], 255)
    if mask.sum() < 255 * 20:
        return None
    hsv = cv2.cvtColor(sub, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], mask, _BINS, _RANGES).ravel()
    return hist / max(hist.sum(), 1e-9)


def appearance_distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Bhattacharyya distance in [0, 1] between two histograms (1 when either is unknown)."""
    if a is None or b is None:
        return 1.0
    return float(cv2.compareHist(a.astype(np.float32), b.astype(np.float32),
                                 cv2.HISTCMP_BHATTACHARYYA))  # fmt: skip
