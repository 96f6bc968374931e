"""Track stage: poses over time in, one stable identity per person out.

Each followed person has a predicted box (constant velocity) and their own landmarker
(:meth:`PoseBackend.follow`) running on a square crop around that box, so two runners who
overlap at the pass keep their own landmarks. A search of the whole region of interest
(:meth:`PoseBackend.detect`, tiled so small people are found) runs every
``detect_interval_s`` and whenever someone is lost; it starts new identities and re-attaches
lost ones. With ``search_on_motion``, it is left out while nothing moves that the people
followed do not explain, and runs twice as often while something does, with a search of the
whole region every ``full_search_interval_s`` regardless (:mod:`handoff_cv.activity`).
With ``search_behind``, the searches that look closely also look around everyone followed
or just found with them painted out, for a runner the detector took for one with them. Two
landmarkers on one person: the one that jumped there loses the frame. Identities are
confirmed after ``min_hits`` frames and ended after ``max_missed_s`` unseen. At the end, the
pieces of one person are joined and, where two people passed close by each other, each
identity is made to leave with its own clothes and to keep its own path through the passage.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from scipy.optimize import least_squares, linear_sum_assignment

from handoff_cv.activity import SearchGate
from handoff_cv.appearance import appearance_distance, clothing_histogram
from handoff_cv.geometry import Box, Crop, square_tiles
from handoff_cv.pose import LANDMARK_INDEX, Pose, PoseBackend
from handoff_cv.settings import TrackingSettings
from handoff_cv.video import Frame

_ARMS = [
    [LANDMARK_INDEX[f"{side}_{part}"] for part in ("shoulder", "elbow", "wrist", "index")]
    for side in ("left", "right")
]
_SHOULDERS = [LANDMARK_INDEX["left_shoulder"], LANDMARK_INDEX["right_shoulder"]]
_HIPS = [LANDMARK_INDEX["left_hip"], LANDMARK_INDEX["right_hip"]]
_NOSE = LANDMARK_INDEX["nose"]


@dataclass(frozen=True)
class TrackedPose:
    """A pose with its frame, time and identity."""

    frame: int
    time_s: float
    track_id: int
    pose: Pose
    appearance: np.ndarray | None = field(default=None, repr=False, compare=False)
    """Clothing colour histogram in this frame (None when not measured)."""


@dataclass
class Track:
    """One identity and its poses, in frame order."""

    track_id: int
    poses: list[TrackedPose] = field(default_factory=list)
    appearance: np.ndarray | None = field(default=None, repr=False)
    """Summed clothing colour histogram (see :mod:`handoff_cv.appearance`)."""

    @property
    def frames(self) -> np.ndarray:
        return np.array([p.frame for p in self.poses], dtype=int)

    @property
    def times(self) -> np.ndarray:
        return np.array([p.time_s for p in self.poses])

    @property
    def duration_s(self) -> float:
        return self.poses[-1].time_s - self.poses[0].time_s if self.poses else 0.0


@dataclass
class _Candidate:
    """Internal state of a followed person (tentative until confirmed)."""

    key: int
    center: np.ndarray
    height: float
    last_time: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    hits: int = 0
    track_id: int | None = None
    backlog: list[tuple[int, float, Pose, np.ndarray | None]] = field(default_factory=list)
    appearance: np.ndarray | None = None
    last_pose: Pose | None = None
    apart: bool = False
    """Found while others were followed (``confirm_apart``): followed for good in a wide crop
    with the people followed plainly painted out."""

    def predicted_box(self, time_s: float) -> Box:
        cx, cy = self.center + self.velocity * (time_s - self.last_time)
        return Box.from_center(cx, cy, self.height * 0.6, self.height)

    def update(self, pose: Pose, time_s: float) -> None:
        box = pose.box()
        center = np.array(box.center)
        dt = time_s - self.last_time
        if self.hits and dt > 0:
            self.velocity = 0.5 * self.velocity + 0.5 * (center - self.center) / dt
        self.center = center
        self.height = box.height if not self.hits else 0.7 * self.height + 0.3 * box.height
        self.last_time = time_s
        self.last_pose = pose
        self.hits += 1

    def predicted_trunk(self, time_s: float) -> np.ndarray | None:
        """Neck, hip centre and head (3, 2) where they should be at ``time_s``."""
        if self.last_pose is None:
            return None
        xy = self.last_pose.xy
        points = np.stack([xy[_SHOULDERS].mean(axis=0), xy[_HIPS].mean(axis=0), xy[_NOSE]])
        return points + self.velocity * (time_s - self.last_time)

    def predicted_arms(self, time_s: float) -> list[np.ndarray]:
        """Both arms' polylines (shoulder, elbow, wrist, hand) where they should be."""
        if self.last_pose is None:
            return []
        shift = self.velocity * (time_s - self.last_time)
        return [self.last_pose.xy[chain] + shift for chain in _ARMS]


