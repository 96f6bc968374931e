"""Baton stage: find the baton near the runners' hands, frame by frame.

Relay batons are rigid, brightly coloured tubes (29 cm by 4 cm). They are found with
classical colour and shape tests, searched only inside windows around each tracked hand so
the cost stays small:

1. the pixels of the baton's colour (HSV ranges; the colour is given, or learned from the
   first frames where a hand carries an elongated saturated blob of the expected size);
2. connected blobs of them, each fitted with an oriented box (``cv2.minAreaRect``);
3. a score from shape and size against the baton expected at that runner's scale (its
   length relative to the body), so shirts, shoes, lane markings and the track are refused.

The result is a table of **sightings**: the baton's two ends in pixels per frame, with a
score. Who holds it is decided later, from the sightings and the runners' hands
(:mod:`handoff_cv.holder`), so the analysis can be re-run without the video.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from handoff_cv.errors import ConfigError, InputError
from handoff_cv.geometry import Box, shrink
from handoff_cv.kinematics import body_height_px
from handoff_cv.pose import LANDMARK_INDEX as _I
from handoff_cv.pose import Pose
from handoff_cv.settings import BatonSettings

NAMED_COLOURS: dict[str, tuple[int, int, int]] = {
    "yellow": (250, 205, 0),
    "orange": (250, 120, 0),
    "red": (220, 30, 30),
    "blue": (30, 115, 230),
    "green": (40, 180, 60),
    "pink": (240, 60, 170),
    "silver": (200, 200, 205),
}
"""Common relay baton colours (RGB). ``auto`` tries all but silver (too like white kit
and lane lines to be learned safely; give it explicitly)."""
SATURATION_FLOORS = (160, 200)


def nearest_colour_name(rgb: tuple[int, int, int]) -> str:
    """The named baton colour nearest to ``rgb``."""
    return min(
        NAMED_COLOURS,
        key=lambda n: sum((a - b) ** 2 for a, b in zip(NAMED_COLOURS[n], rgb, strict=True)),
    )


AUTO_CANDIDATES = ("yellow", "orange", "red", "blue", "green", "pink")
DIAMETER_M = 0.04
ASSUMED_STATURE_M = 1.75  # only sizes the search: a 10% error in stature is harmless
SIGHTING_COLUMNS = [
    "frame",
    "time_s",
    "x0_px",
    "y0_px",
    "x1_px",
    "y1_px",
    "width_px",
    "expected_length_px",
    "score",
]
SIGHTING_POINTS = [("x0_px", "y0_px"), ("x1_px", "y1_px")]
"""The sightings' pixel columns, as (x, y) pairs (the baton's two ends)."""


# ---------------------------------------------------------------------- colour
@dataclass(frozen=True)
class ColourModel:
    """A baton colour as an HSV range (OpenCV units: hue 0-180, saturation and value 0-255).

    Achromatic (silver) batons are bright and unsaturated instead of a hue band.
    """

    name: str
    hue: float
    hue_tolerance: float
    min_saturation: int
    min_value: int
    achromatic: bool = False

    @classmethod
    def from_rgb(
        cls, name: str, rgb: tuple[int, int, int], settings: BatonSettings
    ) -> list[ColourModel]:
        """The colour at increasing saturation floors: a red baton on a red track differs
        from it only by being more saturated, so learning picks the floor that works."""
        h, s, v = cv2.cvtColor(np.uint8([[rgb]]), cv2.COLOR_RGB2HSV)[0, 0]
        if s < 60:
            return [cls(name, 0.0, 0.0, 0, max(int(v) - 60, 120), achromatic=True)]
        floors = sorted({settings.min_saturation, *SATURATION_FLOORS})
        return [
            cls(name, float(h), settings.hue_tolerance, f, settings.min_value)
            for f in floors
            if f >= settings.min_saturation and f < s
        ]

    def mask(self, hsv: np.ndarray) -> np.ndarray:
        """uint8 mask (255 where a pixel has this colour) of an HSV image."""
        mask = None
        for lo, hi in self._ranges:
            part = cv2.inRange(hsv, lo, hi)
            mask = part if mask is None else cv2.bitwise_or(mask, part)
        return mask if mask is not None else np.zeros(hsv.shape[:2], np.uint8)

    @functools.cached_property
    def _ranges(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``cv2.inRange`` bounds: one band, or two where the hue band wraps past 0/180
        (OpenCV hues are integers 0-179)."""
        if self.achromatic:
            return [(np.array([0, 0, self.min_value]), np.array([179, 44, 255]))]
        low, high = self.hue - self.hue_tolerance, self.hue + self.hue_tolerance
        bands = [(max(math.ceil(low), 0), min(math.floor(high), 179))]
        if low < 0:
            bands.append((math.ceil(low + 180), 179))
        if high > 179:
            bands.append((0, math.floor(high - 180)))
        return [
            (np.array([a, self.min_saturation, self.min_value]), np.array([b, 255, 255]))
            for a, b in bands
            if a <= b
        ]

    def describe(self) -> str:
        if self.achromatic:
            return f"{self.name} (unsaturated, brightness >= {self.min_value})"
        return (
            f"{self.name} (hue {self.hue:.0f}+-{self.hue_tolerance:.0f}, saturation >= "
            f"{self.min_saturation}, brightness >= {self.min_value})"
        )


