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
from functools import cached_property

import cv2
import numpy as np

from handoff_cv.errors import ConfigError
from handoff_cv.geometry import Box


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
    frame_size: tuple[int, int] | None = None
    """The video's (width, height): with it the camera itself is recovered (:attr:`camera`)."""
    corners_x_m: tuple[float, float] | None = None
    """Along-lane metres of the clicked rectangle's start and end edges (None: the zone's)."""

    @classmethod
    def from_corners(
        cls,
        corners_px: Sequence[Sequence[float]],
        zone_length_m: float,
        lane_width_m: float = 1.22,
        corners_x_m: tuple[float, float] | None = None,
        lens: LensDistortion | None = None,
        marks: dict[str, float] | None = None,
        frame_size: tuple[int, int] | None = None,
    ) -> ZoneCalibration:
        """Corners in order: start-right, end-right, end-left, start-left, where right and
        left are as the runners see them (right = the lane line on their right).

        ``corners_x_m`` gives the along-lane positions of the rectangle's start and end
        edges when it is not the zone itself (default ``(0, zone_length_m)``). The corners
        are image points as seen, through ``lens`` when it is given. ``marks`` adds named
        positions to the standard ones (:func:`split_marks`). ``frame_size`` (width,
        height) lets points above the track be placed too (:attr:`camera`).
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
            frame_size,
            (float(x0), float(x1)),
        )

    def to_track(self, points_px: np.ndarray) -> np.ndarray:
        """Track-plane metres (n, 2) of image points (n, 2); NaN stays NaN."""
        ideal = self.ideal(points_px)
        out = np.full(ideal.shape, np.nan)
        ok = np.isfinite(ideal).all(axis=1)
        if ok.any():
            out[ok] = cv2.perspectiveTransform(ideal[ok].reshape(-1, 1, 2), self.image_to_track)[
                :, 0
            ]
        return out

    @cached_property
    def camera(self) -> TrackCamera | None:
        """The camera in track metres, when the frame size is known and the homography is
        one a real camera can make (see :meth:`TrackCamera.from_homography`)."""
        if self.frame_size is None:
            return None
        half = self.lane_width_m / 2
        x0, x1 = self.corners_x_m or (0.0, self.zone_length_m)
        clicked = [[x0, -half], [x1, -half], [x1, half], [x0, half]]
        track_to_image = np.linalg.inv(self.image_to_track)
        return TrackCamera.from_homography(track_to_image, *self.frame_size, np.array(clicked))

    def ideal(self, points_px: np.ndarray) -> np.ndarray:
        """Image points (n, 2) as an ideal lens would see them (unchanged without a lens)."""
        pts = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
        if self.lens is None:
            return pts
        out = np.full(pts.shape, np.nan)
        ok = np.isfinite(pts).all(axis=1)
        if ok.any():
            out[ok] = self.lens.undistort(pts[ok])
        return out

    def along_lane_at(self, points_px: np.ndarray, lateral_m: float) -> np.ndarray | None:
        """Along-lane metres (n,) of image points that lie ``lateral_m`` across the lane
        (a runner's hips or hands, any height above the track); None without a camera.
        NaN where the line of sight runs nearly along the lane (end-on): there the
        lateral place does not pin down the distance."""
        if self.camera is None:
            return None
        return self.camera.along_lane_at(self.ideal(points_px), lateral_m)

    def to_image(self, points_m: np.ndarray) -> np.ndarray:
        """Image points (n, 2), as seen through the lens, of track-plane metres (n, 2)."""
        inverse = np.linalg.inv(self.image_to_track)
        pts = np.asarray(points_m, dtype=np.float64).reshape(-1, 1, 2)
        ideal = cv2.perspectiveTransform(pts, inverse)[:, 0]
        return ideal if self.lens is None else self.lens.distort(ideal)


def zone_region_px(
    calibration: ZoneCalibration,
    before_m: float = 20.0,
    after_m: float = 10.0,
    lanes_aside: float = 1.0,
    height_m: float = 2.3,
) -> Box | None:
    """The part of the frame where a runner of the zone's lane can be, from ``before_m``
    before the zone (the incoming runner's last strides before the pass) to ``after_m``
    after it, ``lanes_aside`` lanes to either side, up to ``height_m`` above the track, with a
    tenth of its height to spare; it reaches the frame's edge wherever that volume leaves the
    frame. None when no camera fits the zone (:attr:`ZoneCalibration.camera`) or the volume
    is out of view."""
    camera, size = calibration.camera, calibration.frame_size
    if camera is None or size is None:
        return None
    width, height = size
    half = calibration.lane_width_m * (0.5 + lanes_aside)
    along = np.arange(-before_m, calibration.zone_length_m + after_m + 0.25, 0.5)
    grid = np.array([(x, y, z) for x in along for y in (-half, half) for z in (0.0, height_m)])
    depth = ((grid - camera.centre_m) @ camera.rotation.T)[:, 2]
    ideal = camera.project(grid[depth > 0.5])
    beyond = [ideal[:, 0] < 0, ideal[:, 1] < 0, ideal[:, 0] > width, ideal[:, 1] > height]
    inside = ~np.any(beyond, axis=0)
    if not inside.any():
        return None
    # only points in the frame go through the lens: its polynomial folds back far outside
    px = ideal[inside] if calibration.lens is None else calibration.lens.distort(ideal[inside])
    (x0, y0), (x1, y1) = px.min(axis=0), px.max(axis=0)
    pad = 0.1 * (y1 - y0)
    left, top, right, bottom = (bool(b.any()) for b in beyond)
    return Box(
        0.0 if left else float(x0 - pad),
        0.0 if top else float(y0 - pad),
        float(width) if right else float(x1 + pad),
        float(height) if bottom else float(y1 + pad),
    ).clip(width, height)


@dataclass(frozen=True)
class TrackCamera:
    """A pinhole camera in track metres: ``x`` along the lane from the zone start, ``y``
    across it to the runners' left, ``z`` up. Square pixels, principal point at the frame's
    centre, ideal (undistorted) pixels."""

    intrinsics: np.ndarray
    """3x3 camera matrix."""
    rotation: np.ndarray
    """3x3 rotation from track axes to camera axes."""
    centre_m: np.ndarray
    """(3,) the camera's position on the track's axes."""

    MIN_SIGHT_ANGLE_DEG = 20.0
    """Rays closer than this to the plane they are met with give no position."""

    @classmethod
    def from_homography(
        cls,
        track_to_image: np.ndarray,
        width: int,
        height: int,
        check_points_m: np.ndarray,
        tolerance: float = 0.01,
    ) -> TrackCamera | None:
        """The camera that sees the track plane through ``track_to_image`` (3x3, track
        metres to ideal pixels), or None when no camera fits.

        The homography of a plane is ``K [r1 r2 t]`` up to scale; with the principal point
        at the centre and square pixels, ``r1`` and ``r2`` being orthogonal and of equal
        length gives the focal length (Zhang's constraints, one unknown). A camera looking
        straight down at the plane leaves it undetermined. The camera is rejected when its
        own view of ``check_points_m`` (n, 2: the zone's corners, say) strays from the
        homography's by more than ``tolerance`` of the frame's diagonal (corners clicked
        badly, or a homography no camera can make).
        """
        hom = track_to_image / track_to_image[2, 2]
        shift = np.array([[1.0, 0.0, -width / 2], [0.0, 1.0, -height / 2], [0.0, 0.0, 1.0]])
        h = shift @ hom
        h1, h2 = h[:, 0], h[:, 1]
        a = np.array(
            [h1[0] * h2[0] + h1[1] * h2[1], h1[0] ** 2 + h1[1] ** 2 - h2[0] ** 2 - h2[1] ** 2]
        )
        b = -np.array([h1[2] * h2[2], h1[2] ** 2 - h2[2] ** 2])
        inv_f2 = float(a @ b) / max(float(a @ a), 1e-300)
        if not inv_f2 > 0:
            return None
        focal = 1.0 / np.sqrt(inv_f2)
        if not 0.2 * width < focal < 20.0 * width:  # fields of view of 3 to 136 degrees
            return None
        k = np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])
        m = np.linalg.inv(k) @ hom
        scale = 2.0 / (np.linalg.norm(m[:, 0]) + np.linalg.norm(m[:, 1]))
        points = np.asarray(check_points_m, np.float64).reshape(-1, 2)
        middle = np.append(points.mean(axis=0), 1.0)
        if m[2] @ middle < 0:  # the clicked points (not the track's origin) face the camera
            scale = -scale
        r1, r2, t = m[:, 0] * scale, m[:, 1] * scale, m[:, 2] * scale
        u, _, vt = np.linalg.svd(np.column_stack([r1, r2, np.cross(r1, r2)]))
        rotation = u @ vt
        camera = cls(k, rotation, -rotation.T @ t)
        seen = cv2.perspectiveTransform(points.reshape(-1, 1, 2), hom)[:, 0]
        fitted = camera.project(np.column_stack([points, np.zeros(len(points))]))
        error = np.linalg.norm(fitted - seen, axis=1).max() / np.hypot(width, height)
        if camera.centre_m[2] <= 0 or not error < tolerance:
            return None
        return camera

    def project(self, points_m: np.ndarray) -> np.ndarray:
        """Ideal pixels (n, 2) of track points (n, 3)."""
        cam = (np.asarray(points_m, np.float64) - self.centre_m) @ self.rotation.T
        pix = cam @ self.intrinsics.T
        return pix[:, :2] / pix[:, 2:3]

    def rays(self, points_px: np.ndarray) -> np.ndarray:
        """Unit directions (n, 3), in track axes, of the lines of sight through ideal
        pixels (n, 2)."""
        pts = np.asarray(points_px, np.float64).reshape(-1, 2)
        homog = np.column_stack([pts, np.ones(len(pts))])
        d = homog @ np.linalg.inv(self.intrinsics).T @ self.rotation
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def along_lane_at(self, points_px: np.ndarray, lateral_m: float) -> np.ndarray:
        """Along-lane metres (n,) where the lines of sight through ideal pixels (n, 2) meet
        the upright plane ``y = lateral_m``; NaN for rays within
        :attr:`MIN_SIGHT_ANGLE_DEG` of that plane."""
        d = self.rays(points_px)
        s = (lateral_m - self.centre_m[1]) / d[:, 1]
        x = self.centre_m[0] + s * d[:, 0]
        grazing = np.abs(d[:, 1]) < np.sin(np.radians(self.MIN_SIGHT_ANGLE_DEG))
        x[grazing | ~np.isfinite(x) | (s <= 0)] = np.nan
        return x


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
