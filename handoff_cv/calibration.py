"""Zone calibration: image pixels <-> metres on the track plane.

The exchange zone of one lane is a rectangle of known size on the track (30 m x 1.22 m for
4x100 and 4x200, 20 m for 4x400). Its four corners in the image give the homography from
the image to the track plane: ``x`` metres along the lane from the zone start line, ``y``
metres across it from the lane centre (positive to the runners' left).

Wide phone and action-camera lenses bend straight lines; with the radial coefficients
``k1, k2`` of :class:`LensDistortion` (the model of ffmpeg's ``lenscorrection`` filter and
OpenCV's first two terms, radius in units of half the frame's diagonal) image points are
straightened before the homography and bent again when metres are drawn back.

The marks along the lane (zone start and end, 10 m after the zone, a go mark) are where the
baton's splits are taken (:func:`split_marks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from handoff_cv.errors import ConfigError


@dataclass(frozen=True)
class LensDistortion:
    """Radial lens distortion about the frame's centre: a point at radius ``r`` (in half
    diagonals) from the centre of an ideal image is seen at ``r * (1 + k1 r^2 + k2 r^4)``."""

    k1: float
    k2: float
    width: int
    height: int

    @property
    def _camera(self) -> np.ndarray:
        half_diagonal = float(np.hypot(self.width, self.height)) / 2
        return np.array(
            [[half_diagonal, 0, self.width / 2], [0, half_diagonal, self.height / 2], [0, 0, 1]]
        )

    def undistort(self, points_px: np.ndarray) -> np.ndarray:
        """Where image points (n, 2) would be through an ideal lens."""
        pts = np.asarray(points_px, dtype=np.float64).reshape(-1, 1, 2)
        dist = np.array([self.k1, self.k2, 0.0, 0.0])
        k = self._camera
        # OpenCV's default five iterations stop short for a strong wide-angle lens
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-10)
        return cv2.undistortPoints(pts, k, dist, R=None, P=k, criteria=criteria)[:, 0]

    def distort(self, points_px: np.ndarray) -> np.ndarray:
        """Where ideal image points (n, 2) are seen through this lens."""
        k = self._camera
        centre, scale = k[:2, 2], k[0, 0]
        u = (np.asarray(points_px, dtype=np.float64).reshape(-1, 2) - centre) / scale
        r2 = (u**2).sum(axis=1, keepdims=True)
        return u * (1 + self.k1 * r2 + self.k2 * r2**2) * scale + centre


@dataclass(frozen=True)
class ZoneCalibration:
    """Homography between the image and the track plane of one exchange zone."""

    image_to_track: np.ndarray
    zone_length_m: float
    lane_width_m: float = 1.22
    lens: LensDistortion | None = None
    marks: tuple[tuple[str, float], ...] = ()
    """Named positions along the lane (metres from the zone start) for the baton's splits."""

    @classmethod
    def from_corners(
        cls,
        corners_px: Sequence[Sequence[float]],
        zone_length_m: float,
        lane_width_m: float = 1.22,
        corners_x_m: tuple[float, float] | None = None,
        lens: LensDistortion | None = None,
        marks: dict[str, float] | None = None,
    ) -> ZoneCalibration:
        """Corners in order: start-right, end-right, end-left, start-left, where right and
        left are as the runners see them (right = the lane line on their right).

        ``corners_x_m`` gives the along-lane positions of the rectangle's start and end
        edges when it is not the zone itself (default ``(0, zone_length_m)``). The corners
        are image points as seen, through ``lens`` when it is given. ``marks`` adds named
        positions to the standard ones (:func:`split_marks`).
        """
        image = np.asarray(corners_px, dtype=np.float64)
        if image.shape != (4, 2) or not np.all(np.isfinite(image)):
            raise ConfigError(
                "the zone needs four corner points x,y in the image",
                "Give start-right, end-right, end-left, start-left corners in pixels",
            )
        if lens is not None:
            image = lens.undistort(image)
        half = lane_width_m / 2
        x0, x1 = corners_x_m if corners_x_m is not None else (0.0, zone_length_m)
        track = np.array([[x0, -half], [x1, -half], [x1, half], [x0, half]], np.float64)
        h, _ = cv2.findHomography(image, track)
        if h is None or abs(np.linalg.det(h)) < 1e-12:
            raise ConfigError(
                "the zone corners are degenerate (three on a line, or repeated)",
                "Click the four corners of the zone in one lane, in order",
            )
        return cls(
            h,
            float(zone_length_m),
            float(lane_width_m),
            lens,
            split_marks(float(zone_length_m), marks),
        )

    def to_track(self, points_px: np.ndarray) -> np.ndarray:
        """Track-plane metres (n, 2) of image points (n, 2); NaN stays NaN."""
        pts = np.asarray(points_px, dtype=np.float64)
        out = np.full(pts.shape, np.nan)
        ok = ~np.isnan(pts).any(axis=1)
        if ok.any():
            seen = pts[ok] if self.lens is None else self.lens.undistort(pts[ok])
            out[ok] = cv2.perspectiveTransform(seen.reshape(-1, 1, 2), self.image_to_track)[:, 0]
        return out

    def to_image(self, points_m: np.ndarray) -> np.ndarray:
        """Image points (n, 2), as seen through the lens, of track-plane metres (n, 2)."""
        inverse = np.linalg.inv(self.image_to_track)
        pts = np.asarray(points_m, dtype=np.float64).reshape(-1, 1, 2)
        ideal = cv2.perspectiveTransform(pts, inverse)[:, 0]
        return ideal if self.lens is None else self.lens.distort(ideal)


AFTER_ZONE_M = 10.0


def split_marks(
    zone_length_m: float, extra: dict[str, float] | None = None
) -> tuple[tuple[str, float], ...]:
    """The marks the baton's splits are taken at, ordered along the lane: the zone start,
    the zone end and 10 m after the zone, as relay timing reports give them, plus ``extra``
    named marks (a go mark, say) in metres from the zone start."""
    marks = {
        "zone start": 0.0,
        "zone end": zone_length_m,
        f"{AFTER_ZONE_M:g} m after the zone": zone_length_m + AFTER_ZONE_M,
    }
    marks |= {name: float(x) for name, x in (extra or {}).items()}
    return tuple(sorted(marks.items(), key=lambda item: item[1]))