def colour_candidates(settings: BatonSettings) -> list[ColourModel]:
    """The colours to try: the one given, or every common one for ``auto``."""
    text = settings.colour.strip().lower()
    if text == "off":
        return []
    if text == "auto":
        names: Iterable[str] = AUTO_CANDIDATES
    elif text in NAMED_COLOURS:
        names = [text]
    elif text.startswith("#") and len(text) == 7:
        try:
            rgb = tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))
        except ValueError:
            raise ConfigError(f"baton.colour {settings.colour!r} is not a colour", _HINT) from None
        return ColourModel.from_rgb(text, rgb, settings)  # type: ignore[arg-type]
    else:
        raise ConfigError(f"baton.colour {settings.colour!r} is not a colour", _HINT)
    return [m for n in names for m in ColourModel.from_rgb(n, NAMED_COLOURS[n], settings)]


_HINT = f"Use auto, off, one of {', '.join(NAMED_COLOURS)}, or #RRGGBB"


# ---------------------------------------------------------------------- windows
@dataclass(frozen=True)
class Hand:
    """One hand to search around: its point, the baton length expected there (pixels), and
    its runner's hip centre (to tell the hand's own motion from the body's)."""

    point: np.ndarray
    baton_length_px: float
    body: np.ndarray | None = None


def hands_of(pose: Pose, settings: BatonSettings) -> list[Hand]:
    """Both hands of a pose, with the baton length expected at this runner's scale."""
    height = float(body_height_px(pose.xy[None], np.zeros(1))[0])
    if not np.isfinite(height) or height <= 0:
        return []
    length = settings.length_m * height / ASSUMED_STATURE_M
    hips = (pose.xy[_I["left_hip"]] + pose.xy[_I["right_hip"]]) / 2
    hands = []
    for side in ("left", "right"):
        point = (pose.xy[_I[f"{side}_wrist"]] + pose.xy[_I[f"{side}_index"]]) / 2
        if np.all(np.isfinite(point)):
            hands.append(Hand(point, length, hips))
    return hands


def search_windows(hands: list[Hand], radius: float, frame_size: tuple[int, int]) -> list[Box]:
    """Squares of ``radius`` baton lengths around each hand, overlapping ones merged."""
    width, height = frame_size
    boxes = [
        Box.from_center(*h.point, 2 * r, 2 * r).clip(width, height)
        for h in hands
        if (r := max(radius * h.baton_length_px, 8.0))
    ]
    boxes = [b for b in boxes if b.width >= 4 and b.height >= 4]
    merged = True
    while merged and len(boxes) > 1:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if _overlap(boxes[i], boxes[j]):
                    a, b = boxes[i], boxes.pop(j)
                    boxes[i] = Box(
                        min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1)
                    )
                    merged = True
                    break
            if merged:
                break
    return [Box(*(float(round(v)) for v in (b.x0, b.y0, b.x1, b.y1))) for b in boxes]


def _overlap(a: Box, b: Box) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


