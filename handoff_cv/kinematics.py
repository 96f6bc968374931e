"""Kinematics stage: tracks in, clean trajectories, positions and speeds out.

For each track, on the clip's frame grid:

1. identity repair: where two tracks swap identities while overlapping (a tracker's classic
   failure at the pass), the swap shows as a jump of both bodies; the rest is swapped back;
2. gap policy: gaps up to ``max_gap_s`` are interpolated, longer ones stay empty;
3. outliers: a Hampel filter replaces samples far from the running median;
4. low-pass: a zero-phase Butterworth filter whose cut-off follows the real frame rate;
5. left/right consistency (MediaPipe mixes the sides of a side-on athlete): per limb
   group, a two-state Viterbi pass picks the labelling that moves least between frames; then
   geometry fixes the whole: a runner seen moving left to right shows the camera their right
   side, so the near side (smaller depth, more visible) must be labelled right;
6. positions: along-track metres from a zone calibration (ground homography), or from body
   size in pixels and an assumed stature (an estimate, flagged as such); speeds from them.

Raw values are kept next to filtered ones.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields, replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter
from scipy.signal import butter, filtfilt

from handoff_cv.calibration import ZoneCalibration
from handoff_cv.pose import LANDMARK_INDEX, LANDMARK_NAMES, N_LANDMARKS
from handoff_cv.settings import ExchangeSettings, FilterSettings

SIDE_PAIRS = [(i, LANDMARK_NAMES.index(n.replace("left", "right")))
              for i, n in enumerate(LANDMARK_NAMES) if n.startswith("left")]  # fmt: skip
LIMB_GROUPS = {
    "arms": ["shoulder", "elbow", "wrist", "pinky", "index", "thumb"],
    "legs": ["hip", "knee", "ankle", "heel", "foot_index"],
    "face": ["eye_inner", "eye", "eye_outer", "ear", "mouth"],
}
PositionSource = Literal["hips", "feet", "stature"]
SEGMENT_FRACTION = 0.288 + 0.245 + 0.246  # trunk + thigh + shank, of stature
_I = LANDMARK_INDEX


def _pairs(group: str) -> list[tuple[int, int]]:
    parts = LIMB_GROUPS[group]
    out = []
    for part in parts:
        left = f"left_{part}" if part != "mouth" else "mouth_left"
        right = f"right_{part}" if part != "mouth" else "mouth_right"
        out.append((_I[left], _I[right]))
    return out


@dataclass
class TrackKinematics:
    """One runner's cleaned motion on the clip's frame grid (NaN where unseen)."""

    track_id: int
    frames: np.ndarray
    times: np.ndarray
    raw_xy: np.ndarray  # (n, 33, 2) as tracked (after identity repair)
    xy: np.ndarray  # (n, 33, 2) cleaned, filtered, sides consistent
    fine_xy: np.ndarray  # (n, 33, 2) the same, filtered less (for timing hand contact)
    z: np.ndarray  # (n, 33)
    visibility: np.ndarray  # (n, 33)
    observed: np.ndarray  # (n,) bool: a pose was tracked in this frame
    direction: float  # +1 moving left to right in the image, -1 right to left
    body_height_px: np.ndarray  # (n,)
    position_m: np.ndarray  # (n,) along-track position of the hips' ground point
    speed_mps: np.ndarray  # (n,)
    scale_estimated: bool
    side_on: bool = True
    """Seen from the side (running across the image) rather than end-on."""
    position_source: PositionSource | None = "hips"
    """What ``position_m`` was read from: the hips through the zone's camera or along the
    lane's image, the feet's ground point (end-on), body size and an assumed stature
    (uncalibrated), or nothing (None: end-on without a zone)."""
    lane_foreshortening: float = float("nan")
    """Image length of a metre along the lane over that of a metre of body height at the
    runner: 1 side-on, smaller the more the view looks along the lane (NaN uncalibrated)."""
    sides_swapped_fraction: float = 0.0
    identity_repaired: bool = False
    lateral_m: float = float("nan")
    """Metres across the lane from its centre line (to the runner's left) where the runner
    runs: the median of the feet's ground points (NaN uncalibrated)."""
    notes: list[str] = field(default_factory=list)

    def point(self, name: str) -> np.ndarray:
        return self.xy[:, _I[name]]

    def hand(self, side: str, fine: bool = False) -> np.ndarray:
        """Hand point (between wrist and index knuckle), (n, 2) pixels; ``fine`` uses the
        lightly filtered landmarks kept for timing."""
        xy = self.fine_xy if fine else self.xy
        return (xy[:, _I[f"{side}_wrist"]] + xy[:, _I[f"{side}_index"]]) / 2

    def hip_mid(self) -> np.ndarray:
        return midpoint_px(self.xy, "hip")

    def hand_position_m(
        self, side: str, calibration: ZoneCalibration | None = None, lateral_m: float | None = None
    ) -> np.ndarray:
        """Along-track position of a hand.

        Through the calibration's camera, where the hand's line of sight meets the upright
        plane ``lateral_m`` across the lane (the runner's own line by default; for the
        baton, the hand's own line, :func:`handoff_cv.exchange.hand_line_m`). Otherwise,
        and where that line of sight runs nearly along the lane, the hips' position plus
        the hand's horizontal offset from them in the image, scaled by the body's height."""
        offset = (self.hand(side)[:, 0] - self.hip_mid()[:, 0]) * self.direction
        estimate = self.position_m + offset / self.px_per_m
        lateral = self.lateral_m if lateral_m is None else lateral_m
        if calibration is None or not self.side_on or not np.isfinite(lateral):
            return estimate
        seen = calibration.along_lane_at(self.hand(side), lateral)
        return estimate if seen is None else np.where(np.isfinite(seen), seen, estimate)

    def hand_points_m(
        self, side: str, calibration: ZoneCalibration | None, fine: bool = False
    ) -> np.ndarray | None:
        """A hand's place in track metres (n, 3), lifted out of the image with the pose
        model's depth; None without a camera or a metric position.

        The hips are put on their line of sight where it passes nearest the runner's
        place on the track (``position_m`` along, ``lateral_m`` across); the hand on its
        own line of sight, as much nearer or farther than the hips as the landmark's depth
        says (MediaPipe's ``z``: depth from the hips, in pixels of the hips' scale)."""
        camera = None if calibration is None else calibration.camera
        if camera is None or not np.isfinite(self.position_m).any():
            return None
        lateral = self.lateral_m if np.isfinite(self.lateral_m) else 0.0
        hip_ray = camera.rays(calibration.ideal(self.hip_mid()))
        to_place = np.column_stack([self.position_m, np.full(len(self.position_m), lateral)])
        to_place = to_place - camera.centre_m[:2]
        s = np.sum(to_place * hip_ray[:, :2], axis=1) / np.sum(hip_ray[:, :2] ** 2, axis=1)
        hip_depth = ((s[:, None] * hip_ray) @ camera.rotation.T)[:, 2]
        z = (self.z[:, _I[f"{side}_wrist"]] + self.z[:, _I[f"{side}_index"]]) / 2
        depth = hip_depth * (1 + z / camera.intrinsics[0, 0])
        ideal = calibration.ideal(self.hand(side, fine))
        normed = np.column_stack([ideal, np.ones(len(ideal))]) @ np.linalg.inv(camera.intrinsics).T
        return camera.centre_m + (normed * depth[:, None]) @ camera.rotation

    def step_period_s(self, at_s: float) -> float:
        """Duration (s) of one step around ``at_s``, from the legs; NaN where they do not
        alternate clearly (see :func:`step_period`)."""
        return self.step_period_over(np.abs(self.times - at_s) <= STEP_WINDOW_S)

    def step_period_over(self, frames: np.ndarray) -> float:
        """Duration (s) of one step over ``frames`` (indices or a mask), from the legs; NaN
        where they do not alternate clearly (see :func:`step_period`)."""
        legs = self.point("left_ankle")[frames] - self.point("right_ankle")[frames]
        return step_period(legs / self.body_height_px[frames, None], self.times[frames])

    @property
    def direction_is_image_x(self) -> bool:
        return self.side_on

    @property
    def px_per_m(self) -> np.ndarray:
        return self.body_height_px / self.stature_m

    stature_m: float = 1.75

    def to_frame(self) -> pd.DataFrame:
        hip = self.hip_mid()
        return pd.DataFrame(
            {
                "frame": self.frames,
                "time_s": self.times,
                "track_id": self.track_id,
                "observed": self.observed,
                "hip_x_px": hip[:, 0],
                "hip_y_px": hip[:, 1],
                "body_height_px": self.body_height_px,
                "position_m": self.position_m,
                "speed_mps": self.speed_mps,
                "position_source": self.position_source,
            }
        )


PER_FRAME = ("xy", "z", "visibility")
_EMPTY = {"xy": np.nan, "z": np.nan, "visibility": 0.0}  # "unseen" in each per-frame array


def padded_to(k: TrackKinematics, frames: np.ndarray, times: np.ndarray) -> TrackKinematics:
    """``k`` on a longer stretch of the frame grid (``frames`` holds all of ``k.frames``),
    unseen where it has no data: two runners' kinematics on one grid, as the exchange
    analysis compares them frame by frame."""
    if len(frames) == len(k.frames):
        return k
    at = np.searchsorted(frames, k.frames)
    n = len(frames)
    changes: dict = {"frames": frames, "times": times}
    for f in fields(k):
        value = getattr(k, f.name)
        if f.name in changes or not isinstance(value, np.ndarray) or len(value) != len(k.frames):
            continue
        fill = False if value.dtype == bool else _EMPTY.get(f.name, np.nan)
        padded = np.full((n, *value.shape[1:]), fill, dtype=value.dtype)
        padded[at] = value
        changes[f.name] = padded
    return replace(k, **changes)


def on_common_grid(
    a: TrackKinematics, b: TrackKinematics
) -> tuple[TrackKinematics, TrackKinematics] | None:
    """Two runners' kinematics over the union of their spans, or None when they were never
    in view together."""
    if len(a.frames) == 0 or len(b.frames) == 0:
        return None
    if a.frames[0] > b.frames[-1] or b.frames[0] > a.frames[-1]:
        return None
    frames, pick = np.unique(np.concatenate([a.frames, b.frames]), return_index=True)
    times = np.concatenate([a.times, b.times])[pick]
    return padded_to(a, frames, times), padded_to(b, frames, times)


# ------------------------------------------------------------------ table -> arrays
def frame_grid(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Every frame of the clip from the table's first to its last, and their times.

    Frames missing from the table (nobody seen, or skipped by the exchange-window-first
    scan) get times interpolated from their neighbours', so the filters, which take the
    samples as evenly spaced, see the clip's own frame rate."""
    per_frame = table.groupby("frame", observed=True).time_s.first()
    known = per_frame.index.to_numpy()
    if len(known) == 0:
        return known, per_frame.to_numpy()
    frames = np.arange(known[0], known[-1] + 1)
    return frames, np.interp(frames, known, per_frame.to_numpy())


def track_arrays(table: pd.DataFrame, frames: np.ndarray) -> dict[int, dict[str, np.ndarray]]:
    """Per track: xy (n, 33, 2), z, visibility over the track's own span of the frame grid
    (``start``: its first index in ``frames``), NaN where unseen. Spans, not the whole grid:
    a long video's many short tracks would otherwise cost tracks x frames."""
    index = {f: i for i, f in enumerate(frames)}
    out = {}
    for track_id, rows in table.groupby("track_id", observed=True, sort=True):
        rows = rows.sort_values(["frame", "landmark"])
        f = rows.frame.to_numpy().reshape(-1, N_LANDMARKS)[:, 0]
        pos = np.array([index[v] for v in f])
        start, n = int(pos.min()), int(pos.max() - pos.min() + 1)
        pos = pos - start
        xy = np.full((n, N_LANDMARKS, 2), np.nan)
        z = np.full((n, N_LANDMARKS), np.nan)
        vis = np.zeros((n, N_LANDMARKS))
        xy[pos] = rows[["x_px", "y_px"]].to_numpy(np.float64).reshape(-1, N_LANDMARKS, 2)
        z[pos] = rows.z.to_numpy(np.float64).reshape(-1, N_LANDMARKS)
        vis[pos] = rows.visibility.to_numpy(np.float64).reshape(-1, N_LANDMARKS)
        out[int(track_id)] = {"xy": xy, "z": z, "visibility": vis, "start": start}
    return out


def _on_span(track: dict, start: int, stop: int) -> dict[str, np.ndarray]:
    """A track's arrays over grid indices [start, stop), padded with 'unseen'."""
    out = {}
    for key in PER_FRAME:
        values = track[key]
        shape = (stop - start, *values.shape[1:])
        padded = np.full(shape, _EMPTY[key])
        lo, hi = max(start, track["start"]), min(stop, track["start"] + len(values))
        if hi > lo:
            padded[lo - start : hi - start] = values[lo - track["start"] : hi - track["start"]]
        out[key] = padded
    return out


def _trimmed(arrays: dict[str, np.ndarray], start: int) -> dict:
    """Arrays cut to where the track was seen (``start``: grid index of their first row)."""
    seen = np.nonzero(~np.isnan(arrays["xy"][:, 0, 0]))[0]
    if not len(seen):
        seen = np.array([0])
    lo, hi = int(seen[0]), int(seen[-1]) + 1
    return {**{k: arrays[k][lo:hi].copy() for k in PER_FRAME}, "start": start + lo}


# --------------------------------------------------------------- identity repair
SWAP_WINDOW_S = 0.25
"""A track's path is judged this long either side of a frame where it may swap."""
SWAP_REACH_S = 1.0
"""...or longer, up to this, until each track is seen on both sides of the frame: a tracker
loses both runners where they overlap and may give each the other's identity back."""
SWAP_MIN_RESIDUAL = 0.03
"""Below this rms distance (body heights) from smooth paths the two tracks do not jump."""
SWAP_GAIN = 0.3
"""Swapped tails must cut the paths' squared residuals to this fraction: a real swap makes
both paths smooth, not one a little smoother."""


def repair_identity_swaps(
    tracks: dict[int, dict[str, np.ndarray]], heights: dict[int, float], fps: float
) -> set[int]:
    """Swap back the rest of two tracks where both jump onto each other's path.

    Returns the ids of the tracks that were repaired.
    """
    repaired: set[int] = set()
    ids = sorted(tracks)
    for a_i, a in enumerate(ids):
        for b in ids[a_i + 1 :]:
            ta, tb = tracks[a], tracks[b]
            end_a, end_b = ta["start"] + len(ta["xy"]), tb["start"] + len(tb["xy"])
            if max(ta["start"], tb["start"]) >= min(end_a, end_b):
                continue  # never seen together
            start, stop = min(ta["start"], tb["start"]), max(end_a, end_b)
            pa, pb = _on_span(ta, start, stop), _on_span(tb, start, stop)
            swapped = False
            for _ in range(3):  # a pair may swap more than once
                k = _swap_frame(pa, pb, max(heights[a], heights[b]), fps)
                if k is None:
                    break
                for key in PER_FRAME:
                    tail_a = pa[key][k:].copy()
                    pa[key][k:] = pb[key][k:]
                    pb[key][k:] = tail_a
                swapped = True
            if swapped:
                tracks[a], tracks[b] = _trimmed(pa, start), _trimmed(pb, start)
                repaired |= {a, b}
    return repaired


def _swap_frame(ta, tb, height: float, fps: float) -> int | None:
    """Index from which swapping the two tracks' tails makes both paths smoothest, if it
    makes them much smoother (:data:`SWAP_GAIN`); None otherwise.

    A path is the centroid of a pose's landmarks: averaged over 33 of them it barely
    jitters, and a left/right mix-up does not move it. Around each candidate index the two
    paths, and the two made of one's head and the other's tail, are fitted with parabolas
    over :data:`SWAP_WINDOW_S` either side (longer where one of them is unseen, up to
    :data:`SWAP_REACH_S`). Each track needs to be seen only once either side: where the
    runners overlap, poses drop out for frames on end, and the swap may fall in a frame
    where only one of them was seen (a frame-by-frame test from the last two frames seen of
    both repaired 93 of the corrupted suite's 156 swapped exchanges, this 139).
    """
    ca, cb = np.nanmean(ta["xy"], axis=1), np.nanmean(tb["xy"], axis=1)
    seen = (~np.isnan(ca[:, 0]), ~np.isnan(cb[:, 0]))
    w, reach = max(3, round(SWAP_WINDOW_S * fps)), max(3, round(SWAP_REACH_S * fps))
    last_seen = [pd.Series(np.where(s, np.arange(len(s)), np.nan)).ffill().to_numpy() for s in seen]
    next_seen = [pd.Series(np.where(s, np.arange(len(s)), np.nan)).bfill().to_numpy() for s in seen]
    best, best_gain = None, 0.0
    for k in range(1, len(ca)):
        before = min(last[k - 1] for last in last_seen)  # NaN when one was never seen yet
        after = max(nxt[k] for nxt in next_seen)
        if not (k - before <= reach and after - k < reach):  # also False for NaN
            continue
        lo, hi = int(min(k - w, before)), int(max(k + w, after + 1))
        lo, hi = max(lo, 0), min(hi, len(ca))
        kept = [_path_residual(ca[lo:hi]), _path_residual(cb[lo:hi])]
        if any(r is None for r in kept):
            continue
        keep = kept[0][0] + kept[1][0]
        if np.sqrt(keep / (kept[0][1] + kept[1][1])) <= SWAP_MIN_RESIDUAL * height:
            continue  # both paths smooth here: the crossed ones need not be fitted
        crossed = [
            _path_residual(np.concatenate([ca[lo:k], cb[k:hi]])),
            _path_residual(np.concatenate([cb[lo:k], ca[k:hi]])),
        ]
        if any(r is None for r in crossed):
            continue
        swap = crossed[0][0] + crossed[1][0]
        if swap < SWAP_GAIN * keep and keep - swap > best_gain:
            best, best_gain = k, keep - swap
    return best


def _path_residual(points: np.ndarray) -> tuple[float, int] | None:
    """Sum of squared distances of a path's seen ``points`` (n, 2) from a parabola in
    time fitted through them, and how many there are (None with too few to judge)."""
    seen = ~np.isnan(points[:, 0])
    if seen.sum() < 4:
        return None
    x = np.nonzero(seen)[0].astype(float)
    basis = np.vander(x - x.mean(), 3)
    coef, *_ = np.linalg.lstsq(basis, points[seen], rcond=None)
    return float(np.sum((points[seen] - basis @ coef) ** 2)), int(seen.sum())


# -------------------------------------------------------------- gaps & filtering
def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index runs where ``mask`` is True."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True))


def fill_gaps(values: np.ndarray, times: np.ndarray, max_gap_s: float) -> np.ndarray:
    """Linearly interpolate NaN runs lasting at most ``max_gap_s`` (along axis 0)."""
    out = values.copy()
    flat = out.reshape(len(out), -1)
    missing = np.isnan(flat[:, 0])
    for start, stop in _runs(missing):
        if start == 0 or stop == len(out):
            continue
        if times[stop] - times[start - 1] > max_gap_s + 1e-9:
            continue
        w = (times[start:stop] - times[start - 1]) / (times[stop] - times[start - 1])
        flat[start:stop] = flat[start - 1] + w[:, None] * (flat[stop] - flat[start - 1])
    return out


def hampel(values: np.ndarray, window: int, sigmas: float, floor: float = 0.0) -> np.ndarray:
    """Replace samples further than ``sigmas`` robust deviations from the running median.

    The robust deviation is the running median absolute deviation, but never below
    ``floor`` (in the values' units): on smooth motion the deviation in a short window
    collapses towards zero and every turn of a swinging limb would count as an outlier
    (without it, 18-28% of the simulator's exact landmarks were replaced, and the hands'
    relative motion at the pass took the steps)."""
    if window < 3:
        return values
    window += 1 - window % 2
    out = values.copy()
    flat = out.reshape(len(out), -1)
    for col in range(flat.shape[1]):
        series = flat[:, col]
        ok = ~np.isnan(series)
        if ok.sum() < window:
            continue
        s = series[ok]
        med = median_filter(s, window, mode="nearest")
        mad = median_filter(np.abs(s - med), window, mode="nearest") * 1.4826
        bad = np.abs(s - med) > sigmas * np.maximum(mad, max(floor, 1e-6)) + 1e-9
        s[bad] = med[bad]
        series[ok] = s
    return out


def lowpass(values: np.ndarray, fps: float, cutoff_hz: float) -> np.ndarray:
    """Zero-phase Butterworth low-pass on each observed run (NaN gaps split runs)."""
    nyquist = fps / 2
    cutoff = min(cutoff_hz, 0.8 * nyquist)
    b, a = butter(2, cutoff / nyquist)
    out = values.copy()
    flat = out.reshape(len(out), -1)
    missing = np.isnan(flat).any(axis=1)
    for start, stop in _runs(~missing):
        if stop - start > 3 * max(len(a), len(b)):
            flat[start:stop] = filtfilt(b, a, flat[start:stop], axis=0)
    return out


# ------------------------------------------------------------------ left/right
def consistent_sides(
    xy: np.ndarray,
    z: np.ndarray | None = None,
    right_near: bool | None = None,
    right_on_image_right: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per limb group, the left/right labelling that moves least from frame to frame and,
    when the side facing the camera is known (``right_near``), keeps that side nearer; end-on,
    when it is known on which side of the image the runner's right is
    (``right_on_image_right``: seen from behind), keeps it there.

    Returns the relabelled landmarks and, per frame, a boolean per group (arms, legs, face)
    telling where labels were swapped.
    """
    out = xy.copy()
    swapped = np.zeros((len(xy), len(LIMB_GROUPS)), bool)
    scale = _trunk_scale(xy)
    for g, group in enumerate(LIMB_GROUPS):
        pairs = np.array(_pairs(group))
        # the group's root (shoulders, hips) tells the sides apart: a swinging wrist or foot
        # can pass behind the far side's in an oblique view, or cross the body's middle
        # end-on, the trunk does not
        li, ri = pairs[0]
        agree = None  # keeping the labels costs -agree, swapping +agree
        if z is not None and right_near is not None and group != "face":
            agree = np.nan_to_num(np.sign(z[:, li] - z[:, ri])) * (1 if right_near else -1)
        elif right_on_image_right is not None and group != "face":
            # shoulders and hips are a quarter of the stature wide seen along the lane
            apart = (xy[:, ri, 0] - xy[:, li, 0]) / (END_ON_SIDE_SPAN * scale)
            agree = np.clip(np.nan_to_num(apart), -1, 1) * (1 if right_on_image_right else -1)
        emission = None if agree is None else 0.5 * scale * agree
        flips = _viterbi_flips(xy, pairs, emission)
        swapped[:, g] = flips
        rows = np.nonzero(flips)[0]
        for li, ri in pairs:
            out[rows, li], out[rows, ri] = xy[rows, ri], xy[rows, li]
    return out, swapped


END_ON_SIDE_SPAN = 0.1
"""Seen along the lane, the left and right shoulders (hips) this far apart in the image
(fraction of stature) count fully for which side is which; nearer, in proportion."""


def _trunk_scale(xy: np.ndarray) -> float:
    sh = midpoint_px(xy, "shoulder")
    hip = midpoint_px(xy, "hip")
    value = float(np.nanmedian(np.linalg.norm(sh - hip, axis=1))) / 0.288
    return value if np.isfinite(value) else 100.0


def _viterbi_flips(xy: np.ndarray, pairs: np.ndarray, emission: np.ndarray | None = None):
    n = len(xy)
    left, right = xy[:, pairs[:, 0]], xy[:, pairs[:, 1]]
    seen = ~np.isnan(left[:, 0, 0])
    emit = np.zeros((n, 2))
    if emission is not None:
        e = np.nan_to_num(emission)
        emit[:, 0], emit[:, 1] = -e, e
    cost = np.zeros((n, 2))
    back = np.zeros((n, 2), int)
    prev = None
    for k in range(n):
        if not seen[k]:
            cost[k] = cost[k - 1] if k else 0
            back[k] = [0, 1]
            continue
        if prev is None:
            cost[k] = emit[k]
            prev = k
            continue
        lp, rp = left[prev], right[prev]
        for s in (0, 1):  # state at k: 0 as labelled, 1 swapped
            lk, rk = (left[k], right[k]) if s == 0 else (right[k], left[k])
            options = []
            for p in (0, 1):
                lq, rq = (lp, rp) if p == 0 else (rp, lp)
                move = np.nansum(np.linalg.norm(lk - lq, axis=1) + np.linalg.norm(rk - rq, axis=1))
                options.append(cost[prev, p] + move)
            back[k, s] = int(np.argmin(options))
            cost[k, s] = min(options) + emit[k, s] + (1e-3 if s else 0.0)
        for j in range(prev + 1, k):
            cost[j] = cost[prev]
            back[j] = [0, 1]
        prev = k
    flips = np.zeros(n, bool)
    state = int(np.argmin(cost[-1]))
    last_seen = np.nonzero(seen)[0]
    if len(last_seen) == 0:
        return flips
    k = last_seen[-1]
    seen_idx = list(last_seen)
    for pos in range(len(seen_idx) - 1, -1, -1):
        k = seen_idx[pos]
        flips[k] = bool(state)
        state = back[k, state] if pos > 0 else state
    return flips


def orient_sides(
    xy: np.ndarray, z: np.ndarray, visibility: np.ndarray, direction: float, side_on: bool
) -> tuple[np.ndarray, bool]:
    """Swap all left/right labels when the evidence says the whole track is mirrored.

    Side-on: a runner moving left to right shows the camera their right side, so the nearer
    side (smaller MediaPipe depth, higher visibility) must be the right. End-on: a runner
    seen from behind has their right on the image's right, from the front on its left.
    """
    pairs = np.array(_pairs("arms") + _pairs("legs"))
    li, ri = pairs[:, 0], pairs[:, 1]
    if side_on:
        right_near = np.nanmean(np.sign(z[:, li] - z[:, ri])) + np.nanmean(
            np.sign(visibility[:, ri] - visibility[:, li])
        )
        expect_right_near = direction > 0
        mirrored = (right_near > 0) != expect_right_near if abs(right_near) > 0.05 else False
    else:
        right_on_image_right = np.nanmean(np.sign(xy[:, ri, 0] - xy[:, li, 0]))
        approaching = direction  # here: +1 seen from behind, -1 from the front
        mirrored = (right_on_image_right > 0) != (approaching > 0)
    if not mirrored:
        return xy, False
    out = xy.copy()
    out[:, li], out[:, ri] = xy[:, ri], xy[:, li]
    return out, True


# ------------------------------------------------------------------- positions
def body_height_px(xy: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Stature in pixels from trunk and leg segment lengths, smoothed over ~1 s."""
    sh = midpoint_px(xy, "shoulder")
    hip = midpoint_px(xy, "hip")
    legs = []
    for s in ("left", "right"):
        thigh = np.linalg.norm(xy[:, _I[f"{s}_hip"]] - xy[:, _I[f"{s}_knee"]], axis=1)
        shank = np.linalg.norm(xy[:, _I[f"{s}_knee"]] - xy[:, _I[f"{s}_ankle"]], axis=1)
        legs.append(thigh + shank)
    length = np.linalg.norm(sh - hip, axis=1) + np.nanmax(np.stack(legs), axis=0)
    raw = length / SEGMENT_FRACTION
    ok = ~np.isnan(raw)
    if ok.sum() == 0:
        return raw
    fps = _fps(times)
    window = max(3, int(fps) | 1)
    smooth = raw.copy()
    smooth[ok] = pd.Series(raw[ok]).rolling(window, center=True, min_periods=1).median().to_numpy()
    return smooth


STEP_WINDOW_S = 0.8
"""The legs are watched this long either side of a moment to time its step."""
STEP_PERIOD_RANGE_S = (0.15, 0.5)
"""Step durations looked for: 2 to 6.7 steps a second, a jog to a sprint."""
STEP_MIN_ANTICORRELATION = 0.5
"""The legs' separation one step apart must correlate at least this negatively."""


def step_period(legs: np.ndarray, times: np.ndarray) -> float:
    """Duration (s) of one step from the separation of the ankles (n, 2), NaN if unclear.

    Each step swaps which foot is in front (or, end-on, which one is kicked up), so the
    separation reverses one step later: its autocorrelation is most negative at a lag of
    one step. That lag is looked for within ``STEP_PERIOD_RANGE_S`` and refined between
    frames with a parabola; a minimum above ``-STEP_MIN_ANTICORRELATION`` is no cadence.
    """
    ok = np.isfinite(legs).all(axis=1)
    if ok.sum() < 8:
        return float("nan")
    fps = _fps(times[ok])
    grid = np.arange(times[ok][0], times[ok][-1], 1 / fps)
    signal = np.column_stack([np.interp(grid, times[ok], legs[ok, j]) for j in range(2)])
    signal -= signal.mean(axis=0)
    power = float(np.sum(signal**2)) / len(grid)
    lags = np.arange(1, min(int(STEP_PERIOD_RANGE_S[1] * fps) + 2, len(grid) - 3))
    if power <= 0 or len(lags) < 3:
        return float("nan")
    acf = np.array([np.sum(signal[:-lag] * signal[lag:]) / (len(grid) - lag) for lag in lags])
    acf /= power
    lo, hi = np.asarray(STEP_PERIOD_RANGE_S) * fps
    candidates = np.nonzero((lags >= lo) & (lags <= hi))[0]
    if len(candidates) == 0:
        return float("nan")
    i = candidates[np.argmin(acf[candidates])]
    if acf[i] > -STEP_MIN_ANTICORRELATION:
        return float("nan")
    shift = 0.0
    if 0 < i < len(acf) - 1:
        curvature = acf[i - 1] - 2 * acf[i] + acf[i + 1]
        if curvature > 0:
            shift = 0.5 * (acf[i - 1] - acf[i + 1]) / curvature
    return float((lags[i] + shift) / fps)


def frame_interval(t: np.ndarray) -> float:
    """The clip's frame interval (s): the median step of the frame times ``t`` (1/30 s
    when there is no step to measure)."""
    return max(float(np.median(np.diff(t))), 1e-6) if len(t) > 1 else 1 / 30


def _fps(times: np.ndarray) -> float:
    dt = np.diff(times)
    dt = dt[dt > 0]
    return float(1.0 / np.median(dt)) if len(dt) else 30.0


def midpoint_px(xy: np.ndarray, part: str) -> np.ndarray:
    """Image point (n, 2) midway between the left and the right ``part`` ("hip",
    "shoulder") per frame of landmarks ``xy`` (n, 33, 2)."""
    return (xy[:, _I[f"left_{part}"]] + xy[:, _I[f"right_{part}"]]) / 2


def feet_point_px(xy: np.ndarray) -> np.ndarray:
    """Image point under the hips at the level of the lower foot."""
    hip = midpoint_px(xy, "hip")
    feet = xy[:, [_I["left_heel"], _I["right_heel"], _I["left_foot_index"],
                  _I["right_foot_index"]], 1]  # fmt: skip
    return np.stack([hip[:, 0], np.nanmax(feet, axis=1)], axis=1)


STANCE_WINDOW_S = 0.3
"""A window that holds a foot in stance whatever the stride: a sprinter's flight phase lasts
0.1-0.13 s, a step 0.21-0.3 s."""
STANCE_QUANTILE = 0.9
"""Quantile of the foot's drop over the window taken as the stance level (not the largest,
so that one frame's noise does not set it)."""
STANCE_CUTOFF_HZ = 1.5
"""The lower foot's level is low-passed at this frequency, below the step rate."""
STRIDE_WINDOW_S = 0.65
"""A window that holds one foot's stance whatever the stride: a stride (two steps) lasts
0.42-0.6 s."""
STRIDE_CUTOFF_HZ = 0.7
"""One foot's level is low-passed at this frequency, below the stride rate (1.7-2.4 Hz)."""


def ground_level_px(
    feet_y: np.ndarray,
    fps: float,
    cutoff_hz: float = STANCE_CUTOFF_HZ,
    window_s: float = STANCE_WINDOW_S,
) -> np.ndarray:
    """Image height (px, y down) of the ground under a runner from a foot's height
    ``feet_y`` per frame (by default the lower foot's): its level where the foot is in
    stance.

    Running, both feet leave the ground between steps, and end-on a foot 5 cm up puts its
    ground point half a metre too far at 30 m. So the foot's level is low-passed at
    ``cutoff_hz`` (which keeps its trend as the runner comes nearer or goes away) and raised
    by the :data:`STANCE_QUANTILE` of the foot's drop below the low-passed level over
    ``window_s``, which must hold frames in stance: a step for the lower foot, a stride for
    one foot (:data:`STRIDE_CUTOFF_HZ`, :data:`STRIDE_WINDOW_S`)."""
    series = pd.Series(feet_y)
    filled = series.interpolate(limit_area="inside").to_numpy()
    smooth = pd.Series(lowpass(filled, fps, cutoff_hz), index=series.index)
    stance = max(3, int(fps * window_s) | 1)
    drop = (series - smooth).rolling(stance, center=True, min_periods=1).quantile(STANCE_QUANTILE)
    level = smooth + drop.rolling(stance, center=True, min_periods=1).median()
    return level.where(series.notna()).to_numpy()


def lateral_place_m(xy: np.ndarray, calibration: ZoneCalibration, fps: float) -> float:
    """Metres across the lane where a runner runs: midway between the lines the left and
    the right foot stand on, each the median over the clip of that foot's ground points at
    its level in stance (:func:`ground_level_px` over a stride).

    ``xy`` should not be low-passed: smoothing lifts a foot's stance frames. The level of a
    foot in the air, or its median over the stride, would be read as ground farther from
    the camera: 10 cm up seen from 1.4 m high puts it 7% farther, and every along-lane
    distance read on that plane 7% too long. Nor does the lower foot do: it is the near
    one, and read alone put the simulators' runners 0.12 m nearer than their hips' line
    (zone times up to a frame off at 60 fps and above; docs/calibration.md). The feet are
    placed under the hips' image x: reading each at its own x was measured and dropped
    (obliquely, runner positions within 0.2 m fell from 87% to 77%)."""
    hip_x = midpoint_px(xy, "hip")[:, 0]
    lines = []
    for side in ("left", "right"):
        foot_y = np.nanmax(xy[:, [_I[f"{side}_heel"], _I[f"{side}_foot_index"]], 1], axis=1)
        level = ground_level_px(foot_y, fps, STRIDE_CUTOFF_HZ, STRIDE_WINDOW_S)
        across = calibration.to_track(np.stack([hip_x, level], axis=1))[:, 1]
        if np.isfinite(across).any():
            lines.append(np.nanmedian(across))
    return float(np.mean(lines)) if lines else float("nan")


def along_track_from_hips(
    xy: np.ndarray, calibration: ZoneCalibration, lateral_m: float
) -> np.ndarray | None:
    """Along-track position from the hips (side and oblique views).

    ``lateral_m`` is the runner's place across the lane (:func:`lateral_place_m`); the hips
    sit straight above their ground point, so the stride's up-and-down does not
    leak in. Through the calibration's camera, the hips are where their line of sight meets
    the upright plane at that lateral place (None when a fifth of them look along it:
    end-on); without one (no frame size), their image x is read along the image of that
    line on the ground, which is right only for hips at ground level (None where that
    image is not one-to-one: end-on views).
    """
    if not np.isfinite(lateral_m):
        return None
    hip = midpoint_px(xy, "hip")
    seen = calibration.along_lane_at(hip, lateral_m)
    if seen is not None:
        in_view = np.isfinite(hip[:, 0])
        if np.isfinite(seen[in_view]).mean() < 0.8:
            return None  # lines of sight along the lane: end-on
        return seen
    grid = np.arange(-60.0, 100.0, 0.02)
    line_px = calibration.to_image(np.stack([grid, np.full_like(grid, lateral_m)], axis=1))[:, 0]
    order = np.argsort(line_px)
    if not np.all(np.diff(line_px) > 0) and not np.all(np.diff(line_px) < 0):
        return None
    pos = np.interp(hip[:, 0], line_px[order], grid[order], left=np.nan, right=np.nan)
    pos[np.isnan(hip[:, 0])] = np.nan
    return pos


SPEED_CUTOFF_HZ = 4.0
"""Speeds are low-passed at this frequency."""


def positions_and_speed(
    xy: np.ndarray,
    times: np.ndarray,
    heights_px: np.ndarray,
    direction: float,
    stature_m: float,
    calibration: ZoneCalibration | None,
    cutoff_hz: float,
    lateral_m: float = float("nan"),
) -> tuple[np.ndarray, np.ndarray, PositionSource]:
    """Along-track position (m) and speed (m/s) of the hips' ground point, and what the
    position was read from; ``lateral_m`` is the runner's place across the lane
    (:func:`lateral_place_m`, calibrated only)."""
    fps = _fps(times)
    pos = None
    source: PositionSource = "hips"
    if calibration is not None:
        pos = along_track_from_hips(xy, calibration, lateral_m)
        if pos is None:  # end-on: the feet's ground point, at the level of a foot in stance
            feet = feet_point_px(xy)
            feet[:, 1] = ground_level_px(feet[:, 1], fps)
            pos = lowpass(calibration.to_track(feet)[:, 0], fps, min(cutoff_hz, 2.0))
            source = "feet"
    if pos is None:
        source = "stature"
        hip_x = midpoint_px(xy, "hip")[:, 0]
        px_per_m = heights_px / stature_m
        steps = np.diff(hip_x) * direction / ((px_per_m[1:] + px_per_m[:-1]) / 2)
        pos = np.concatenate([[0.0], np.nancumsum(steps)])
        pos[np.isnan(hip_x)] = np.nan
    speed = np.full(len(pos), np.nan)
    for start, stop in _runs(~np.isnan(pos)):
        if stop - start >= 3:
            speed[start:stop] = np.gradient(pos[start:stop], times[start:stop])
    return pos, lowpass(speed, fps, min(cutoff_hz, SPEED_CUTOFF_HZ)), source


# ------------------------------------------------------------------------ main
def track_kinematics(
    table: pd.DataFrame,
    filtering: FilterSettings,
    exchange: ExchangeSettings,
    calibration: ZoneCalibration | None = None,
) -> list[TrackKinematics]:
    """Clean every track of a landmark table and compute positions and speeds."""
    with warnings.catch_warnings():  # all-NaN frames are expected where a runner is unseen
        warnings.simplefilter("ignore", RuntimeWarning)
        return _track_kinematics(table, filtering, exchange, calibration)


def _track_kinematics(table, filtering, exchange, calibration) -> list[TrackKinematics]:
    all_frames, all_times = frame_grid(table)
    arrays = track_arrays(table, all_frames)
    fps = _fps(all_times)
    span = lambda a: slice(a["start"], a["start"] + len(a["xy"]))  # noqa: E731
    heights = {
        tid: float(np.nanmedian(body_height_px(a["xy"], all_times[span(a)])))
        for tid, a in arrays.items()
    }
    repaired = repair_identity_swaps(arrays, heights, fps)
    out = []
    for tid, a in arrays.items():
        frames, times = all_frames[span(a)], all_times[span(a)]
        observed = ~np.isnan(a["xy"][:, 0, 0])
        xy = fill_gaps(a["xy"], times, filtering.max_gap_s)
        z = fill_gaps(a["z"], times, filtering.max_gap_s)
        window = round(filtering.hampel_window_s * fps)
        floor = filtering.hampel_floor * heights[tid]
        xy = hampel(xy, window, filtering.hampel_sigmas, floor if np.isfinite(floor) else 0.0)
        direction, side_on = _direction(xy)
        right_near = _right_side_near(direction, side_on, exchange.camera_side)
        right_on_image_right = None if side_on else bool(direction > 0)  # from behind
        xy, swapped = consistent_sides(xy, z, right_near, right_on_image_right)
        z_sided = z.copy()
        for g in range(swapped.shape[1]):
            rows = np.nonzero(swapped[:, g])[0]
            for li, ri in _pairs(list(LIMB_GROUPS)[g]):
                z_sided[rows, li], z_sided[rows, ri] = z[rows, ri], z[rows, li]
        vis = a["visibility"]
        mirrored = False
        if right_near is None:  # end-on: no depth rule; the image's left and right decide
            xy, mirrored = orient_sides(xy, z_sided, vis, direction, side_on)
        if mirrored:
            z_sided = z_sided[:, _mirror_index()]
            vis = vis[:, _mirror_index()]
        smooth = lowpass(xy, fps, filtering.cutoff_hz)
        heights_px = body_height_px(smooth, times)
        stature = exchange.stature_of(tid)
        lateral = lateral_place_m(xy, calibration, fps) if calibration is not None else float("nan")
        if side_on or calibration is not None:
            pos, speed, source = positions_and_speed(smooth, times, heights_px, direction,
                                                     stature, calibration, filtering.cutoff_hz,
                                                     lateral)  # fmt: skip
        else:  # end-on without a calibration: motion along the view axis is not measurable
            pos = speed = np.full(len(times), np.nan)
            source = None
        foreshortening = (
            _foreshortening(smooth, heights_px, stature, calibration)
            if calibration is not None
            else float("nan")
        )
        kin = TrackKinematics(
            track_id=tid,
            frames=frames,
            times=times,
            raw_xy=a["xy"],
            xy=smooth,
            fine_xy=lowpass(xy, fps, filtering.contact_cutoff_hz),
            z=z_sided,
            visibility=vis,
            observed=observed,
            direction=direction,
            body_height_px=heights_px,
            position_m=pos,
            speed_mps=speed,
            scale_estimated=calibration is None,
            side_on=side_on,
            position_source=source,
            lane_foreshortening=foreshortening,
            sides_swapped_fraction=float(swapped[observed].mean()) if observed.any() else 0.0,
            identity_repaired=tid in repaired,
            lateral_m=lateral,
            stature_m=stature,
        )
        out.append(kin)
    return out


def _foreshortening(xy, heights_px, stature, calibration: ZoneCalibration) -> float:
    feet = feet_point_px(xy)
    ground = calibration.to_track(feet)
    ok = np.isfinite(ground).all(axis=1) & np.isfinite(heights_px)
    if not ok.any():
        return float("nan")
    x, y = np.median(ground[ok], axis=0)
    ends = calibration.to_image(np.array([[x - 0.5, y], [x + 0.5, y]]))
    lane_px = float(np.linalg.norm(ends[1] - ends[0]))
    return lane_px / (float(np.median(heights_px[ok])) / stature)


def _right_side_near(direction: float, side_on: bool, camera_side: str) -> bool | None:
    """Which side of a side-on runner faces the camera: the right when they run left to
    right in the image (a camera in the stands of a counter-clockwise track), the left
    otherwise. ``camera_side`` overrides the runner's own direction."""
    if not side_on:
        return None
    if camera_side == "stands":
        return True
    if camera_side == "infield":
        return False
    return direction > 0


def _mirror_index() -> np.ndarray:
    idx = np.arange(N_LANDMARKS)
    for li, ri in SIDE_PAIRS:
        idx[li], idx[ri] = ri, li
    return idx


DIRECTION_END_FRAMES = 15


def _direction(xy: np.ndarray) -> tuple[float, bool]:
    """Running direction in the image (+1 left to right) and whether the view is side-on.

    End-on, horizontal motion is small next to the change of size; then the direction
    returned is +1 when seen from behind (shrinking), -1 from the front (growing). Both are
    measured between the medians of the track's first and last tenths (at least one frame,
    at most ``DIRECTION_END_FRAMES``): a single bad pose at either end (a runner half out of
    frame, a landmarker on the other body) must not turn the runner round.
    """
    hip = midpoint_px(xy, "hip")
    shoulder = midpoint_px(xy, "shoulder")
    trunk = np.linalg.norm(shoulder - hip, axis=1)
    ok = np.isfinite(hip[:, 0]) & (trunk > 0)
    idx = np.nonzero(ok)[0]
    if len(idx) < 2:
        return 1.0, True
    end = min(max(len(idx) // 10, 1), DIRECTION_END_FRAMES)
    first, last = idx[:end], idx[-end:]
    dx = float(np.median(hip[last, 0]) - np.median(hip[first, 0]))
    growth = float(np.log(np.median(trunk[last]) / np.median(trunk[first])))
    mean_h = float(np.mean(trunk[idx]))
    if abs(dx) / mean_h > 2.0 * abs(growth) + 0.5:
        return (1.0 if dx > 0 else -1.0), True
    return (1.0 if growth < 0 else -1.0), False