BEHIND_CROP = 2.0
"""Side of the crop searched around a person followed for someone behind them, in their body
heights (measured on end-on rendered clips: 1.6 and 2.4 find the runner behind in fewer
frames)."""

NEW_CROP_SCALE = 2.4
"""Side of the crop, in body heights, around someone found beside a person followed
(``confirm_apart``). Their landmarker
has no pose of theirs to follow yet and must find them with its own person detector, which
misses a runner filling a crop of 1.6 body heights (the crop that suits the landmarkers once
they follow someone) and finds the same runner with more margin around them."""

FINE_SEARCH_EVERY = 3
"""While someone is followed, only every this-many-th search for new people goes down to the
smaller tiles (a search of the small tiles costs many times one of the whole region)."""


class Tracker:
    """Follows people through a stream of frames with a :class:`PoseBackend`.

    Call :meth:`step` once per frame, in time order; it returns the poses of confirmed
    identities decided at that frame (a newly confirmed identity brings the poses it had
    while tentative). :meth:`tracks` gives everything so far, grouped by identity.
    """

    def __init__(
        self,
        backend: PoseBackend,
        settings: TrackingSettings,
        *,
        frame_size: tuple[int, int],
        roi: Box | None = None,
        crop_scale: float = 1.6,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.frame_size = frame_size
        self.roi = (roi or Box(0, 0, *frame_size)).clip(*frame_size)
        self.crop_scale = crop_scale
        self._live: list[_Candidate] = []
        self._keys = itertools.count()
        self._ids = itertools.count()
        self._last_detect = -np.inf
        self._tracks: dict[int, Track] = {}
        self._gate = (
            SearchGate(settings.full_search_interval_s) if settings.search_on_motion else None
        )
        self._focus: list[Box] | None = None  # where something new moved, when it did
        self.detections_run = 0
        self.current_poses: list[Pose] = []
        """Everyone's pose in the last frame stepped (tentative identities too)."""

    # ------------------------------------------------------------------ public
    def step(self, frame: Frame) -> list[TrackedPose]:
        """Process one frame and return the confirmed poses decided by it."""
        poses = self._follow_all(frame)
        self._drop_duplicates(poses, frame.time_s)
        if self._gate is not None:
            boxes = [
                poses[c.key].box() if c.key in poses else c.predicted_box(frame.time_s)
                for c in self._live
            ]
            self._gate.observe(frame.image, frame.time_s, boxes)
        if self._detection_due(frame.time_s, poses):
            self._detect_and_assign(frame, poses)
        self.current_poses = list(poses.values())
        return self._update_states(frame, poses)

    def followed_boxes(self, time_s: float) -> list[Box]:
        """Where every confirmed identity is at the last frame stepped, or is expected to be
        at a later ``time_s`` (constant velocity)."""
        return [c.predicted_box(time_s) for c in self._live if c.track_id is not None]

    @property
    def confirming(self) -> bool:
        """Whether someone found is still awaiting confirmation (``min_hits`` frames)."""
        return any(c.track_id is None for c in self._live)

    def tracks(self) -> list[Track]:
        """Every identity seen for at least ``min_track_s``, pieces of one person joined,
        numbered 0, 1, ... in order of first appearance."""
        joined = stitch_tracks(
            list(self._tracks.values()),
            max_gap_s=self.settings.stitch_gap_s,
            max_appearance_distance=self.settings.max_appearance_distance,
        )
        # by clothes first (whole tails swapped), then by path (flicker), then by clothes
        # again for what the path step left swapped (measured: docs/end_to_end.md)
        joined = untangle_crossings(follow_paths_through_crossings(untangle_crossings(joined)))
        keep = [t for t in joined if t.duration_s >= self.settings.min_track_s]
        return renumber(keep)

    def close(self) -> None:
        for cand in self._live:
            self.backend.release(cand.key)
        self._live.clear()

    # ----------------------------------------------------------------- helpers
    def _follow_all(self, frame: Frame) -> dict[int, Pose]:
        """Every followed person's pose in ``frame``. With ``confirm_apart``, those followed
        plainly first; then, in wider crops with those people painted out (their own arms
        left in view), everyone awaiting confirmation and everyone found while others were
        followed, for as long as they are followed.

        Someone just found beside a runner followed was often found only with that runner
        painted out (``search_behind``); a landmarker started on the plain crop takes the
        runner in plain view, finds nobody else, and the new identity ends at that miss. The
        same happened at the switch to the plain crop on confirmation (``rendered_0016``:
        the runner behind, confirmed again and again, each time followed for a few frames;
        kept apart, 543 frames)."""
        if not self.settings.confirm_apart:
            return self._follow(frame, self._live, [], self.crop_scale)
        plain = [c for c in self._live if c.track_id is not None and not c.apart]
        apart = [c for c in self._live if c.track_id is None or c.apart]
        poses = self._follow(frame, plain, [], self.crop_scale)
        wide = max(self.crop_scale, NEW_CROP_SCALE)
        return poses | self._follow(frame, apart, list(poses.values()), wide)

    def _follow(
        self, frame: Frame, cands: list[_Candidate], painted: list[Pose], scale: float
    ) -> dict[int, Pose]:
        """The poses of ``cands`` in ``frame``, each landmarker on its own crop of ``scale``
        body heights (with the people ``painted`` out, and others' trunks hidden where
        ``hide_others`` says so)."""
        poses: dict[int, Pose] = {}
        if not cands:
            return poses
        hiding = self.settings.hide_others
        trunks = (
            {c.key: (c.predicted_trunk(frame.time_s), c.height) for c in self._live}
            if hiding
            else {}
        )
        requests, crops, predictions = [], [], []
        for cand in cands:
            predicted = cand.predicted_box(frame.time_s)
            crop = Crop.around(predicted, scale * cand.height)
            image = crop.cut(frame.image)
            if painted:
                keep = (cand.predicted_arms(frame.time_s), cand.height)
                image = paint_out(image, crop, painted, keep)
            if hiding:
                others = [v for k, v in trunks.items() if k != cand.key and v[0] is not None]
                own = (*trunks[cand.key], cand.predicted_arms(frame.time_s))
                image = hide_others(image, crop, others, own)
            requests.append((cand.key, image, int(frame.time_s * 1000)))
            crops.append(crop)
            predictions.append(predicted)
        found = self.backend.follow_many(requests)
        for cand, crop, predicted, pose in zip(cands, crops, predictions, found, strict=True):
            if pose is None:
                continue
            pose = pose.shifted(crop.x0, crop.y0)
            if self._plausible(pose, predicted):
                poses[cand.key] = pose
            else:  # the crop's landmarker jumped to someone else: restart it next frame
                self.backend.reset(cand.key)
        return poses

    @staticmethod
    def _plausible(pose: Pose, predicted: Box) -> bool:
        ratio = pose.box().height / max(predicted.height, 1.0)
        return _centre_shift(pose, predicted) < 0.6 * predicted.height and 0.5 < ratio < 2.0

    def _drop_duplicates(self, poses: dict[int, Pose], time_s: float) -> None:
        """Two landmarkers on the same person: the one that jumped there loses this frame
        (its pose is farther from where its own person was expected, in body heights), the
        younger identity on a tie. At the pass, the outgoing runner's landmarker sliding
        onto the incoming runner must not take the incoming runner's identity with it."""
        live = [c for c in self._live if c.key in poses]  # oldest first
        for i, a in enumerate(live):
            for b in live[i + 1 :]:
                if (
                    a.key in poses
                    and b.key in poses
                    and self._same_person(poses[a.key], poses[b.key])
                ):
                    loser = (
                        a if _jump(a, poses[a.key], time_s) > _jump(b, poses[b.key], time_s) else b
                    )
                    del poses[loser.key]
                    self.backend.reset(loser.key)

    def _same_person(self, a: Pose, b: Pose) -> bool:
        return a.distance(b) < self.settings.duplicate_distance

    def _detection_due(self, time_s: float, poses: dict[int, Pose]) -> bool:
        since = time_s - self._last_detect
        interval = self.settings.detect_interval_s
        someone_lost = any(c.key not in poses for c in self._live)
        self._focus = None
        if someone_lost and since >= interval / 4:
            return True
        if self._gate is None:
            return since >= interval
        due = self._gate.due(self.roi, since, interval)
        self._focus = self._gate.focus
        return due

    def _detect(self, image: np.ndarray) -> list[Pose]:
        self.detections_run += 1
        x0, y0, x1, y1 = (int(v) for v in self.roi.as_array())
        sub = image[y0:y1, x0:x1]
        focus = self._focus
        found: list[Pose] = []
        for tile in self._tile_sizes(sub.shape[0]):
            tiles = [
                t
                for t in square_tiles(sub.shape[1], sub.shape[0], tile)
                # nobody new can be in a small tile where nothing new moved
                if focus is None or tile >= sub.shape[0] or _touches(t, focus, x0, y0)
            ]
            for t, poses in zip(
                tiles, self.backend.detect_many([t.cut(sub) for t in tiles]), strict=True
            ):
                found += [pose.shifted(t.x0 + x0, t.y0 + y0) for pose in poses]
            if found:
                break
        return _suppress_overlaps(found, self.settings.duplicate_distance)

    def _tile_sizes(self, height: int) -> list[int]:
        """The tile sides to search with: the one set, or automatically the region's height,
        then halves of it down to 256 px while nobody is found (runners are small in wide
        shots: the detector sees a tile at 224 px). While people are followed, tiles stay at
        least twice the smallest one's height: the runners sought are about their size, and
        the many small tiles are most of the cost of a search; they are searched only every
        ``FINE_SEARCH_EVERY``-th time."""
        if self.settings.detect_tile_px:
            return [self.settings.detect_tile_px]
        heights = [c.height for c in self._live if c.track_id is not None]
        if not self._fine_search():
            return [height]  # someone is followed: the finer tiles only every few searches
        floor = max(256, 2 * min(heights)) if heights else 256
        sizes = [height]
        while sizes[-1] // 2 >= floor:
            sizes.append(sizes[-1] // 2)
        return sizes

    def _fine_search(self) -> bool:
        """Whether the search under way looks closely (small tiles, behind people): always
        while nobody is confirmed, else every ``FINE_SEARCH_EVERY``-th search."""
        confirmed = any(c.track_id is not None for c in self._live)
        return not confirmed or self.detections_run % FINE_SEARCH_EVERY == 0

    def _detect_and_assign(self, frame: Frame, poses: dict[int, Pose]) -> None:
        self._last_detect = frame.time_s
        detections = self._unknown(self._detect(frame.image), list(poses.values()))
        if self.settings.search_behind and self._fine_search():
            detections += self._detect_behind(frame.image, [*poses.values(), *detections])
        lost = [c for c in self._live if c.key not in poses]
        for cand, det in _match(lost, detections, frame.time_s, self.settings.match_iou):
            poses[cand.key] = det
            self.backend.reset(cand.key)  # restart its landmarker on the re-found person
            # by identity: Pose equality would compare landmark arrays
            detections = [d for d in detections if d is not det]
        room = self.settings.max_people - len(self._live)
        apart = self.settings.confirm_apart and any(c.track_id is not None for c in self._live)
        for det in sorted(detections, key=lambda d: -d.score)[: max(room, 0)]:
            box = det.box()
            cand = _Candidate(next(self._keys), np.array(box.center), box.height, frame.time_s)
            cand.apart = apart
            self._live.append(cand)
            poses[cand.key] = det

    def _detect_behind(self, image: np.ndarray, known: list[Pose]) -> list[Pose]:
        """People the detector took for one with someone ``known`` (followed or just found):
        a search around each of them (``BEHIND_CROP`` body heights), all of them painted
        out."""
        if not known or len(self._live) >= self.settings.max_people:
            return []
        crops = [Crop.around(p.box(), BEHIND_CROP * p.box().height) for p in known]
        images = [paint_out(crop.cut(image), crop, known) for crop in crops]
        found = [
            pose.shifted(crop.x0, crop.y0)
            for crop, poses_in in zip(crops, self.backend.detect_many(images), strict=True)
            for pose in poses_in
        ]
        new = [d for d in self._unknown(found, known) if self._in_roi(d.box().center)]
        return _suppress_overlaps(new, self.settings.duplicate_distance)

    def _unknown(self, found: list[Pose], known: list[Pose]) -> list[Pose]:
        """The poses of ``found`` that are none of the ``known`` people."""
        far = 2 * self.settings.duplicate_distance
        return [d for d in found if all(d.distance(k) >= far for k in known)]

    def _in_roi(self, point: tuple[float, float]) -> bool:
        return self.roi.x0 <= point[0] <= self.roi.x1 and self.roi.y0 <= point[1] <= self.roi.y1

    def _update_states(self, frame: Frame, poses: dict[int, Pose]) -> list[TrackedPose]:
        emitted: list[TrackedPose] = []
        survivors: list[_Candidate] = []
        for cand in self._live:
            pose = poses.get(cand.key)
            if pose is not None:
                cand.update(pose, frame.time_s)
                hist = clothing_histogram(frame.image, pose)
                if hist is not None:
                    cand.appearance = hist if cand.appearance is None else cand.appearance + hist
                cand.backlog.append((frame.index, frame.time_s, pose, hist))
                if cand.track_id is None and cand.hits >= self.settings.min_hits:
                    cand.track_id = next(self._ids)
                    self._tracks[cand.track_id] = Track(cand.track_id)
                if cand.track_id is not None:
                    emitted += self._flush(cand)
            if self._alive(cand, frame.time_s):
                survivors.append(cand)
            else:
                self.backend.release(cand.key)
        self._live = survivors
        return emitted

    def _alive(self, cand: _Candidate, time_s: float) -> bool:
        unseen = time_s - cand.last_time
        if cand.track_id is None:  # tentative: one miss ends it
            return unseen == 0
        inside = self._in_roi(cand.predicted_box(time_s).center)
        return unseen <= self.settings.max_missed_s and inside

    def _flush(self, cand: _Candidate) -> list[TrackedPose]:
        assert cand.track_id is not None
        out = [TrackedPose(i, t, cand.track_id, p, h) for i, t, p, h in cand.backlog]
        cand.backlog.clear()
        track = self._tracks[cand.track_id]
        track.poses.extend(out)
        track.appearance = cand.appearance
        return out


def hide_others(
    image: np.ndarray,
    crop: Crop,
    others: list[tuple[np.ndarray, float]],
    own: tuple[np.ndarray | None, float, list[np.ndarray]],
) -> np.ndarray:
    """Paint over the trunks and heads of the other people in a person's crop, but not over
    the person's own trunk and arms, so the landmarker cannot slide onto a runner alongside
    (the pass). ``others``: (neck, hips, head) points and body height per person; ``own``:
    the same and the person's arm polylines.

    The other people's arms are left visible: the hands meeting at the pass stay in both
    crops.
    """
    if not others:
        return image
    mask = np.zeros(image.shape[:2], np.uint8)
    offset = np.array([crop.x0, crop.y0])
    for trunk, height in others:
        _draw_trunk(mask, trunk - offset, height, 255)
    trunk, height, arms = own
    if trunk is not None:
        _draw_trunk(mask, trunk - offset, height, 0)
    _keep_arms(mask, [arm - offset for arm in arms], height)
    return _cover(image, mask)


def paint_out(
    image: np.ndarray,
    crop: Crop,
    people: list[Pose],
    keep: tuple[list[np.ndarray], float] = ([], 0.0),
) -> np.ndarray:
    """A crop with each of ``people`` (frame pixels) covered by the crop's median colour:
    the hull of their landmarks, widened by a tenth of their height. ``keep``: the crop's
    own person's arm polylines and body height, left in view (at the pass the hands meet
    inside the other runner's hull)."""
    mask = np.zeros(image.shape[:2], np.uint8)
    offset = np.array([crop.x0, crop.y0])
    for pose in people:
        xy = pose.xy[np.isfinite(pose.xy).all(axis=1)] - offset
        if len(xy) < 3:
            continue
        hull = np.zeros_like(mask)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.round(xy).astype(np.int32)), 255)
        margin = max(3, round(0.1 * pose.box().height))
        mask |= cv2.dilate(hull, np.ones((margin, margin), np.uint8))
    arms, height = keep
    _keep_arms(mask, [arm - offset for arm in arms], height)
    return _cover(image, mask)