# ---------------------------------------------------------------------- blobs
@dataclass(frozen=True)
class Sighting:
    """The baton seen in one frame: its ends in full-frame pixels and how baton-like."""

    ends: np.ndarray  # (2, 2)
    width_px: float
    expected_length_px: float
    score: float

    @property
    def centre(self) -> np.ndarray:
        return self.ends.mean(axis=0)


def blob_sightings(
    mask: np.ndarray, origin: tuple[float, float], hands: list[Hand], radius: float | None
) -> list[Sighting]:
    """Baton-like blobs of a colour mask cut at ``origin`` (the window's corner), within
    ``radius`` baton lengths of a hand (``None``: anywhere, for a loose baton)."""
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    h, w = mask.shape
    found = []
    for contour in contours:
        x, y, cw, ch = cv2.boundingRect(contour)
        if x == 0 or y == 0 or x + cw >= w or y + ch >= h:
            continue  # runs out of the window: a shirt, the track, a line, not a baton
        (cx, cy), (bw, bh), angle = cv2.minAreaRect(contour)
        centre = np.array([cx + origin[0], cy + origin[1]])
        hand, near = _nearest_hand(centre, hands)
        if hand is None or (radius is not None and near > radius):
            continue
        area = float(cv2.countNonZero(mask[y : y + ch, x : x + cw]))
        score = shape_score(max(bw, bh), min(bw, bh), area, hand.baton_length_px)
        if score <= 0.05:
            continue
        theta = np.radians(angle if bw >= bh else angle + 90)
        half = max(bw, bh) / 2 * np.array([np.cos(theta), np.sin(theta)])
        found.append(
            Sighting(
                np.stack([centre - half, centre + half]),
                float(min(bw, bh)),
                hand.baton_length_px,
                score * _proximity(near, radius),
            )
        )
    return found


def _nearest_hand(point: np.ndarray, hands: list[Hand]) -> tuple[Hand | None, float]:
    best, distance = None, np.inf
    x, y = float(point[0]), float(point[1])
    for hand in hands:  # called per blob per colour: plain floats, not numpy, are fastest
        d = math.hypot(x - hand.point[0], y - hand.point[1]) / hand.baton_length_px
        if d < distance:
            best, distance = hand, d
    return best, distance


def _proximity(distance: float, radius: float | None) -> float:
    """1 when the blob is at the hand, falling off beyond one baton length (a loose baton
    searched for away from the hands keeps most of its score)."""
    if radius is None:
        return max(0.6, float(np.exp(-0.5 * max(distance - 0.5, 0.0) ** 2 / 0.5**2)))
    return float(np.exp(-0.5 * max(distance - 0.5, 0.0) ** 2 / 0.5**2))


def shape_score(length: float, width: float, area: float, expected_length: float) -> float:
    """How baton-like a blob is, in [0, 1]: its length and width against the baton expected
    at this scale (a baton seen end-on is short but never wide), and how solidly it fills
    its oriented box."""
    expected_width = max(DIAMETER_M / 0.29 * expected_length, 1.5)
    blur = 2.5  # pixels a slightly blurred, compressed edge adds to a thin object
    if length > 1.5 * expected_length + blur or width > 2.2 * expected_width + blur:
        return 0.0
    if area < max(0.12 * expected_length * expected_width, 4.0):
        return 0.0
    ratio = length / expected_length
    s_length = float(np.clip((ratio - 0.15) / 0.35, 0.2, 1.0))  # short: foreshortened/occluded
    s_width = float(np.clip(1.6 - 0.6 * width / (expected_width + blur), 0.0, 1.0))
    fill = area / max(length * width, 1.0)
    s_fill = float(np.clip((fill - 0.45) / 0.3, 0.0, 1.0))  # a bar fills its box; gaps do not
    return s_length * s_width * s_fill


