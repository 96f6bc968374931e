"""Where something moves that nobody followed explains: where to search for new people.

The tracker's search for people it does not follow yet is its dearest step (the detector
and a landmark pass on every tile of the region). Most of the time there is nobody new: the
runners it follows are the only things moving, or nothing moves at all. Comparing a small
grey thumbnail of the frame with the one ``MOTION_LAG_S`` earlier, with the followed
people's boxes (then and now) masked out, shows where someone new may be: a runner entering
the shot, a coach walking in. The tracker searches then (twice as often as its interval,
the small tiles only around the motion), and regardless every ``full_search_interval_s``
(people standing still make no motion), at its interval while the motion is everywhere (a
panning camera), and whenever someone followed is lost.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from handoff_cv.geometry import Box, shrink

THUMBNAIL_WIDTH = 320
"""Width of the grey thumbnails compared, in pixels."""
DIFFERENCE_LEVEL = 24
"""Grey-level change (0-255) that counts as motion in a thumbnail pixel."""
PAN_FRACTION = 0.25
"""Motion over more than this fraction of the region: the camera moves, search it all."""
BOX_MARGIN = 0.25
"""Followed people's boxes are widened by this fraction of their height before masking
(swinging arms and legs reach past the box of the landmarks)."""


@dataclass(frozen=True)
class Thumbnail:
    """A small, blurred grey copy of a frame and the factor from frame to thumbnail pixels."""

    grey: np.ndarray
    scale: float

    @classmethod
    def of(cls, image: np.ndarray, width: int = THUMBNAIL_WIDTH) -> Thumbnail:
        factor = max(1, image.shape[1] // width)
        grey = cv2.cvtColor(shrink(image, factor), cv2.COLOR_RGB2GRAY)
        return cls(cv2.GaussianBlur(grey, (3, 3), 0), 1.0 / factor)


def moving_regions(
    before: Thumbnail,
    after: Thumbnail,
    explained: Sequence[Box],
    *,
    region: Box,
    min_height_px: float,
) -> list[Box] | None:
    """Boxes (frame pixels) around what moved between two thumbnails outside the
    ``explained`` boxes (the followed people, then and now), inside ``region``; ``None``
    when motion covers more than ``PAN_FRACTION`` of the region (a moving camera: nothing
    can be told apart). Blobs smaller than a person of ``min_height_px`` could make
    are left out."""
    if before.grey.shape != after.grey.shape:
        return None
    s = after.scale
    moved = (cv2.absdiff(before.grey, after.grey) >= DIFFERENCE_LEVEL).astype(np.uint8)
    inside = np.zeros_like(moved)
    x0, y0, x1, y1 = (round(v * s) for v in region.as_array())
    inside[y0:y1, x0:x1] = 1
    moved &= inside
    if moved.sum() > PAN_FRACTION * max(inside.sum(), 1):
        return None
    for box in explained:
        m = BOX_MARGIN * box.height
        bx0, by0, bx1, by1 = (box.x0 - m, box.y0 - m, box.x1 + m, box.y1 + m)
        moved[max(round(by0 * s), 0) : round(by1 * s), max(round(bx0 * s), 0) : round(bx1 * s)] = 0
    # a person's motion comes in pieces (limbs, edges): join what lies within a few pixels
    joined = cv2.dilate(moved, np.ones((5, 5), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    least = max(3.0, 0.25 * min_height_px * s)
    regions = []
    for x, y, w, h, _area in stats[1:count]:
        if max(w, h) >= least:
            regions.append(Box(x / s, y / s, (x + w) / s, (y + h) / s))
    return regions


MOTION_LAG_S = 0.1
"""A frame is compared with the last one at least this much older: far enough for a
runner's move to show at any frame rate (slow motion too), near enough that a runner
close behind a followed one is rarely where the followed one was."""


@dataclass
class SearchGate:
    """Decides whether the tracker's search for new people is due.

    A search runs at the first frame and every ``full_search_interval_s`` (people standing
    still make no motion); while something moves outside the followed people's boxes,
    every half ``interval_s`` (a runner entering is found sooner); while the motion is
    everywhere (a moving camera: nothing can be told apart), every ``interval_s``; and not
    at all while nothing new moves. Call :meth:`observe` with every analysed frame, then
    :meth:`due`; after a search asked for by motion, :attr:`focus` says where it moved.
    """

    full_search_interval_s: float = 2.0
    focus: list[Box] | None = None
    """Where the search :meth:`due` asked for should look: around what moved, or
    everywhere (``None``)."""
    _history: deque[tuple[float, Thumbnail, list[Box]]] = field(
        default_factory=lambda: deque(maxlen=64)
    )
    _last_full_s: float = -np.inf

    def observe(self, image: np.ndarray, time_s: float, followed: Sequence[Box]) -> None:
        """Keep a thumbnail of the frame and where the followed people are in it."""
        self._history.append((time_s, Thumbnail.of(image), list(followed)))
        while self._history and self._history[0][0] < time_s - 4 * MOTION_LAG_S:
            self._history.popleft()

    def due(self, region: Box, since_s: float, interval_s: float) -> bool:
        """Whether to search ``region`` at the last observed frame, ``since_s`` after the
        last search."""
        self.focus = None
        if since_s < interval_s / 2:
            return False
        time_s, now, followed = self._history[-1]
        earlier = [h for h in self._history if h[0] <= time_s - MOTION_LAG_S + 1e-3]
        if not earlier or time_s - self._last_full_s >= self.full_search_interval_s:
            self._last_full_s = time_s
            return True
        _, before, before_boxes = earlier[-1]
        smallest = min((b.height for b in followed), default=region.height / 8)
        regions = moving_regions(
            before, now, [*before_boxes, *followed], region=region, min_height_px=smallest
        )
        if regions is None:
            return since_s >= interval_s
        self.focus = regions
        return bool(regions)
