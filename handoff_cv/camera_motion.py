"""The camera's own motion, from the background, so a panning camera's footage can be measured.

A meet camera pans (and zooms) to follow the runners: every image position moves with the
camera, and a runner kept in the middle of the frame seems not to move at all. A camera that
turns about its own centre maps one frame onto the next by a homography, whatever the scene,
and so does any camera for points on the track plane. So the background is followed from
frame to frame — corners (``cv2.goodFeaturesToTrack``) away from the people, followed by
pyramidal Lucas-Kanade optical flow (started where the last step would put them), checked
forwards and backwards, and a homography fitted with RANSAC (``cv2.findHomography``); a jump
too big for the flow (a whip pan) is found by matching ORB corners by their look instead —
and the steps are chained into a map from each frame to the *reference frame*, the first one.
The zone calibration describes the reference frame; the analysis maps every landmark and
baton sighting into it before measuring anything.

Frames where the background cannot be followed at all (a featureless frame, a cut) are
marked; the chain goes on with the last step (a pan goes on as it went), and the analysis
flags the reports whose pass falls near them (see :func:`reliable_between`).

The estimator works on a copy of the frame scaled to at most ``MAX_WIDTH`` pixels wide, so it
costs a few milliseconds a frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from handoff_cv.geometry import Box, shrink

MAX_WIDTH = 640
MIN_INLIERS = 15
PEOPLE_MARGIN = 0.25  # people's boxes grow by this fraction on each side before masking
MOTION_TABLE = "camera_motion.parquet"
H_COLUMNS = [f"h{r}{c}" for r in range(3) for c in range(3)]
MOTION_COLUMNS = ["frame", "time_s", *H_COLUMNS, "inliers", "ok"]
MOVED_PX = 3.0  # a camera whose view shifts less than this over the clip stood still


@dataclass
class CameraMotionEstimator:
    """Feed frames in order with the people's boxes; :meth:`table` gives, per frame, the
    homography from that frame's pixels to the reference (first) frame's.

    Background corners found once are followed from frame to frame and found afresh only
    when fewer than half are left, which keeps the cost to a few milliseconds a frame."""

    max_features: int = 200
    _scale: float = 1.0
    _previous: np.ndarray | None = None
    _previous_mask: np.ndarray | None = None
    _points: np.ndarray | None = None
    _to_reference: np.ndarray = field(default_factory=lambda: np.eye(3))
    _last_step: np.ndarray = field(default_factory=lambda: np.eye(3))
    _last_dt: float = 0.0
    _previous_time: float = 0.0
    _rows: list[dict] = field(default_factory=list)

    def observe(
        self, frame_index: int, time_s: float, image: np.ndarray, people: Sequence[Box]
    ) -> None:
        grey, mask = self._prepare(image, people)
        inliers, ok = 0, True
        if self._previous is not None:
            # frames may be skipped (exchange window first): the last step, scaled to this
            # step's duration, is the guess for a pan going on as it went
            dt = time_s - self._previous_time
            expected = scaled_step(self._last_step, dt / self._last_dt if self._last_dt else 1.0)
            step, inliers = self._step(grey, mask, expected)
            if step is None:
                # lost (a flash, a cut, a blur): the frame is marked so the analysis can say so
                ok, step = False, expected
            else:
                step = _unscale(step, self._scale)
            self._last_step, self._last_dt = step, dt
            self._to_reference = self._to_reference @ np.linalg.inv(step)
            self._to_reference /= self._to_reference[2, 2]
        self._previous, self._previous_mask, self._previous_time = grey, mask, time_s
        row = {"frame": frame_index, "time_s": time_s, "inliers": inliers, "ok": ok}
        row.update(zip(H_COLUMNS, self._to_reference.ravel().tolist(), strict=True))
        self._rows.append(row)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows, columns=MOTION_COLUMNS)

    def _step(
        self, grey: np.ndarray, mask: np.ndarray, expected: np.ndarray
    ) -> tuple[np.ndarray | None, int]:
        """The previous frame -> this frame step, from the corners followed so far, or
        from fresh ones when those are too few or fail."""
        guess = _rescale(expected, self._scale)
        if self._points is not None and len(self._points) >= self.max_features // 2:
            step, inliers, self._points = background_step(
                self._previous, grey, self._points, mask, guess
            )
            if step is not None:
                return step, inliers
        self._points = background_corners(self._previous, self._previous_mask, self.max_features)
        step, inliers, self._points = background_step(
            self._previous, grey, self._points, mask, guess
        )
        if step is None:  # a jump too big for the flow: match corners by their look
            step, inliers = matched_step(self._previous, grey, self._previous_mask, mask)
        return step, inliers

    def _prepare(self, image: np.ndarray, people: Sequence[Box]) -> tuple[np.ndarray, np.ndarray]:
        k = -(-image.shape[1] // MAX_WIDTH)  # a whole factor: see geometry.shrink
        self._scale = 1.0 / k
        grey = cv2.cvtColor(shrink(image, k), cv2.COLOR_RGB2GRAY)
        mask = np.full(grey.shape, 255, np.uint8)
        for box in people:
            if not np.isfinite([box.x0, box.y0, box.x1, box.y1]).all():
                continue
            mx, my = box.width * PEOPLE_MARGIN, box.height * PEOPLE_MARGIN
            x0, y0 = int((box.x0 - mx) * self._scale), int((box.y0 - my) * self._scale)
            x1, y1 = int((box.x1 + mx) * self._scale) + 1, int((box.y1 + my) * self._scale) + 1
            mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = 0
        return grey, mask


def background_corners(grey: np.ndarray, mask: np.ndarray, count: int) -> np.ndarray | None:
    """Up to ``count`` well-spread corners of ``grey`` where ``mask`` is set."""
    return cv2.goodFeaturesToTrack(
        grey, maxCorners=count, qualityLevel=0.01, minDistance=9, mask=mask
    )


def background_step(
    previous: np.ndarray,
    current: np.ndarray,
    corners: np.ndarray | None,
    mask: np.ndarray,
    guess: np.ndarray | None = None,
) -> tuple[np.ndarray | None, int, np.ndarray | None]:
    """Homography from ``previous`` to ``current`` (grey images of one size) fitted to the
    background ``corners`` of ``previous`` followed into ``current`` (and back, to trust
    them), outside ``mask``'s people; with its number of inliers and the followed corners
    (in ``current``) to go on with. None when too few could be followed. ``guess`` (the
    last step: a pan goes on as it went) starts the search where the corners should be, so a
    fast pan is followed too."""
    if corners is None or len(corners) < MIN_INLIERS:
        return None, 0, None
    lk = {"winSize": (15, 15), "maxLevel": 4, "flags": cv2.OPTFLOW_USE_INITIAL_FLOW}
    start = corners if guess is None else cv2.perspectiveTransform(corners, guess)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        previous, current, corners, start.astype(np.float32).copy(), **lk
    )
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(current, previous, moved, corners.copy(), **lk)
    good = (status[:, 0] == 1) & (status_back[:, 0] == 1)
    good &= np.linalg.norm((back - corners)[:, 0], axis=1) < 0.5  # same way back: trusted
    last = [current.shape[1] - 1, current.shape[0] - 1]
    inside = np.clip(moved[:, 0].round().astype(int), 0, last)
    good &= (moved[:, 0] >= 0).all(axis=1) & (moved[:, 0] <= last).all(axis=1)
    good &= mask[inside[:, 1], inside[:, 0]] > 0  # a person walked onto it: not background
    if good.sum() < MIN_INLIERS:
        return None, int(good.sum()), None
    step, inliers = cv2.findHomography(corners[good], moved[good], cv2.RANSAC, 1.0)
    if step is None or int(inliers.sum()) < MIN_INLIERS:
        return None, 0 if inliers is None else int(inliers.sum()), None
    kept = moved[good][inliers[:, 0] > 0]
    return step, int(inliers.sum()), kept


def matched_step(
    previous: np.ndarray, current: np.ndarray, previous_mask: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray | None, int]:
    """Homography from ``previous`` to ``current`` by matching ORB corners by their look
    (slower than following them, but it finds a whip pan's jump of a third of the frame)."""
    orb = cv2.ORB_create(1500)
    k0, d0 = orb.detectAndCompute(previous, previous_mask)
    k1, d1 = orb.detectAndCompute(current, mask)
    if d0 is None or d1 is None or len(k0) < MIN_INLIERS or len(k1) < MIN_INLIERS:
        return None, 0
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(d0, d1)
    if len(matches) < MIN_INLIERS:
        return None, len(matches)
    p0 = np.float32([k0[m.queryIdx].pt for m in matches]).reshape(-1, 1, 2)
    p1 = np.float32([k1[m.trainIdx].pt for m in matches]).reshape(-1, 1, 2)
    step, inliers = cv2.findHomography(p0, p1, cv2.RANSAC, 2.0)
    if step is None or int(inliers.sum()) < 2 * MIN_INLIERS:
        return None, 0 if inliers is None else int(inliers.sum())
    return step, int(inliers.sum())


def scaled_step(step: np.ndarray, ratio: float) -> np.ndarray:
    """A frame-to-frame homography stretched to ``ratio`` times its duration. Steps between
    frames are near the identity, where scaling the difference is a close approximation."""
    scaled = np.eye(3) + (step / step[2, 2] - np.eye(3)) * ratio
    return scaled / scaled[2, 2]


def _rescale(h: np.ndarray, scale: float) -> np.ndarray:
    """A homography between full images as one between images scaled by ``scale``."""
    s = np.diag([scale, scale, 1.0])
    return s @ h @ np.linalg.inv(s)


def _unscale(h: np.ndarray, scale: float) -> np.ndarray:
    """A homography between images scaled by ``scale`` as one between the full images."""
    s = np.diag([scale, scale, 1.0])
    return np.linalg.inv(s) @ h @ s


# ---------------------------------------------------------------------- using it
def homographies(motion: pd.DataFrame) -> dict[int, np.ndarray]:
    """Frame -> 3x3 map of that frame's pixels into the reference frame."""
    if motion is None or motion.empty:
        return {}
    values = motion[H_COLUMNS].to_numpy(float).reshape(-1, 3, 3)
    return dict(zip(motion.frame.astype(int), values, strict=True))


def camera_moved(motion: pd.DataFrame | None, frame_size: tuple[int, int] | None = None) -> bool:
    """Whether the view moved by more than ``MOVED_PX`` anywhere over the clip (the frame's
    corners, or a 1000 px square when the size is unknown)."""
    if motion is None or motion.empty:
        return False
    w, h = frame_size or (1000, 1000)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    shifts = [
        np.abs(to_reference(corners, hmat) - corners).max()
        for hmat in homographies(motion).values()
    ]
    return bool(np.nanmax(shifts) > MOVED_PX)


def to_reference(points_px: np.ndarray, hmat: np.ndarray) -> np.ndarray:
    """Pixels (n, 2) of one frame in the reference frame; NaN stays NaN."""
    pts = np.asarray(points_px, float)
    out = np.full(pts.shape, np.nan)
    ok = np.isfinite(pts).all(axis=1)
    if ok.any():
        out[ok] = cv2.perspectiveTransform(pts[ok].reshape(-1, 1, 2), hmat)[:, 0]
    return out


def stabilise(
    table: pd.DataFrame, motion: pd.DataFrame, columns: Sequence[tuple[str, str]]
) -> pd.DataFrame:
    """A copy of ``table`` (with a ``frame`` column) whose pixel ``columns`` pairs (x, y)
    are mapped into the reference frame; rows of frames without a map keep their values."""
    out = table.copy()
    index = pd.Series(np.arange(len(motion)), index=motion.frame.astype(int).to_numpy())
    row_map = index.reindex(out.frame.astype(int).to_numpy()).to_numpy()
    has = np.isfinite(row_map)
    if not has.any():
        return out
    mats = motion[H_COLUMNS].to_numpy(float).reshape(-1, 3, 3)[row_map[has].astype(int)]
    for x, y in columns:
        pts = out[[x, y]].to_numpy(float)[has]
        homog = np.einsum("nij,nj->ni", mats, np.column_stack([pts, np.ones(len(pts))]))
        mapped = homog[:, :2] / homog[:, 2:3]
        for column, values in ((x, mapped[:, 0]), (y, mapped[:, 1])):
            whole = out[column].to_numpy(float).copy()
            whole[has] = values
            out[column] = whole.astype(out[column].dtype)
    return out


def reliable_between(motion: pd.DataFrame, t0: float, t1: float) -> bool:
    """Whether the background was followed in every frame between two times."""
    inside = motion[(motion.time_s >= t0) & (motion.time_s <= t1)]
    return bool(inside.ok.all())


def write_motion_table(motion: pd.DataFrame, path: Path) -> None:
    motion.to_parquet(path, index=False)


def load_motion_table(source: Path) -> pd.DataFrame | None:
    """The camera-motion table beside a landmark table (its folder or file), if any."""
    folder = source if source.is_dir() else source.parent
    path = folder / MOTION_TABLE
    if not path.is_file():
        return None
    return pd.read_parquet(path)