def find_in_frame(
    image: np.ndarray,
    hands: list[Hand],
    colour: ColourModel,
    radius: float,
    extra_windows: list[Box] | None = None,
    mask: np.ndarray | None = None,
) -> list[Sighting]:
    """Every baton-like blob of ``colour`` near ``hands`` in an RGB ``image``, best first.
    ``mask``, the colour's mask of the whole image when already made, saves making it
    again for each window."""
    frame_size = (image.shape[1], image.shape[0])
    windows = [(b, radius + 1.5) for b in search_windows(hands, radius, frame_size)]
    windows += [(b, None) for b in extra_windows or []]
    found: list[Sighting] = []
    for box, reach in windows:
        window = _window_mask(image, mask, box, colour)
        if window is None:
            continue
        found += blob_sightings(window, (box.x0, box.y0), hands, reach)
    return _distinct(sorted(found, key=lambda s: -s.score))


def _window_mask(
    image: np.ndarray, mask: np.ndarray | None, box: Box, colour: ColourModel
) -> np.ndarray | None:
    """``colour``'s mask of the window ``box``, cut from the whole ``mask`` when given
    (``None`` when the window is empty)."""
    rows, cols = slice(int(box.y0), int(box.y1)), slice(int(box.x0), int(box.x1))
    if mask is not None:
        window = mask[rows, cols]
        return window if window.size else None
    crop = image[rows, cols]
    return colour.mask(cv2.cvtColor(crop, cv2.COLOR_RGB2HSV)) if crop.size else None


def _distinct(found: list[Sighting]) -> list[Sighting]:
    """Drop a sighting whose centre lies on a better one (overlapping search windows)."""
    kept: list[Sighting] = []
    for s in found:
        if all(np.linalg.norm(s.centre - k.centre) > 0.2 * k.expected_length_px for k in kept):
            kept.append(s)
    return kept


# ---------------------------------------------------------------------- learning
@dataclass
class _Trace:
    """A candidate colour's evidence so far, and its best blob at a hand in the last frame."""

    support: float = 0.0
    last: tuple | None = None  # time, blob, hand, baton length, body (pixels)


def scene_thumbnail(image: np.ndarray) -> np.ndarray:
    """The frame shrunk to about 160 pixels across (area-averaged), in HSV."""
    k = max(min(round(image.shape[1] / 160), image.shape[0]), 1)
    return cv2.cvtColor(shrink(image, k), cv2.COLOR_RGB2HSV)


MAX_SCENE_COVER = 0.02  # a baton is a speck of the frame; a colour filling more is scenery


class ColourLearner:
    """Learns which candidate colour is the baton's from frames as they come.

    A frame supports a colour when a baton-like blob of it sits at a hand, and more when it
    moved with that hand since the previous frame (a baton travels with the hand; a patch of
    track, grass or crowd between the limbs stays put while the hand sweeps past it). Blobs
    of the colour away from the hands (its clutter) count against it, and a colour covering
    much of the frame or of the search windows (scenery: track, grass, a shirt) is not
    considered in that frame.
    The colour is decided once its support is both enough and well ahead of any other.
    """

    def __init__(self, candidates: list[ColourModel], radius: float, needed: float) -> None:
        self.candidates = candidates
        self.radius = radius
        self.needed = needed
        self.traces = [_Trace() for _ in candidates]
        self.frames = 0

    def add(
        self,
        image: np.ndarray,
        hands: list[Hand],
        time_s: float,
        offset=(0.0, 0.0),
        scene: np.ndarray | None = None,
    ):
        """One frame (or a crop of it at ``offset``, ``hands`` in the crop's pixels);
        ``scene`` is the whole frame small, in HSV (:func:`scene_thumbnail`)."""
        self.frames += 1
        shift = np.asarray(offset, float)
        windows = _hsv_windows(image, hands, self.radius * CLUTTER_REACH)
        for colour, trace in zip(self.candidates, self.traces, strict=True):
            mask = _sparse_mask(image.shape[:2], windows, colour)
            if not cv2.countNonZero(mask):  # nothing of it near anyone: nothing to learn
                trace.last = None
                continue
            in_scene = (
                0.0 if scene is None else cv2.countNonZero(colour.mask(scene)) / scene[..., 0].size
            )
            if (
                in_scene > MAX_SCENE_COVER
                or colour_cover(image, hands, colour, self.radius, mask) > MAX_BACKGROUND_COVER
            ):
                trace.last = None
                continue
            near, away = _near_and_away(image, hands, colour, self.radius, mask)
            trace.support -= 0.5 * away
            if not near:
                trace.last = None
                continue
            best = near[0]
            hand, _ = _nearest_hand(best.centre, hands)
            assert hand is not None
            body = hand.point if hand.body is None else hand.body
            now = (
                time_s,
                best.centre + shift,
                hand.point + shift,
                hand.baton_length_px,
                body + shift,
            )
            trace.support += best.score / len(near) * _moved_with_hand(trace.last, now)
            trace.last = now

    def ranking(self) -> list[tuple[float, ColourModel]]:
        return sorted(
            ((t.support, c) for c, t in zip(self.candidates, self.traces, strict=True)),
            key=lambda p: -p[0],
        )

    def decision(self, final: bool = False) -> ColourModel | None:
        """The colour once clear (``None`` while not); with ``final``, the best one if it has
        any real support, else ``None``."""
        ranked = self.ranking()
        if not ranked:
            return None
        support, best = ranked[0]
        rival = max((s for s, c in ranked if c.name != best.name), default=0.0)
        needed, lead = (self.needed, 2.0) if not final else (max(2.0, self.needed / 3), 1.5)
        if support >= needed and support >= lead * max(rival, 0.0):
            return best
        return None


