"""A fake pose backend that 'sees' people drawn as coloured boxes, for tracker tests.

Each person is a box of one colour. ``detect`` finds every coloured box; ``follow`` behaves
like MediaPipe's VIDEO mode: after a reset it takes the largest person in the crop, then
keeps the person nearest to where its last answer was (in the crop's coordinates from 0 to
1), whoever that is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handoff_cv.pose import LANDMARK_NAMES, Pose

# (x, y) of each landmark in a box of width 1 and height 1, standing figure.
_TEMPLATE = {
    "nose": (0.5, 0.04), "left_eye_inner": (0.52, 0.03), "left_eye": (0.53, 0.03),
    "left_eye_outer": (0.54, 0.03), "right_eye_inner": (0.48, 0.03), "right_eye": (0.47, 0.03),
    "right_eye_outer": (0.46, 0.03), "left_ear": (0.56, 0.04), "right_ear": (0.44, 0.04),
    "mouth_left": (0.52, 0.06), "mouth_right": (0.48, 0.06), "left_shoulder": (0.7, 0.18),
    "right_shoulder": (0.3, 0.18), "left_elbow": (0.8, 0.34), "right_elbow": (0.2, 0.34),
    "left_wrist": (0.85, 0.48), "right_wrist": (0.15, 0.48), "left_pinky": (0.86, 0.51),
    "right_pinky": (0.14, 0.51), "left_index": (0.86, 0.52), "right_index": (0.14, 0.52),
    "left_thumb": (0.84, 0.5), "right_thumb": (0.16, 0.5), "left_hip": (0.62, 0.5),
    "right_hip": (0.38, 0.5), "left_knee": (0.64, 0.72), "right_knee": (0.36, 0.72),
    "left_ankle": (0.65, 0.93), "right_ankle": (0.35, 0.93), "left_heel": (0.64, 0.96),
    "right_heel": (0.36, 0.96), "left_foot_index": (0.7, 1.0), "right_foot_index": (0.3, 1.0),
}  # fmt: skip
TEMPLATE = np.array([_TEMPLATE[n] for n in LANDMARK_NAMES])


def pose_in_box(x0: float, y0: float, w: float, h: float) -> Pose:
    xy = TEMPLATE * [w, h] + [x0, y0]
    n = len(LANDMARK_NAMES)
    return Pose(xy, np.zeros(n), np.full(n, 0.9), np.full(n, 0.95))


@dataclass
class Person:
    """A person drawn as a box of one colour, moving at constant speed from ``start``."""

    color: tuple[int, int, int]
    x0: float
    y0: float
    vx: float
    width: float = 30
    height: float = 80
    appears_s: float = 0.0
    leaves_s: float = 1e9
    hidden: tuple[float, float] | None = None

    def box(self, t: float) -> tuple[float, float, float, float] | None:
        if not self.appears_s <= t < self.leaves_s:
            return None
        if self.hidden and self.hidden[0] <= t < self.hidden[1]:
            return None
        return self.x0 + self.vx * (t - self.appears_s), self.y0, self.width, self.height


def render(people: list[Person], t: float, size: tuple[int, int]) -> np.ndarray:
    image = np.zeros((size[1], size[0], 3), np.uint8)
    for person in people:  # later people are drawn in front
        box = person.box(t)
        if box is None:
            continue
        x0, y0, w, h = (round(v) for v in box)
        image[max(y0, 0) : y0 + h, max(x0, 0) : x0 + w] = person.color
    return image


class ColourBoxBackend:
    def __init__(self, colours: list[tuple[int, int, int]]) -> None:
        self.colours = colours
        self.last: dict[int, np.ndarray] = {}
        self.closed = False
        self.follow_calls = 0
        self.detect_calls = 0

    def _people(self, image: np.ndarray) -> list[Pose]:
        found = []
        for colour in self.colours:
            ys, xs = np.nonzero(np.all(image == colour, axis=-1))
            if len(xs) < 40:
                continue
            x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
            found.append(pose_in_box(x0, y0, x1 - x0, (y1 - y0)))
        return found

    def detect(self, image: np.ndarray) -> list[Pose]:
        self.detect_calls += 1
        return self._people(image)

    def detect_many(self, images) -> list[list[Pose]]:
        return [self.detect(image) for image in images]

    def follow_many(self, requests) -> list[Pose | None]:
        return [self.follow(*request) for request in requests]

    def follow(self, key: int, image: np.ndarray, time_ms: int) -> Pose | None:
        self.follow_calls += 1
        people = self._people(image)
        if not people:
            self.last.pop(key, None)
            return None
        # like MediaPipe's region of interest, where it last was in the image's own
        # coordinates (0-1): a crop of another size maps it elsewhere in pixels
        size = np.array(image.shape[1::-1], float)
        previous = self.last.get(key)
        if previous is None:
            best = max(people, key=lambda p: p.box().area)
        else:
            best = min(
                people, key=lambda p: np.linalg.norm(np.array(p.box().center) / size - previous)
            )
        self.last[key] = np.array(best.box().center) / size
        return best

    def reset(self, key: int) -> None:
        self.last.pop(key, None)

    def release(self, key: int) -> None:
        self.last.pop(key, None)

    def close(self) -> None:
        self.closed = True
