"""Zone calibration: image pixels <-> metres on the track plane.

The exchange zone of one lane is a rectangle of known size on the track (30 m x 1.22 m for
4x100 and 4x200, 20 m for 4x400). Its four corners in the image give the homography from
the image to the track plane: ``x`` metres along the lane from the zone start line, ``y``
metres across it from the lane centre (positive to the runners' left).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from handoff_cv.errors import ConfigError


@dataclass(frozen=True)
class ZoneCalibration:
    """Homography between the image and the track plane of one exchange zone."""

    image_to_track: np.ndarray
    zone_length_m: float
    lane_width_m: float = 1.22

    @classmethod
    def from_corners(
        cls,
        corners_px: Sequence[Sequence[float]],
        zone_length_m: float,
        lane_width_m: float = 1.22,
        corners_x_m: tuple[float, float] | None = None,
    ) -> ZoneCalibration:
        """Corners in order: start-right, end-right, end-left, start-left, where right and
        left are as the runners see them (right = the lane line on their right).

        ``corners_x_m`` gives the along-lane positions of the rectangle's start and end
        edges when it is not the zone itself (default ``(0, zone_length_m)``).
        """
        image = np.asarray(corners_px, dtype=np.float64)
        if image.shape != (4, 2) or not np.all(np.isfinite(image)):
            raise ConfigError(
                "the zone needs four corner points x,y in the image",
                "Give start-right, end-right, end-left, start-left corners in pixels",
            )
        half = lane_width_m / 2
        x0, x1 = corners_x_m if corners_x_m is not None else (0.0, zone_length_m)
        track = np.array([[x0, -half], [x1, -half], [x1, half], [x0, half]], np.float64)
        h, _ = cv2.findHomography(image, track)
        if h is None or abs(np.linalg.det(h)) < 1e-12:
            raise ConfigError(
                "the zone corners are degenerate (three on a line, or repeated)",
                "Click the four corners of the zone in one lane, in order",
            )
        return cls(h, float(zone_length_m), float(lane_width_m))

    def to_track(self, points_px: np.ndarray) -> np.ndarray:
        """Track-plane metres (n, 2) of image points (n, 2); NaN stays NaN."""
        pts = np.asarray(points_px, dtype=np.float64)
        out = np.full(pts.shape, np.nan)
        ok = ~np.isnan(pts).any(axis=1)
        if ok.any():
            out[ok] = cv2.perspectiveTransform(pts[ok].reshape(-1, 1, 2), self.image_to_track)[:, 0]
        return out

    def to_image(self, points_m: np.ndarray) -> np.ndarray:
        inverse = np.linalg.inv(self.image_to_track)
        pts = np.asarray(points_m, dtype=np.float64).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(pts, inverse)[:, 0]