def _hsv_windows(image: np.ndarray, hands: list[Hand], radius: float) -> list[tuple]:
    """Every search window of ``radius`` around ``hands``: its rows, columns and pixels in
    HSV (converted once per frame, whatever the number of colours tried)."""
    out = []
    for box in search_windows(hands, radius, (image.shape[1], image.shape[0])):
        rows, cols = slice(int(box.y0), int(box.y1)), slice(int(box.x0), int(box.x1))
        out.append((rows, cols, cv2.cvtColor(image[rows, cols], cv2.COLOR_RGB2HSV)))
    return out


def _sparse_mask(shape: tuple[int, ...], windows: list[tuple], colour: ColourModel) -> np.ndarray:
    """``colour``'s mask of the image inside ``windows`` (:func:`_hsv_windows`), empty
    elsewhere: every smaller window around the same hands lies inside them."""
    mask = np.zeros(shape, np.uint8)
    for rows, cols, hsv in windows:
        mask[rows, cols] = colour.mask(hsv)
    return mask


def _near_and_away(image, hands, colour, radius, mask=None) -> tuple[list[Sighting], int]:
    near, away = [], 0
    for s in find_in_frame(image, hands, colour, radius * CLUTTER_REACH, mask=mask):
        if s.score < 0.3:
            continue
        _, distance = _nearest_hand(s.centre, hands)
        if distance <= 0.8:
            near.append(s)
        elif distance > radius:
            away += 1
    return near, away


def _moved_with_hand(before, now) -> float:
    """Weight of a blob at a hand: 1 when it moved with the hand since the frame before,
    while the hand moved both in the image and against its runner's body (so neither
    scenery, which stays put, nor a shirt or a shoe, which goes with the body, can follow
    it); 0.1 when it did not follow; 0.3 when there is nothing to tell (no frame before, or
    the hand still in the image or against the body)."""
    if before is None or now[0] - before[0] > 0.1:
        return 0.3
    length = now[3]
    hand_step = now[2] - before[2]
    own_step = hand_step - (now[4] - before[4])
    if np.linalg.norm(hand_step) < 0.25 * length or np.linalg.norm(own_step) < 0.25 * length:
        return 0.3
    followed = np.linalg.norm((now[1] - before[1]) - hand_step) / length
    return 1.0 if followed < 0.35 else 0.1


def refine_colour(
    samples: list[tuple[np.ndarray, list[Hand]]], colour: ColourModel, radius: float
) -> ColourModel:
    """Centre the hue range on the pixels of the strongest sightings (a named colour is
    only roughly the baton's, and neighbouring names overlap)."""
    if colour.achromatic:
        return colour
    hues = []
    for image, hands in samples:
        found = [s for s in find_in_frame(image, hands, colour, radius) if s.score >= 0.5]
        if found:
            hues.append(_hues_along(image, found[0], colour))
    if not hues:
        return colour
    h = np.concatenate(hues).astype(float)
    centre = float(np.degrees(np.angle(np.mean(np.exp(1j * np.radians(h * 2))))) / 2) % 180
    return replace(colour, hue=round(centre, 1))


