"""The zone-calibration helper: pick the zone's corners on a frame, check them by eye.

A coach describes the exchange zone once per camera set-up by the image points of its four
corners in one lane (see :mod:`handoff_cv.calibration`). This module gets those points and
shows what they mean:

- :func:`grid_image` draws a pixel grid over a frame, so the corners can be read off a saved
  picture on a machine without a screen and given as options;
- :func:`pick_corners` lets the user click them in an OpenCV window where a screen exists;
- :func:`check_image` draws the calibrated zone back onto the frame: its start and end lines,
  the lane lines, a line every 5 m and the split marks, so a wrong click shows at once.

Images are RGB arrays, as :func:`handoff_cv.video.iter_frames` yields them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from handoff_cv.calibration import ZoneCalibration
from handoff_cv.errors import ConfigError, InputError
from handoff_cv.outputs import atomic_path
from handoff_cv.video import Frame, iter_frames

CORNER_NAMES = ("start-right", "end-right", "end-left", "start-left")
"""The order of the corners: right and left as the runners see them."""
GRID_STEP_PX = 50
ZONE_COLOUR = (255, 220, 0)
LANE_COLOUR = (0, 255, 255)
MARK_COLOUR = (0, 200, 255)


def frame_at(video: str | Path, at_s: float) -> Frame:
    """The first frame at or after ``at_s`` seconds (the last one if the video is shorter)."""
    last = None
    for frame in iter_frames(video, start_s=max(at_s, 0.0)):
        if frame.time_s >= at_s - 1e-6:
            return frame
        last = frame
    if last is None:
        for last in iter_frames(video):  # noqa: B007 - the last frame is wanted
            pass
    if last is None:
        raise InputError(f"{video} has no frame to calibrate on", "Give another video")
    return last


def check_corner_order(corners: Sequence[float]) -> None:
    """The four corners (x1, y1, ..., x4, y4) must outline the lane's rectangle in order,
    not cross it; raises :class:`ConfigError` otherwise."""
    points = np.asarray(corners, dtype=np.float32).reshape(-1, 1, 2)
    if not cv2.isContourConvex(points):
        raise ConfigError(
            "the zone corners cross each other or fold back",
            f"Give them in order around the lane: {', '.join(CORNER_NAMES)}",
        )


def corners_outside(corners: Sequence[float], width: int, height: int) -> list[str]:
    """Names of the corners well outside the frame (more than a tenth of its size)."""
    points = np.asarray(corners, dtype=np.float64).reshape(4, 2)
    inside = (
        (points[:, 0] >= -0.1 * width)
        & (points[:, 0] <= 1.1 * width)
        & (points[:, 1] >= -0.1 * height)
        & (points[:, 1] <= 1.1 * height)
    )
    return [name for name, ok in zip(CORNER_NAMES, inside, strict=True) if not ok]


def grid_image(image: np.ndarray, step_px: int = GRID_STEP_PX) -> np.ndarray:
    """``image`` with a pixel grid: a thin line every ``step_px``, labelled every other one,
    so the zone's corners can be read off to within a few pixels."""
    out = image.copy()
    h, w = out.shape[:2]
    scale = max(1.0, min(w, h) / 720)
    for x in range(0, w, step_px):
        strong = x % (2 * step_px) == 0
        cv2.line(out, (x, 0), (x, h - 1), (255, 255, 0) if strong else (120, 120, 120), 1)
        if strong:
            _label(out, str(x), (x + 2, int(14 * scale)), scale)
    for y in range(0, h, step_px):
        strong = y % (2 * step_px) == 0
        cv2.line(out, (0, y), (w - 1, y), (255, 255, 0) if strong else (120, 120, 120), 1)
        if strong and y:
            _label(out, str(y), (2, y - 3), scale)
    return out


