"""Exchange window first: which frames get pose inference.

A relay clip spends most of its frames on runners far apart (the approach) or on nobody at
all. Those frames only need enough samples for positions and speeds, so they are scanned
at ``scan_fps`` frames a (real) second; every frame is analysed while two people followed
are near each other or about to be (their predicted paths within ``LOOKAHEAD_S``). A person
hidden behind the other at the pass is still followed (by prediction) for a while, so an
occlusion keeps the window open too. The window is held open for ``HOLD_S`` after the last
such frame, so the pass is always seen at the full frame rate. A person just found is
followed at the full rate until confirmed (or dropped): a runner's first steps, before
their speed is known, would take them out of the crop they are followed in.

The decision needs only what the tracker knew at the last analysed frame, so it works while
the video streams: skipped frames are decoded (a video cannot be decoded otherwise) but
never converted, searched or stored.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handoff_cv.geometry import Box

LOOKAHEAD_S = 0.5
"""How far ahead the people's paths are extrapolated when deciding to open the window."""
HOLD_S = 0.5
"""How long the window stays open after the last frame that opened it."""
_TOLERANCE_S = 1e-3  # frame times are rounded: 0.1 s may arrive as 0.09999


def closest_gap(boxes: Sequence[Box]) -> float:
    """The smallest distance between two people's box centres, in their mean box height
    (``inf`` with fewer than two people)."""
    gaps = [
        np.hypot(a.center[0] - b.center[0], a.center[1] - b.center[1])
        / max((a.height + b.height) / 2, 1.0)
        for a, b in itertools.combinations(boxes, 2)
    ]
    return min(gaps, default=float("inf"))


@dataclass
class ScanSchedule:
    """Decides, frame by frame, whether a frame is analysed.

    Ask :meth:`wants` with each frame's time before analysing it and tell :meth:`observe`
    what the tracker saw after each analysed frame. ``scan_fps = 0`` analyses every frame.
    """

    scan_fps: float = 0.0
    window_gap: float = 2.5
    """People whose box centres are closer than this many body heights open the window."""
    _next_scan_s: float = -np.inf
    _open_until_s: float = -np.inf
    _confirming: bool = False

    @property
    def enabled(self) -> bool:
        return self.scan_fps > 0

    def wants(self, time_s: float) -> bool:
        """Whether the frame at ``time_s`` should be analysed (the decoder counts both kinds:
        ``DecodeReport.frames`` and ``.skipped``)."""
        return (
            not self.enabled
            or self._confirming
            or time_s <= self._open_until_s
            or time_s + _TOLERANCE_S >= self._next_scan_s
        )

    def observe(
        self, time_s: float, now: Sequence[Box], ahead: Sequence[Box], confirming: bool = False
    ) -> None:
        """Update after analysing the frame at ``time_s`` with the boxes of the people
        followed ``now``, where they are predicted ``LOOKAHEAD_S`` later, and whether a
        person just found awaits confirmation."""
        if not self.enabled:
            return
        self._confirming = confirming
        self._next_scan_s = time_s + 1.0 / self.scan_fps
        if min(closest_gap(now), closest_gap(ahead)) < self.window_gap:
            self._open_until_s = time_s + HOLD_S