def _hues_along(image: np.ndarray, s: Sighting, colour: ColourModel) -> np.ndarray:
    """Hues of the pixels of ``colour`` on the sighting's axis."""
    n = max(int(np.linalg.norm(s.ends[1] - s.ends[0])), 2)
    pts = np.round(s.ends[0] + np.linspace(0, 1, n)[:, None] * (s.ends[1] - s.ends[0]))
    pts = pts.astype(int)
    ok = (pts[:, 0] >= 0) & (pts[:, 1] >= 0) & (pts[:, 0] < image.shape[1])
    ok &= pts[:, 1] < image.shape[0]
    pixels = image[pts[ok, 1], pts[ok, 0]][None]
    hsv = cv2.cvtColor(pixels, cv2.COLOR_RGB2HSV)
    return hsv[0, colour.mask(hsv)[0] > 0, 0]


CLUTTER_REACH = 2.0  # learning also looks this much further out, for the colour's clutter
MAX_BACKGROUND_COVER = 0.08


def colour_cover(
    image: np.ndarray,
    hands: list[Hand],
    colour: ColourModel,
    radius: float,
    mask: np.ndarray | None = None,
) -> float:
    """Fraction of the search windows' pixels that have ``colour`` (``mask``: the colour's
    mask of the whole image, when already made)."""
    covered = total = 0
    for box in search_windows(hands, radius, (image.shape[1], image.shape[0])):
        window = _window_mask(image, mask, box, colour)
        if window is None:
            continue
        covered += cv2.countNonZero(window)
        total += window.size
    return covered / total if total else 0.0


# ---------------------------------------------------------------------- the stage
@dataclass
class BatonFinder:
    """Collects sightings frame by frame; call :meth:`observe` with each frame and the
    poses tracked in it, then :meth:`table`.

    Until the colour is decided (:class:`ColourLearner`), the search windows of the frames
    with hands are kept (at most ``learn_frames`` of them) and searched once it is.
    """

    settings: BatonSettings
    colour: ColourModel | None = None
    rows: list[dict] = field(default_factory=list)
    _pending: list[tuple[int, float, np.ndarray, list[Hand], tuple[float, float]]] = field(
        default_factory=list
    )
    _decided: bool = False
    _last: tuple[float, Sighting] | None = None

    def __post_init__(self) -> None:
        self._candidates = colour_candidates(self.settings)
        radius = self.settings.search_radius
        self._learner = ColourLearner(self._candidates, radius, self.settings.learn_support)
        if not self._candidates:
            self._decided = True

    @property
    def enabled(self) -> bool:
        return bool(self._candidates)

    def observe(self, frame: int, time_s: float, image: np.ndarray, poses: list[Pose]) -> None:
        if not self._candidates:
            return
        hands = [h for p in poses for h in hands_of(p, self.settings)]
        if not hands:
            return
        if not self._decided:
            self._keep_for_learning(frame, time_s, image, hands)
            return
        if self.colour is not None:
            self._search(frame, time_s, image, hands)

    def _keep_for_learning(self, frame, time_s, image, hands) -> None:
        radius = self.settings.search_radius
        wide = _union_crop(image, hands, radius * CLUTTER_REACH)
        if wide is None:
            return
        crop, shifted, offset = wide
        self._learner.add(crop, shifted, time_s, offset, scene_thumbnail(image))
        kept = _union_crop(image, hands, radius)
        if kept is not None:
            crop, shifted, offset = kept
            self._pending.append((frame, time_s, crop.copy(), shifted, offset))
            self._pending = self._pending[-self.settings.learn_frames :]
        if self._learner.decision() is not None:
            self.decide()

    def decide(self) -> None:
        """Decide the colour from the frames seen so far (at the end of the video: the best
        supported, if any), and search the frames kept meanwhile."""
        if self._decided:
            return
        chosen = self._learner.decision(final=True)
        self._decided = True
        pending, self._pending = self._pending, []
        if chosen is None:
            return
        samples = [(crop, hands) for _, _, crop, hands, _ in pending]
        self.colour = refine_colour(samples, chosen, self.settings.search_radius)
        for frame, time_s, crop, hands, offset in pending:
            found = find_in_frame(crop, hands, self.colour, self.settings.search_radius)
            for s in found[: self.settings.max_per_frame]:
                self._add(frame, time_s, s, shift=offset)

    def _search(self, frame: int, time_s: float, image: np.ndarray, hands: list[Hand]) -> None:
        assert self.colour is not None
        extra = self._lost_window(time_s, image)
        found = find_in_frame(image, hands, self.colour, self.settings.search_radius, extra)
        for s in found[: self.settings.max_per_frame]:
            self._add(frame, time_s, s)

    def _lost_window(self, time_s: float, image: np.ndarray) -> list[Box]:
        """Where a baton that just left every hand (a drop) can be: around and below where
        it was last seen, for half a second."""
        if self._last is None or not 0 < time_s - self._last[0] <= 0.5:
            return []
        s = self._last[1]
        r = 1.5 * s.expected_length_px
        cx, cy = s.centre
        return [Box(cx - r, cy - r, cx + r, cy + 5 * r).clip(image.shape[1], image.shape[0])]

    def _add(self, frame: int, time_s: float, s: Sighting, shift=(0.0, 0.0)) -> None:
        ends = s.ends + np.asarray(shift)
        self.rows.append(
            {
                "frame": frame,
                "time_s": time_s,
                "x0_px": ends[0, 0],
                "y0_px": ends[0, 1],
                "x1_px": ends[1, 0],
                "y1_px": ends[1, 1],
                "width_px": s.width_px,
                "expected_length_px": s.expected_length_px,
                "score": s.score,
            }
        )
        if s.score >= 0.3:
            self._last = (time_s, Sighting(ends, s.width_px, s.expected_length_px, s.score))

    def table(self) -> pd.DataFrame:
        """Every sighting so far (deciding the colour first if still learning)."""
        self.decide()
        frame = pd.DataFrame(self.rows, columns=SIGHTING_COLUMNS)
        frame.attrs["baton_colour"] = self.colour.describe() if self.colour else None
        return frame.sort_values(["frame", "score"], ascending=[True, False], ignore_index=True)