def _keep_arms(mask: np.ndarray, arms: list[np.ndarray], height: float) -> None:
    """Clear the person's own arm polylines (mask pixels) out of ``mask``, those whose
    points are all known."""
    limb = max(2, round(0.12 * height))  # arms swing fast: a wide margin around them
    for arm in arms:
        if np.isfinite(arm).all():
            cv2.polylines(mask, [np.round(arm).astype(np.int32)], False, 0, limb)


def _cover(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` with the pixels under ``mask`` painted in the image's median colour."""
    if not mask.any():
        return image
    out = image.copy()
    out[mask > 0] = np.median(image.reshape(-1, image.shape[-1]), axis=0).astype(image.dtype)
    return out


def _draw_trunk(mask: np.ndarray, trunk: np.ndarray, height: float, value: int) -> None:
    """A band from neck to hips about a trunk's depth wide, and the head."""
    neck, hips, head = np.round(trunk).astype(int)
    cv2.line(mask, tuple(neck), tuple(hips), value, max(2, round(0.2 * height)))
    cv2.circle(mask, tuple(head), max(2, round(0.07 * height)), value, -1)


def _centre_shift(pose: Pose, predicted: Box) -> float:
    """Pixels from the centre of ``predicted`` to the centre of ``pose``'s box."""
    return float(np.hypot(*(np.array(pose.box().center) - np.array(predicted.center))))


def _jump(cand: _Candidate, pose: Pose, time_s: float) -> float:
    """How far ``pose`` is from where ``cand`` was expected at ``time_s``, in body heights."""
    return _centre_shift(pose, cand.predicted_box(time_s)) / max(cand.height, 1.0)


def _touches(tile: Crop, boxes: list[Box], x0: float, y0: float) -> bool:
    """Whether a tile of the region starting at (``x0``, ``y0``) overlaps any of ``boxes``
    (frame pixels)."""
    tx0, ty0 = tile.x0 + x0, tile.y0 + y0
    tx1, ty1 = tx0 + tile.side, ty0 + tile.side
    return any(b.x0 < tx1 and b.x1 > tx0 and b.y0 < ty1 and b.y1 > ty0 for b in boxes)


def _suppress_overlaps(poses: list[Pose], distance: float) -> list[Pose]:
    """Keep the best-scored of detections that are the same person (seen in two tiles)."""
    kept: list[Pose] = []
    for pose in sorted(poses, key=lambda p: -p.score):
        if all(pose.distance(k) >= distance and pose.box().iou(k.box()) < 0.7 for k in kept):
            kept.append(pose)
    return kept


def _match(
    lost: list[_Candidate], detections: list[Pose], time_s: float, min_iou: float
) -> Iterator[tuple[_Candidate, Pose]]:
    """Assign detections to lost identities by predicted-box overlap (Hungarian)."""
    if not lost or not detections:
        return
    iou = np.array([[c.predicted_box(time_s).iou(d.box()) for d in detections] for c in lost])
    rows, cols = linear_sum_assignment(-iou)
    for r, c in zip(rows, cols, strict=True):
        if iou[r, c] >= min_iou:
            yield lost[r], detections[c]


def stitch_tracks(
    tracks: list[Track], *, max_gap_s: float, max_appearance_distance: float
) -> list[Track]:
    """Join tracks that are one person seen in pieces.

    Track B continues track A when B starts after A ends, within ``max_gap_s``, no farther
    than a person can move in the gap (about six body heights a second), and with clothes
    not too different in colour (lighting changes colours, so this is a loose gate). The
    pairs closest in place and colour are joined first, one successor per track.
    """
    live = [t for t in tracks if t.poses]
    pairs = []
    for a in live:
        for b in live:
            gap = b.poses[0].time_s - a.poses[-1].time_s
            if a is b or not 0 < gap <= max_gap_s:
                continue
            end, start = a.poses[-1].pose.box(), b.poses[0].pose.box()
            height = max(end.height, start.height, 1.0)
            reach = height * (0.5 + 6.0 * gap)
            distance = np.hypot(*(np.array(end.center) - np.array(start.center)))
            difference = appearance_distance(_mean(a.appearance), _mean(b.appearance))
            if distance <= reach and difference <= max_appearance_distance:
                pairs.append((distance / reach + difference, a.track_id, b.track_id))
    successor: dict[int, int] = {}
    predecessor: dict[int, int] = {}
    for _, a, b in sorted(pairs):
        if a not in successor and b not in predecessor:
            successor[a], predecessor[b] = b, a
    by_id = {t.track_id: t for t in live}
    chains = []
    for t in live:
        if t.track_id in predecessor:
            continue
        chain = [t]
        while chain[-1].track_id in successor:
            chain.append(by_id[successor[chain[-1].track_id]])
        chains.append(_join(chain))
    return chains


PATH_REACH_S = 0.05
"""How far past its first and last pose an identity's fitted path is trusted."""


def follow_paths_through_crossings(
    tracks: list[Track], pad_s: float = 0.5, rounds: int = 3, margin: float = 0.05
) -> list[Track]:
    """Where two people pass close by each other, give each frame's poses to the identity
    whose path they continue.

    Followed by crop, both landmarkers see both runners while they overlap, and each can
    sit on the other runner for a frame or a few, back and forth (the pass): an identity
    flickers between the two people. Through each close passage (padded by ``pad_s``),
    each identity's hips are fitted with a robust parabola in time over the poses it has
    (most of them are its own), each frame's poses go to the paths they lie nearer by
    ``margin`` body heights (summed over both when both are seen; a lone pose, or the
    nearer of two on one person, goes to the path it is nearer), and the fit is
    repeated up to ``rounds`` times. Each runner runs a smooth path, so the path tells
    them apart where the clothes, overlapping in both crops, do not; where their paths
    meet in the image (end-on), neither assignment is nearer and the poses stay.
    """
    tracks = [Track(t.track_id, list(t.poses), t.appearance) for t in tracks]
    for i, a in enumerate(tracks):
        for b in tracks[i + 1 :]:
            _follow_pair(a, b, pad_s, rounds, margin)
    return [t for t in tracks if t.poses]


def _follow_pair(a: Track, b: Track, pad_s: float, rounds: int, margin: float) -> None:
    pa, pb = {p.frame: p for p in a.poses}, {p.frame: p for p in b.poses}
    close = [f for f in sorted(set(pa) & set(pb)) if _hip_gap(pa[f].pose, pb[f].pose) < 0.6]
    if not close:
        return
    times = {p.frame: p.time_s for p in (*a.poses, *b.poses)}
    for episode in _episodes(close, max_gap=3):
        t0, t1 = times[episode[0]] - pad_s, times[episode[-1]] + pad_s
        span = sorted(f for f in times if t0 <= times[f] <= t1)
        owners = _reassign_span(span, pa, pb, rounds, margin)
        for frame, (to_a, to_b) in owners.items():
            pa.pop(frame, None)
            pb.pop(frame, None)
            if to_a is not None:
                pa[frame] = replace(to_a, track_id=a.track_id)
            if to_b is not None:
                pb[frame] = replace(to_b, track_id=b.track_id)
    a.poses = [pa[f] for f in sorted(pa)]
    b.poses = [pb[f] for f in sorted(pb)]


def _reassign_span(
    span: list[int],
    pa: dict[int, TrackedPose],
    pb: dict[int, TrackedPose],
    rounds: int,
    margin: float,
) -> dict[int, tuple[TrackedPose | None, TrackedPose | None]]:
    """The poses of each frame of ``span`` for identities a and b: each identity's hips
    fitted with a robust parabola in time over the poses it has, every frame's poses
    given to the paths they lie nearer, and the fit repeated ``rounds`` times."""
    owners = {f: (pa.get(f), pb.get(f)) for f in span}
    for _ in range(rounds):
        paths = [_robust_path([o[k] for o in owners.values() if o[k] is not None]) for k in (0, 1)]
        if paths[0] is None or paths[1] is None:
            return owners
        changed = False
        for frame, current in owners.items():
            seen = [p for p in current if p is not None]
            height = max(max(p.pose.box().height for p in seen), 1.0)
            cost = np.array([[_off(p, path) / height for path in paths] for p in seen])
            owner = _owners(seen, cost, margin, current[0], current[1])
            # by identity: TrackedPose equality would compare landmark arrays
            changed |= any(x is not y for x, y in zip(owner, current, strict=True))
            owners[frame] = owner
        if not changed:
            break
    return owners


def _off(pose: TrackedPose, path) -> float:
    """Pixels from ``pose``'s hips to where ``path`` puts them at its time (infinite
    outside the stretch the path was fitted on: a parabola is not to be extrapolated)."""
    where = path(pose.time_s)
    return np.inf if where is None else float(np.linalg.norm(_hips(pose.pose) - where))


def _robust_path(poses: list[TrackedPose]):
    """A function of time giving where a parabola through the poses' hips (soft-L1 loss,
    so the frames on the other person weigh little) puts them; None with too few poses."""
    if len(poses) < 6:
        return None
    t = np.array([p.time_s for p in poses])
    t0 = t.mean()
    xy = np.stack([_hips(p.pose) for p in poses])
    scale = 0.1 * float(np.median([p.pose.box().height for p in poses]))
    coefs = []
    for axis in (0, 1):
        fit = least_squares(
            lambda c, y=xy[:, axis]: np.polyval(c, t - t0) - y,
            np.polyfit(t - t0, xy[:, axis], 2),
            loss="soft_l1",
            f_scale=max(scale, 1.0),
        )
        coefs.append(fit.x)
    first, last = t.min() - PATH_REACH_S, t.max() + PATH_REACH_S

    def path(time_s: float) -> np.ndarray | None:
        if not first <= time_s <= last:
            return None
        return np.array([np.polyval(c, time_s - t0) for c in coefs])

    return path


def _owners(
    seen: list[TrackedPose],
    cost: np.ndarray,
    margin: float,
    current_a: TrackedPose | None,
    current_b: TrackedPose | None,
) -> tuple[TrackedPose | None, TrackedPose | None]:
    """Which pose each identity gets in one frame (``cost``: poses x identities)."""
    if not np.isfinite(cost).any():
        return current_a, current_b
    if len(seen) == 2 and _hip_gap(seen[0].pose, seen[1].pose) >= 0.15:
        keep = cost[0, 0] + cost[1, 1]
        swap = cost[0, 1] + cost[1, 0]
        return (seen[1], seen[0]) if swap + margin < keep else (seen[0], seen[1])
    # one pose, or two on one person: the nearer goes to the identity it continues
    pose = seen[int(np.argmin(cost.min(axis=1)))]
    row = cost[seen.index(pose)]
    now = 0 if pose is current_a else 1
    other = 1 - now
    to = other if row[other] + margin < row[now] else now
    return (pose, None) if to == 0 else (None, pose)


def _hips(pose: Pose) -> np.ndarray:
    """The hips' midpoint, pixels."""
    return pose.xy[_HIPS].mean(axis=0)


def untangle_crossings(
    tracks: list[Track], window_s: float = 0.6, margin: float = 0.1, max_rounds: int = 4
) -> list[Track]:
    """Where two people pass close by each other (the pass itself), make each track leave
    with the clothes it came with.

    Followed by crop, a landmarker can slide onto the other runner while their bodies
    overlap, so two identities swap without any jump. For each close passage of two tracks,
    the clothing colours just before and just after are compared; when the crossed
    assignment matches better by ``margin`` (Bhattacharyya distance, summed over both), the
    tracks' tails are exchanged from the closest frame on. Same-coloured kits give no
    evidence and are left as they are.
    """
    tracks = [Track(t.track_id, list(t.poses), t.appearance) for t in tracks]
    for _ in range(max_rounds):
        if not any(
            _untangle_pair(a, b, window_s, margin)
            for i, a in enumerate(tracks)
            for b in tracks[i + 1 :]
        ):
            break
    return tracks


def _untangle_pair(a: Track, b: Track, window_s: float, margin: float) -> bool:
    """Swap the tails of ``a`` and ``b`` after their first crossing that swapped them.

    When only one of them goes on after the crossing (the other lost its person, or sat on
    the same one and was dropped), that one's clothes alone decide whose track it continues.
    """
    pa, pb = {p.frame: p for p in a.poses}, {p.frame: p for p in b.poses}
    common = sorted(set(pa) & set(pb))
    close = [f for f in common if _hip_gap(pa[f].pose, pb[f].pose) < 0.6]
    for episode in _episodes(close, max_gap=3):
        t0, t1 = pa[episode[0]].time_s, pa[episode[-1]].time_s
        before = [_mean_hist(t, t0 - window_s, t0, set(close)) for t in (a, b)]
        after = [_mean_hist(t, t1, t1 + window_s, set(close)) for t in (a, b)]
        if before[0] is None or before[1] is None or (after[0] is None and after[1] is None):
            continue
        keep = cross = 0.0
        for i in (0, 1):
            if after[i] is not None:
                keep += appearance_distance(before[i], after[i])
                cross += appearance_distance(before[1 - i], after[i])
        if cross + margin < keep:
            pivot = min(episode, key=lambda f: _hip_gap(pa[f].pose, pb[f].pose))
            _swap_tails(a, b, pivot)
            _drop_doubles(a, b, [f for f in sorted({*pa, *pb}) if f >= episode[0]])
            return True
        for track, other, sparse in ((a, b, after[0] is None), (b, a, after[1] is None)):
            if sparse and _drop_strays(track, other, episode[-1], t1 + window_s):
                return True
    return False


def _drop_strays(track: Track, other: Track, after_frame: int, until_s: float) -> bool:
    """Drop the few poses ``track`` still has just after a crossing that sit on the other
    track's person (leftovers of two landmarkers on one body): its own person was lost."""
    others = {p.frame: p for p in other.poses}

    def on_other(p: TrackedPose) -> bool:
        near = [others[f] for f in range(p.frame - 3, p.frame + 4) if f in others]
        return any(_hip_gap(p.pose, q.pose) < 0.6 for q in near)

    strays = {
        id(p) for p in track.poses if p.frame > after_frame and p.time_s <= until_s and on_other(p)
    }
    track.poses = [p for p in track.poses if id(p) not in strays]
    return bool(strays)


def _drop_doubles(a: Track, b: Track, frames: list[int], same: float = 0.15) -> None:
    """Frames where both tracks sit on one person: keep the pose only in the track whose
    path it continues (nearer the midpoint of that track's neighbouring frames)."""
    for f in frames:
        pa, pb = ({p.frame: p for p in t.poses} for t in (a, b))
        if f not in pa or f not in pb or _hip_gap(pa[f].pose, pb[f].pose) >= same:
            continue
        off = {id(t): _off_path(t, f) for t in (a, b)}
        loser = a if off[id(a)] > off[id(b)] else b
        loser.poses = [p for p in loser.poses if p.frame != f]


def _off_path(track: Track, frame: int) -> float:
    by_frame = {p.frame: _hips(p.pose) for p in track.poses}
    before = [g for g in by_frame if g < frame]
    after = [g for g in by_frame if g > frame]
    if not before or not after:
        return 0.0
    expected = (by_frame[max(before)] + by_frame[min(after)]) / 2
    return float(np.linalg.norm(by_frame[frame] - expected))


def _hip_gap(p: Pose, q: Pose) -> float:
    """Distance between two people's hip midpoints, in body heights."""
    gap = np.linalg.norm(_hips(p) - _hips(q))
    return float(gap / max(p.box().height, q.box().height, 1.0))


def _episodes(frames: list[int], max_gap: int) -> list[list[int]]:
    out: list[list[int]] = []
    for f in frames:
        if out and f - out[-1][-1] <= max_gap:
            out[-1].append(f)
        else:
            out.append([f])
    return out


def _mean_hist(track: Track, t0: float, t1: float, exclude: set[int]) -> np.ndarray | None:
    hists = [
        p.appearance
        for p in track.poses
        if t0 <= p.time_s <= t1 and p.frame not in exclude and p.appearance is not None
    ]
    return _mean(sum(hists)) if len(hists) >= 3 else None


def _swap_tails(a: Track, b: Track, pivot: int) -> None:
    head_a = [p for p in a.poses if p.frame <= pivot]
    head_b = [p for p in b.poses if p.frame <= pivot]
    tail_a = [replace(p, track_id=b.track_id) for p in a.poses if p.frame > pivot]
    tail_b = [replace(p, track_id=a.track_id) for p in b.poses if p.frame > pivot]
    a.poses, b.poses = head_a + tail_b, head_b + tail_a


def _mean(hist: np.ndarray | None) -> np.ndarray | None:
    return None if hist is None else hist / max(float(hist.sum()), 1e-9)


def _join(chain: list[Track]) -> Track:
    head = chain[0]
    poses = [replace(p, track_id=head.track_id) for t in chain for p in t.poses]
    hists = [t.appearance for t in chain if t.appearance is not None]
    return Track(head.track_id, poses, sum(hists) if hists else None)


def renumber(tracks: list[Track]) -> list[Track]:
    """Give tracks the ids 0, 1, ... in order of first appearance."""
    ordered = sorted(tracks, key=lambda t: (t.poses[0].frame, t.track_id))
    return [
        Track(i, [replace(p, track_id=i) for p in t.poses], t.appearance)
        for i, t in enumerate(ordered)
    ]


def run_tracker(tracker: Tracker, frames: Iterable[Frame]) -> list[Track]:
    """Step ``tracker`` through ``frames`` and return its tracks."""
    try:
        for frame in frames:
            tracker.step(frame)
    finally:
        tracker.close()
    return tracker.tracks()