def check_image(image: np.ndarray, calibration: ZoneCalibration) -> np.ndarray:
    """``image`` with the calibrated zone drawn on it: if the lines do not sit on the
    track's own lines, the corners are wrong."""
    out = image.copy()
    h, w = out.shape[:2]
    thick = max(1, round(min(w, h) / 540))
    half = calibration.lane_width_m / 2
    zone = calibration.zone_length_m
    along = np.linspace(-10.0, zone + 10.0, 200)
    for y in (-half, half):  # the lane lines, beyond the zone too
        _polyline(
            out, calibration, np.column_stack([along, np.full_like(along, y)]), LANE_COLOUR, 1
        )
    across = np.linspace(-half, half, 20)
    for x in np.arange(5.0, zone, 5.0):  # every 5 m inside the zone
        _polyline(
            out, calibration, np.column_stack([np.full_like(across, x), across]), LANE_COLOUR, 1
        )
    wide = np.linspace(-half, half, 20)
    for name, x in calibration.marks:
        on_zone = x in (0.0, zone)
        colour = ZONE_COLOUR if on_zone else MARK_COLOUR
        line = np.column_stack([np.full_like(wide, x), wide])
        end = _polyline(out, calibration, line, colour, thick * (2 if on_zone else 1))
        if end is not None:
            _label(out, name, end, max(1.0, min(w, h) / 720), colour)
    return out


def _polyline(out, calibration, points_m, colour, thickness) -> tuple[int, int] | None:
    """Draw a line on the track through the lens; returns its last image point, or None
    where the line falls behind the camera or far outside the frame."""
    px = calibration.to_image(points_m)
    h, w = out.shape[:2]
    if not np.isfinite(px).all() or np.abs(px).max() > 20 * max(w, h):
        return None
    cv2.polylines(out, [np.round(px).astype(np.int32)], False, colour, thickness, cv2.LINE_AA)
    x, y = px[-1]
    return int(np.clip(x, 0, w - 60)), int(np.clip(y, 12, h - 4))


def _label(out, text: str, at: tuple[int, int], scale: float, colour=(255, 255, 0)) -> None:
    cv2.putText(out, text, at, cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, at, cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, colour, 1, cv2.LINE_AA)


def has_display() -> bool:
    """Whether an OpenCV window can be opened here (a desktop, or X/Wayland on Linux)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def pick_corners(image: np.ndarray, window: str = "handoff-cv calibrate") -> list[tuple[int, int]]:
    """Let the user click the four corners in an OpenCV window (left click: place,
    backspace: undo, enter: accept, esc: cancel). Returns them in :data:`CORNER_NAMES`
    order; raises :class:`InputError` when cancelled."""
    points: list[tuple[int, int]] = []
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)

    def on_mouse(event, x, y, _flags, _param) -> None:
        if event == cv2.EVENT_LBUTTONDOWN and len(points) < 4:
            points.append((x, y))

    cv2.namedWindow(window, cv2.WINDOW_NORMAL)
    cv2.setMouseCallback(window, on_mouse)
    try:
        while True:
            shown = bgr.copy()
            for i, p in enumerate(points):
                cv2.circle(shown, p, 5, (0, 255, 255), -1)
                _label(shown, CORNER_NAMES[i], (p[0] + 6, p[1] - 6), 1.0)
            prompt = (
                f"click the zone's {CORNER_NAMES[len(points)]} corner "
                "(backspace: undo, esc: cancel)"
                if len(points) < 4
                else "enter: accept, backspace: undo"
            )
            _label(shown, prompt, (10, 24), 1.2, (255, 255, 255))
            cv2.imshow(window, shown)
            key = cv2.waitKey(30) & 0xFF
            if key == 27:
                raise InputError("calibration cancelled", "Run 'handoff-cv calibrate' again")
            if key in (8, 127) and points:
                points.pop()
            if key in (10, 13) and len(points) == 4:
                return points
    finally:
        cv2.destroyWindow(window)


def save_rgb(path: Path, image: np.ndarray) -> None:
    """Write an RGB image (PNG or JPEG by the suffix) atomically."""
    try:
        ok, encoded = cv2.imencode(path.suffix, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    except cv2.error:
        ok = False
    if not ok:
        raise InputError(f"cannot write an image as {path.name}", "Give a .png or .jpg path")
    with atomic_path(path) as tmp:
        tmp.write_bytes(encoded.tobytes())