def _union_crop(image: np.ndarray, hands: list[Hand], radius: float):
    """The part of ``image`` holding every search window of ``radius``, the hands in its
    pixels, and its offset; ``None`` when there is no window."""
    windows = search_windows(hands, radius, (image.shape[1], image.shape[0]))
    if not windows:
        return None
    x0, y0 = int(min(b.x0 for b in windows)), int(min(b.y0 for b in windows))
    x1, y1 = int(max(b.x1 for b in windows)), int(max(b.y1 for b in windows))
    shifted = [
        Hand(h.point - (x0, y0), h.baton_length_px, None if h.body is None else h.body - (x0, y0))
        for h in hands
    ]
    return image[y0:y1, x0:x1], shifted, (float(x0), float(y0))


def sighting_ends(table: pd.DataFrame) -> np.ndarray:
    """(n, 2, 2) ends of the sightings in a table."""
    return table[["x0_px", "y0_px", "x1_px", "y1_px"]].to_numpy(float).reshape(-1, 2, 2)


BATON_TABLE = "baton.parquet"


def write_baton_table(sightings: pd.DataFrame, path: Path) -> None:
    """Write baton sightings (the colour used kept in the file's metadata)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(sightings, preserve_index=False)
    meta = {
        b"handoff_cv": json.dumps({"baton_colour": sightings.attrs.get("baton_colour")}).encode()
    }
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **meta}), path)


def load_baton_table(path: str | Path) -> pd.DataFrame | None:
    """The baton sightings beside a landmark table (``baton.parquet`` in its folder), or
    ``None`` when there are none."""
    path = Path(path)
    file = (path if path.is_dir() else path.parent) / BATON_TABLE
    if not file.is_file():
        return None
    try:
        return pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises many types for a bad file
        raise InputError(
            f"{file} is not a readable baton table ({type(exc).__name__})",
            "Delete it to analyse without the baton, or run 'handoff-cv analyze' on the video",
        ) from None
