"""Exchange stage: kinematics in, one report per baton exchange out. Pure domain logic.

An exchange is two runners moving the same way whose hands come together. The runner
behind at the approach is the incoming runner (the passer); the hand pair that closes is
the passing and the receiving hand. Contact start and release are where the hand distance
reaches and leaves its floor (fitted on the closing and opening flanks, so they are
sub-frame); the transfer is taken at the middle of the contact (without seeing the baton
the grip change itself is not observable). See ``docs/exchange.md`` for every rule and
threshold.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from itertools import combinations, product
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, PrivateAttr
from scipy.optimize import least_squares

from handoff_cv.calibration import ZoneCalibration
from handoff_cv.exchange_rules import (
    SpeedMatchThresholds,
    crossing_time,
    is_legal,
    same_hand,
    speed_match_verdict,
)
from handoff_cv.holder import BatonEvidence, HolderSeries, baton_evidence, holder_series
from handoff_cv.kinematics import (
    TrackKinematics,
    feet_point_px,
    frame_interval,
    on_common_grid,
)
from handoff_cv.labels import ExchangeFields
from handoff_cv.pose import LANDMARK_INDEX as _I
from handoff_cv.settings import BatonSettings, ExchangeSettings

REPORT_SCHEMA_VERSION = "1.1"
SPEED_MATCH_WORDS = {
    "matched": "speeds matched",
    "too_early": "outgoing runner left too early",
    "too_late": "outgoing runner left too late",
}
SAME_HAND_EXPLANATION = (
    "Same-hand pass ({p} to {r}): both runners are on the same side of the lane, so the "
    "receiver's ankles can be clipped, they can collide and the baton is more often dropped. "
    "Pass from the right hand into the left, or from the left into the right."
)

HANDS_SURE = 0.5
"""Below this ``hands_confidence`` (wrist evidence only) the hands are reported as a guess:
the verdict says so and the coaching cue asks to check the replay first (docs/exchange.md)."""


def hands_unsure(r: ExchangeFields) -> bool:
    """Whether the hands were read from wrists that hardly told the hand pairs apart."""
    confidence = getattr(r, "hands_confidence", None)
    by_baton = getattr(r, "hands_evidence", None) == "baton"
    return not by_baton and confidence is not None and confidence < HANDS_SURE


class BatonSplit(BaseModel):
    """When the baton passed one mark on the track, and the time since the previous mark."""

    mark: str
    position_m: float = Field(description="The mark's place, metres from the zone start.")
    time_s: float | None = Field(
        None, description="When the baton crossed the mark (None: not seen crossing it)."
    )
    split_s: float | None = Field(
        None, description="Time since the baton crossed the previous mark (None: either unseen)."
    )


class ExchangeReport(ExchangeFields):
    """One analysed exchange: the label fields plus confidences, details and quality flags."""

    contact_confidence: float | None = None
    release_confidence: float | None = None
    transfer_confidence: float | None = None
    hands_confidence: float | None = None
    incoming_deceleration_mps2: float | None = Field(
        None, description="Mean deceleration of the incoming runner in the second before contact."
    )
    outgoing_acceleration_mps2: float | None = Field(
        None, description="Mean acceleration of the outgoing runner in the second before contact."
    )
    receiver_elbow_angle_deg: float | None = Field(
        None, description="Receiving arm's elbow angle at contact (180 = straight)."
    )
    receiver_hand_height: float | None = Field(
        None, description="Receiving hand's height at contact: 0 at the hips, 1 at the shoulders."
    )
    units_estimated: bool = Field(
        True, description="Metres and m/s come from an assumed stature, not a zone calibration."
    )
    evidence: str = Field(
        "wrists",
        description="What decided the hands and times: baton+wrists (the baton for the hands, "
        "the times or both, the wrists for the rest) or wrists (the wrists alone).",
    )
    hands_evidence: Literal["baton", "wrists"] = Field(
        "wrists",
        description="baton: both hands were seen holding the baton; wrists: inferred from the "
        "wrists' approach.",
    )
    timing_evidence: Literal["baton+wrists", "wrists"] = Field(
        "wrists",
        description="baton+wrists: the wrists' contact and release, kept within 6 frames of "
        "the baton's change of holder; wrists: the baton did not see the change.",
    )
    wrists_timed_in: Literal["image", "depth"] = Field(
        "image",
        description="Where the wrists' contact and release were measured: image (the hands in "
        "the picture) or depth (end-on, the hands lifted into track metres with the pose "
        "model's depth, used only when that depth is steady).",
    )
    baton_seen_fraction: float | None = Field(
        None, description="Fraction of the exchange window's frames where the baton was seen."
    )
    baton_splits: list[BatonSplit] = Field(
        default_factory=list,
        description="The baton at the marks on the track (zone start and end, 10 m after the "
        "zone, the go mark and other marks set in the calibration); empty without a "
        "calibration.",
    )
    quality_flags: list[str] = Field(default_factory=list)
    same_hand_explanation: str | None = None
    verdict: str = ""
    _holders: HolderSeries | None = PrivateAttr(None)

    @property
    def holders(self) -> HolderSeries | None:
        """Who held the baton in each frame around this exchange (when it was seen)."""
        return self._holders


@dataclass
class _Candidate:
    incoming: TrackKinematics
    outgoing: TrackKinematics
    frames: np.ndarray  # indices into the frame grid where hands are within approach distance


def _hand_distance(a: TrackKinematics, b: TrackKinematics, ha: str, hb: str) -> np.ndarray:
    scale = (a.body_height_px + b.body_height_px) / 2
    return np.linalg.norm(a.hand(ha) - b.hand(hb), axis=1) / scale


DEPTH_JITTER_MAX = 0.01
"""The pose model's depth is used to time an end-on pass only when the hands' depth jitters
less than this (body heights, median distance from a five-frame running median): the
simulator's depth passes; MediaPipe's, 3-8% on the rendered suite and often on the wrong
side of the body, does not (docs/exchange.md)."""


def depth_jitter(k: TrackKinematics, frames: slice) -> float:
    """How much the hands' depth (``z``) jitters in ``frames``, in body heights."""
    hands = [_I[f"{side}_{part}"] for side in ("left", "right") for part in ("wrist", "index")]
    z = k.z[frames][:, hands][k.observed[frames]]
    if len(z) < 5:
        return float("inf")
    steady = pd.DataFrame(z).rolling(5, center=True, min_periods=3).median().to_numpy()
    return float(np.nanmedian(np.abs(z - steady)) / np.nanmedian(k.body_height_px[frames]))


def _timing_motion(
    a: TrackKinematics,
    b: TrackKinematics,
    ha: str,
    hb: str,
    d: np.ndarray,
    frames: slice,
    calibration: ZoneCalibration | None,
    settings: ExchangeSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | float, str]:
    """The hands' distance (body heights), relative motion and its scale to time a pass by,
    and in which space they are measured (``image`` or ``depth``).

    Looking along the lane, the two hands overlap in the image long before they touch: the
    gap between them is in depth. When the pose model's depth is steady
    (:data:`DEPTH_JITTER_MAX`) and the camera is known, the hands are lifted into track
    metres (:meth:`TrackKinematics.hand_points_m`) and timed there."""
    image = a.hand(ha, fine=True) - b.hand(hb, fine=True)
    scale = (a.body_height_px + b.body_height_px) / 2
    if (a.side_on and b.side_on) or calibration is None:
        return d, image, scale, "image"
    if max(depth_jitter(a, frames), depth_jitter(b, frames)) > DEPTH_JITTER_MAX:
        return d, image, scale, "image"
    pa, pb = a.hand_points_m(ha, calibration), b.hand_points_m(hb, calibration)
    if pa is None or pb is None:
        return d, image, scale, "image"
    stature = (a.stature_m + b.stature_m) / 2
    lifted = np.linalg.norm(pa - pb, axis=1) / stature
    if np.isfinite(lifted[frames]).sum() < 3 or not _meet(lifted, frames, settings):
        return d, image, scale, "image"  # lifted, the hands never meet: misplaced in depth
    fine = a.hand_points_m(ha, calibration, fine=True) - b.hand_points_m(hb, calibration, True)
    return lifted, fine, stature, "depth"


def _min_hand_distance(a: TrackKinematics, b: TrackKinematics) -> np.ndarray:
    d = np.stack([_hand_distance(a, b, ha, hb) for ha, hb in product(("left", "right"), repeat=2)])
    return np.nanmin(np.where(np.isnan(d), np.inf, d), axis=0)


def _runs(mask: np.ndarray, max_gap: int) -> list[np.ndarray]:
    idx = np.nonzero(mask)[0]
    if len(idx) == 0:
        return []
    splits = np.nonzero(np.diff(idx) > max_gap + 1)[0] + 1
    return np.split(idx, splits)


def _speed_reached(k: TrackKinematics, frames: np.ndarray) -> float:
    """The speed (m/s) a runner reaches over ``frames``: the 90th percentile of their speed,
    so that one noisy frame does not set it, while a receiver who stands for most of a long
    approach (end-on, the hands look close for over a second) and starts only at its end
    still counts. Without a metric speed, the hips' mean speed across the image."""
    v = k.speed_mps[frames]
    if np.all(np.isnan(v)):  # no metric speed (end-on, uncalibrated): body heights per second
        hip = k.hip_mid()[frames]
        dt = np.ptp(k.times[frames]) or 1.0
        return float(
            np.linalg.norm(hip[-1] - hip[0])
            / np.nanmean(k.body_height_px[frames])
            / dt
            * k.stature_m
        )
    return float(np.nanpercentile(np.abs(v), 90))


def _striding(k: TrackKinematics, frames: np.ndarray) -> bool:
    """Legs swinging like a runner's around ``frames`` (whatever the camera does).

    Side-on the feet pass each other along the image's x; end-on the back foot's kick
    lifts it above the other, so the larger of the two swings counts (a walker's feet
    barely leave the ground: their vertical swing is a fifth of a runner's).
    """
    around = np.arange(max(frames[0] - 15, 0), min(frames[-1] + 15, len(k.times)))
    stride = (k.point("left_ankle")[around] - k.point("right_ankle")[around]) / k.body_height_px[
        around, None
    ]
    return bool(np.nanmax(np.nanstd(stride, axis=0)) >= 0.12)


def steps_per_second(k: TrackKinematics, frames: np.ndarray) -> float:
    """Cadence from the legs over ``frames`` (NaN where they do not alternate clearly), from
    the autocorrelation's step (:meth:`TrackKinematics.step_period_over`): counting the
    feet's crossings instead counts noise, and a frame on the median twice."""
    return 1.0 / k.step_period_over(frames)


def camera_follows(a: TrackKinematics, b: TrackKinematics, frames: np.ndarray) -> bool:
    """The camera pans with the runners: they stride at a pace that would carry them across
    the image far faster than they cross it (a step is about a body height at speed).

    Image motion then no longer measures speed, so speeds and positions are withheld.
    """
    if not (a.side_on and b.side_on):  # end-on runners barely cross the image anyway
        return False

    def crossing_speed(k: TrackKinematics) -> float:
        """Body heights a second the hips cross the image, as if seen side-on: a view
        along the lane (its foreshortening known from the calibration) shrinks them."""
        hip = k.hip_mid()[frames, 0]
        ok = np.isfinite(hip)
        if ok.sum() < 2:
            return float("inf")
        dt = float(np.ptp(k.times[frames][ok])) or 1.0
        travel = abs(float(hip[ok][-1] - hip[ok][0]))
        side_on = k.lane_foreshortening if 0 < k.lane_foreshortening < 1 else 1.0
        return travel / dt / float(np.nanmedian(k.body_height_px[frames])) / side_on

    if all(_striding(k, frames) and crossing_speed(k) < 1.0 for k in (a, b)):
        return True  # both stride like runners and neither crosses the image
    # at speed a step is ~1.1 body heights: a fixed camera sees the hips cross accordingly
    cadence = steps_per_second(a, frames)
    return bool(np.isfinite(cadence) and cadence >= 2.5 and crossing_speed(a) < 0.45 * cadence)


def _running(k: TrackKinematics, frames: np.ndarray, settings: ExchangeSettings) -> bool:
    """Moving at running speed, or striding like a runner (a panning camera hides speed).

    The slower runner of an exchange may only just have started, so half the speed counts.
    """
    return _speed_reached(k, frames) >= 0.5 * settings.min_runner_speed_mps or _striding(k, frames)


def _ahead(k: TrackKinematics, frames: np.ndarray) -> float:
    """How far along the running direction a runner is over ``frames``, comparable between
    the two runners of one pair: larger is ahead.

    Calibrated: metres on the track. Side-on: the hips' image x. End-on: the feet's height
    in the image (the ground point of the nearer runner is lower in the image); the body's
    size would mislead, as statures differ by more than the runners' depths (docs/exchange.md).
    """
    if not k.scale_estimated and np.isfinite(k.position_m[frames]).any():
        return float(np.nanmedian(k.position_m[frames]))
    if k.direction_is_image_x:
        return float(np.nanmedian(k.hip_mid()[frames, 0])) * k.direction
    # seen from behind (direction +1) the nearer runner is the one behind
    return -float(np.nanmedian(feet_point_px(k.xy[frames])[:, 1])) * k.direction


def find_candidates(kins: list[TrackKinematics], settings: ExchangeSettings) -> list[_Candidate]:
    """Pairs of runners whose hands come together while both run the same way."""
    out = []
    fps = 1 / frame_interval(kins[0].times) if kins else 30.0
    for pair in combinations(kins, 2):
        aligned = on_common_grid(*pair)
        if aligned is None:  # never in view together
            continue
        a, b = aligned
        d = _min_hand_distance(a, b)
        for window in _runs(d < settings.approach_distance, max_gap=int(0.3 * fps)):
            if (
                len(window) < 2
                or np.nanmin(d[window]) >= settings.contact_distance * MEET_TOLERANCE
            ):
                continue
            if a.direction != b.direction:
                continue
            if not (_running(a, window, settings) and _running(b, window, settings)):
                continue
            start = window[: max(3, len(window) // 3)]
            incoming, outgoing = (a, b) if _ahead(a, start) < _ahead(b, start) else (b, a)
            out.append(_Candidate(incoming, outgoing, window))
    return sorted(out, key=lambda c: c.incoming.times[c.frames[0]])


def _flank_time(t: np.ndarray, d: np.ndarray, floor: float, top: float, closing: bool):
    """Where the closing (or opening) flank of the hand distance meets its floor.

    A line is fitted to the flank between 8% and 45% of the way from ``top`` down to
    ``floor`` and extended to the floor: robust to foreshortening (only the shape counts)
    and sub-frame. Returns (time or None, confidence in [0, 1]).
    """
    span = top - floor
    if span <= 0:
        return None, 0.0
    sel = (d > floor + 0.08 * span) & (d < floor + 0.45 * span)
    idx = np.nonzero(sel)[0]
    if len(idx) >= 2:
        slope, intercept = np.polyfit(t[idx], d[idx], 1)
        if (slope < 0) == closing and abs(slope) > 1e-9:
            fit = np.polyval([slope, intercept], t[idx])
            resid = float(np.sqrt(np.mean((fit - d[idx]) ** 2)))
            confidence = float(np.clip(1.0 - 4 * resid / span, 0.0, 1.0)) * min(1.0, len(idx) / 3)
            return (floor - intercept) / slope, confidence
    return None, 0.0


def _coupled_run(
    t: np.ndarray, v: np.ndarray, d: np.ndarray, lo: int, hi: int, limit: float, slack: float
):
    """The run of frames around the closest approach where the two hands move together.

    Holding one baton, the passing and receiving hands share one velocity whatever the
    view, while the hand distance in the image depends on the viewing angle. A run counts
    only where the hands come within ``slack`` of their closest approach: two hands held
    apart also share a velocity for a moment, as the runners stride in step. Returns
    (contact time, release time, confidence) or None.
    """
    low = v < limit
    bridge = max(1, round(0.03 / frame_interval(t)))
    near = np.nanmedian(d[lo:hi])
    reach = np.nanmin(d[lo:hi]) + slack
    best = None
    for run in _runs(low, max_gap=bridge):
        start, stop = max(run[0], lo), min(run[-1] + 1, hi)
        if stop - start < 2 or np.nanmean(d[start:stop]) > near:
            continue
        if not np.nanmin(d[start:stop]) <= reach:
            continue
        if best is None or stop - start > best[1] - best[0]:
            best = (start, stop)
    if best is None:
        return None
    start, stop = best
    c_t = _crossing(t, v, start - 1, start, limit)
    r_t = _crossing(t, v, stop - 1, stop, limit)
    calm = float(np.nanmean(v[start:stop])) / limit
    return c_t, r_t, float(np.clip(1.0 - calm, 0.0, 1.0))


def _crossing(t: np.ndarray, v: np.ndarray, i0: int, i1: int, level: float) -> float:
    """Time between frames i0 and i1 where v crosses level (clamped to the clip)."""
    i0, i1 = max(i0, 0), min(i1, len(t) - 1)
    if i0 == i1 or not np.isfinite(v[i0]) or not np.isfinite(v[i1]) or v[i0] == v[i1]:
        return float(t[i1])
    frac = float(np.clip((level - v[i0]) / (v[i1] - v[i0]), 0.0, 1.0))
    return float(t[i0] + frac * (t[i1] - t[i0]))


def _pair_score(
    t: np.ndarray, pa: np.ndarray, pb: np.ndarray, d: np.ndarray, scale, lo: int, hi: int
) -> float:
    """Lower for the hand pair that holds the baton.

    Holding one baton, the two hands stay together and share one velocity for the whole
    contact, whatever the view; two hands that only look close (one in front of the other,
    end-on or oblique) sweep past each other. So the score is the best
    ``HOLD_WINDOW_S`` stretch of distance ``d`` plus ``HOLD_TAU_S`` times the relative
    speed of the hands' points ``pa`` and ``pb`` (both in units of ``scale``: body heights
    in the image, statures in track metres), plus half the pair's median distance over the
    approach. On the simulator suites this picks the right pair in 99.6% of clean and 91%
    of corrupted exchanges, against 92% and 85% for the score it replaced, the median
    distance plus a small co-motion term (docs/exchange.md).
    """
    dt = frame_interval(t)
    rel = np.linalg.norm(np.gradient(pa - pb, t, axis=0), axis=1) / scale
    window = min(max(3, round(HOLD_WINDOW_S / dt)), hi - lo)
    held = pd.Series(d[lo:hi] + HOLD_TAU_S * rel[lo:hi]).rolling(window, min_periods=window).mean()
    best = float(held.min()) if held.notna().any() else float("inf")
    return best + 0.5 * float(np.nanmedian(d[lo:hi]))


def _lifted_hands(
    a: TrackKinematics,
    b: TrackKinematics,
    frames: slice,
    calibration: ZoneCalibration | None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float] | None:
    """Both runners' hands in track metres and their mean stature, where the pass is seen
    along the lane and the pose model's depth is steady enough to lift them
    (:data:`DEPTH_JITTER_MAX`); None elsewhere."""
    if (a.side_on and b.side_on) or calibration is None:
        return None
    if max(depth_jitter(a, frames), depth_jitter(b, frames)) > DEPTH_JITTER_MAX:
        return None
    hands_a = {side: a.hand_points_m(side, calibration) for side in ("left", "right")}
    hands_b = {side: b.hand_points_m(side, calibration) for side in ("left", "right")}
    if any(p is None for p in (*hands_a.values(), *hands_b.values())):
        return None
    return hands_a, hands_b, (a.stature_m + b.stature_m) / 2


def _scored_pairs(
    a: TrackKinematics,
    b: TrackKinematics,
    dist: dict[tuple[str, str], np.ndarray],
    lo: int,
    hi: int,
    calibration: ZoneCalibration | None,
    settings: ExchangeSettings,
) -> tuple[list[tuple[float, tuple[str, str]]], set[tuple[str, str]]]:
    """Every hand pair's score (:func:`_pair_score`), best first, and the pairs that met.

    Along the lane the hands overlap in the image whichever pair holds the baton: there
    the pairs are told apart in track metres when the depth can be trusted and some pair
    meets there."""
    t, frames = a.times, slice(lo, hi)
    lifted = _lifted_hands(a, b, frames, calibration)
    if lifted is not None:
        hands_a, hands_b, stature = lifted
        gaps = {(ha, hb): np.linalg.norm(hands_a[ha] - hands_b[hb], axis=1) / stature
                for ha, hb in dist}  # fmt: skip
        met = {p for p, d in gaps.items() if _meet(d, frames, settings)}
        if met:
            scores = [(_pair_score(t, hands_a[p[0]], hands_b[p[1]], gaps[p], stature, lo, hi), p)
                      for p in gaps]  # fmt: skip
            return sorted(scores), met
    scale = (a.body_height_px + b.body_height_px) / 2
    scores = [(_pair_score(t, a.hand(p[0]), b.hand(p[1]), d, scale, lo, hi), p)
              for p, d in dist.items()]  # fmt: skip
    return sorted(scores), {p for p, d in dist.items() if _meet(d, frames, settings)}


HOLD_WINDOW_S = 0.2
HOLD_TAU_S = 0.1


CONTACT_HOLD_S = 0.1
"""The contact is sought as the closest stretch of this long: the shortest handovers last
about 0.1 s (three frames at 30 fps), so the stretch never spans more than one contact."""


HAND_LINE_FRACTION = 0.125
"""A hand at the pass is this fraction of the runner's stature to its own side of the
runner's line across the lane: under the shoulder, half the shoulder breadth (about 0.13 of
stature) out from the body's middle."""


def hand_line_m(k: TrackKinematics, side: str) -> float:
    """Metres across the lane (to the runners' left) of the line ``side``'s hand moves
    along: the runner's line shifted to that hand's side (NaN where the line is unknown)."""
    return k.lateral_m + (1.0 if side == "left" else -1.0) * HAND_LINE_FRACTION * k.stature_m


def baton_hands_m(
    a: TrackKinematics,
    b: TrackKinematics,
    passing_hand: str,
    receiving_hand: str,
    calibration: ZoneCalibration | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Along-track positions (m) of the passing and the receiving hand per frame.

    Each hand is placed on its own line across the lane (:func:`hand_line_m`), the other
    hand's where its runner's line is unknown: a same-hand pass has both runners on one
    side of the lane and the baton a hand's reach from both, which a line midway between
    the runners missed by a quarter of a metre (obliquely, 0.4 m along the lane)."""
    passing_line, receiving_line = hand_line_m(a, passing_hand), hand_line_m(b, receiving_hand)
    if not np.isfinite(passing_line):
        passing_line = receiving_line
    if not np.isfinite(receiving_line):
        receiving_line = passing_line
    return (
        a.hand_position_m(passing_hand, calibration, passing_line),
        b.hand_position_m(receiving_hand, calibration, receiving_line),
    )


MEET_TOLERANCE = 1.8
"""Two hands count as having met when they come within this many times
``contact_distance``: a pose model's wrists at the pass, hands on either end of the baton
and one hand half hidden, are seldom as close as the hands are."""


def _meet(d: np.ndarray, frames: slice, settings: ExchangeSettings) -> bool:
    """Whether two hands ``d`` apart (body heights, per frame) come into contact."""
    seg = d[frames]
    return bool(
        np.isfinite(seg).any() and np.nanmin(seg) < MEET_TOLERANCE * settings.contact_distance
    )


def _contact_window(
    d: np.ndarray, lo: int, hi: int, pad: int, hold: int = 1, seen: np.ndarray | None = None
):
    """Frames of the hands-together plateau, its floor and the flanks' tops.

    The plateau is sought around the lowest ``hold``-frame stretch of ``d`` in frames where
    both runners were ``seen``, not its lowest frame: as a runner leaves the picture or two
    bodies tangle, one frame's landmarks (or a gap filled between two) can put two hands
    together that never held the baton together."""
    seg = d[lo:hi]
    measured = seg if seen is None else np.where(seen[lo:hi], seg, np.nan)
    need = max(1, (2 * hold) // 3)
    held = pd.Series(measured).rolling(hold, min_periods=need, center=True).mean()
    if held.notna().any():  # the lowest frame seen inside that stretch
        start = max(int(held.idxmin()) - hold // 2, 0)
        stretch = measured[start : start + hold]
        i_min = lo + start + int(np.nanargmin(stretch))
    else:
        i_min = lo + int(np.nanargmin(seg))
    floor0 = float(d[i_min])
    before = d[max(i_min - pad, 0) : i_min + 1]
    after = d[i_min : min(i_min + pad + 1, len(d))]
    top_before = float(np.nanmax(before))
    top_after = float(np.nanmax(after))
    limit = floor0 + 0.2 * min(top_before - floor0, top_after - floor0)
    c0 = i_min
    while c0 - 1 >= max(i_min - pad, 0) and d[c0 - 1] <= limit:
        c0 -= 1
    c1 = i_min
    while c1 + 1 < min(i_min + pad + 1, len(d)) and d[c1 + 1] <= limit:
        c1 += 1
    floor = float(np.nanmedian(d[c0 : c1 + 1]))
    return c0, c1, floor, top_before, top_after


@dataclass(frozen=True)
class _WristTiming:
    """Contact and release read off the hands' motion, with their confidences, and the
    frames of the hands-together plateau they were looked for around."""

    contact_s: float
    release_s: float
    contact_confidence: float
    release_confidence: float
    plateau: tuple[int, int]


def _wrist_timing(
    t: np.ndarray,
    d: np.ndarray,
    rel: np.ndarray,
    scale: np.ndarray | float,
    lo: int,
    hi: int,
    seen: np.ndarray,
    settings: ExchangeSettings,
) -> _WristTiming:
    """Contact and release from the hands' distance ``d`` and relative motion ``rel``
    (in units of ``scale``) over frames ``lo:hi``: where the hands move together
    (:func:`_coupled_run`), else where their distance reaches and leaves its floor."""
    dt = frame_interval(t)
    pad = round(0.4 / dt)
    hold = max(1, round(CONTACT_HOLD_S / dt))
    c0, c1, floor, top_before, top_after = _contact_window(d, lo, hi, pad, min(hold, hi - lo), seen)
    rel_speed = np.linalg.norm(np.gradient(rel, t, axis=0), axis=1) / scale
    coupled = _coupled_run(
        t, rel_speed, d, lo, hi, settings.coupled_speed, settings.contact_distance
    )
    if coupled is not None:
        contact_s, release_s, conf = coupled
        return _WristTiming(contact_s, release_s, conf, conf, (c0, c1))
    before = slice(max(c0 - pad, 0), c0 + 1)
    after = slice(c1, min(c1 + pad + 1, len(t)))
    contact_s, c_conf = _flank_time(t[before], d[before], floor, top_before, True)
    release_s, r_conf = _flank_time(t[after], d[after], floor, top_after, False)
    contact_s = float(
        np.clip(contact_s if contact_s is not None else t[c0], t[max(c0 - 1, 0)], t[c0])
    )
    release_s = float(
        np.clip(release_s if release_s is not None else t[c1], t[c1], t[min(c1 + 1, len(t) - 1)])
    )
    return _WristTiming(contact_s, release_s, c_conf, r_conf, (c0, c1))


def _speed_match(
    a: TrackKinematics,
    b: TrackKinematics,
    gap: np.ndarray,
    contact_s: float,
    transfer_s: float,
    settings: ExchangeSettings,
) -> str | None:
    """The speed-matching verdict over the ``window_s`` before contact (None when fewer
    than three frames there have both speeds and the gap)."""
    t = a.times
    window = (t >= contact_s - settings.window_s) & (t <= transfer_s)
    ok = window & np.isfinite(a.speed_mps) & np.isfinite(b.speed_mps) & np.isfinite(gap)
    if window.sum() < 3 or ok.sum() < 3:
        return None
    thresholds = SpeedMatchThresholds(settings.brake_mps, settings.growing_s, settings.window_s)
    return speed_match_verdict(
        t[ok],
        np.abs(a.speed_mps[ok]),
        np.abs(b.speed_mps[ok]),
        gap[ok],
        contact_s,
        transfer_s,
        thresholds,
    )


@dataclass(frozen=True)
class _BatonOnTrack:
    """Where the baton was on the track: at contact and release, its splits and zone
    time, and whether the pass was legal (all None without a calibration)."""

    contact_m: float | None = None
    release_m: float | None = None
    zone_time_s: float | None = None
    legal: bool | None = None
    splits: list[BatonSplit] = field(default_factory=list)


def _baton_on_track(
    a: TrackKinematics,
    b: TrackKinematics,
    passing_hand: str,
    receiving_hand: str,
    times_s: tuple[float, float, float],
    calibration: ZoneCalibration,
) -> _BatonOnTrack:
    """The baton placed on the track: in the passing hand until the transfer, in the
    receiving hand after; ``times_s`` are the contact, transfer and release."""
    contact_s, transfer_s, release_s = times_s
    t = a.times
    passing, receiving = baton_hands_m(a, b, passing_hand, receiving_hand, calibration)
    contact_m = _interp(t, passing, contact_s)
    release_m = _interp(t, receiving, release_s)
    baton = np.where(t < transfer_s, passing, receiving)
    return _BatonOnTrack(
        contact_m=contact_m,
        release_m=release_m,
        zone_time_s=_zone_time(t, baton, calibration.zone_length_m),
        legal=is_legal(contact_m, release_m, calibration.zone_length_m),
        splits=baton_splits(t, baton, calibration.marks),
    )


def _quality_flags(
    a: TrackKinematics,
    b: TrackKinematics,
    passing_hand: str,
    receiving_hand: str,
    contact: slice,
    panning: bool,
    scale_estimated: bool,
) -> list[str]:
    """The report's quality flags: the hands half hidden over the ``contact`` frames, an
    identity repaired, a moving camera, or distances from an assumed stature."""
    flags = []
    hands_vis = np.nanmean(
        [
            a.visibility[contact, _I[f"{passing_hand}_wrist"]],
            b.visibility[contact, _I[f"{receiving_hand}_wrist"]],
        ]
    )
    if hands_vis < 0.5:
        flags.append("low_visibility")
    if a.identity_repaired or b.identity_repaired:
        flags.append("identity_uncertain")
    if panning:
        flags.append("camera_moving")
    elif scale_estimated:
        flags.append("scale_estimated")
    return flags


BATON_WINDOW_S = 2.0  # the holder is followed this long either side of the hands' approach


@dataclass(frozen=True)
class BatonInput:
    """The baton's sightings in a clip and how to read them."""

    sightings: pd.DataFrame
    settings: BatonSettings


def _baton_holder(
    baton: BatonInput,
    a: TrackKinematics,
    b: TrackKinematics,
    approach_s: tuple[float, float],
    bounds_s: tuple[float, float],
) -> tuple[HolderSeries | None, BatonEvidence | None]:
    """The baton's holder over both runners' tracks within ``bounds_s``, and the evidence
    on hands and timing read from the holder model fitted within ``BATON_WINDOW_S`` of the
    hands' approach alone: fitted over whole tracks, an identity swap far from the pass
    moved its reading (docs/baton.md)."""
    window = (approach_s[0] - BATON_WINDOW_S, approach_s[1] + BATON_WINDOW_S)
    near = holder_series(baton.sightings, a, b, window, baton.settings)
    evidence = baton_evidence(near, baton.settings) if near is not None else None
    whole = holder_series(baton.sightings, a, b, bounds_s, baton.settings)
    if whole is None:
        return near, evidence
    return (whole.around(near) if near is not None else whole), evidence


def analyse_candidate(
    cand: _Candidate,
    exchange_id: int,
    settings: ExchangeSettings,
    calibration: ZoneCalibration | None,
    baton: BatonInput | None = None,
    frame_size: tuple[int, int] | None = None,
    holder_bounds_s: tuple[float, float] = (-np.inf, np.inf),
) -> ExchangeReport | None:
    """One candidate pass read whole, or None when no two hands ever met. The baton's
    holder is followed over both runners' tracks within ``holder_bounds_s`` (the passes
    before and after bound it); the baton's evidence on hands and timing is read within
    ``BATON_WINDOW_S`` of the hands' approach."""
    a, b = cand.incoming, cand.outgoing
    t = a.times
    gap = _gap(a, b, calibration)
    lo, hi = reachable_span(gap, t, cand.frames[0], cand.frames[-1] + 1)
    pairs = list(product(("left", "right"), repeat=2))
    dist = {p: _hand_distance(a, b, *p) for p in pairs}
    # the best-scored pair of hands that ever met: the pair nearest over the whole
    # approach can be one that never touches when the receiver reaches back late
    scores, met = _scored_pairs(a, b, dist, lo, hi, calibration, settings)
    if not met:
        return None  # no two hands ever met
    best_d, (ha, hb) = next((score, p) for score, p in scores if p in met)
    second_d = min(score for score, p in scores if p != (ha, hb))
    hands_conf = float(np.clip((second_d - best_d) / max(second_d, 1e-6), 0, 1))
    series = evidence = None
    if baton is not None:
        series, evidence = _baton_holder(baton, a, b, (t[lo], t[hi - 1]), holder_bounds_s)
    hands_by = "wrists"
    # the hands that met in the image time the pass, whatever the baton names them: where
    # it names others, one runner's wrists are mislabelled and the pair it names never met
    # (blind_right_to_left: timed 8 frames late through the pair the baton named)
    met_a, met_b = ha, hb
    if evidence is not None and evidence.passing_hand and evidence.receiving_hand:
        # only both together: one hand alone, read through a pose model's wrists, proved
        # wrong too often end to end (docs/baton.md)
        ha, hb, hands_by = evidence.passing_hand, evidence.receiving_hand, "baton"
        hands_conf = evidence.hands_confidence or 0.0
    d, rel, scale, timed_in = _timing_motion(
        a, b, met_a, met_b, dist[(met_a, met_b)], slice(lo, hi), calibration, settings
    )
    wrists = _wrist_timing(t, d, rel, scale, lo, hi, a.observed & b.observed, settings)
    contact_s, release_s = wrists.contact_s, wrists.release_s
    c_conf, r_conf = wrists.contact_confidence, wrists.release_confidence
    timing = "wrists"
    if evidence is not None:
        contact_s, release_s, timing = _baton_timing(evidence, contact_s, release_s, t)
    transfer_s = (contact_s + release_s) / 2
    frame_of = lambda s: int(a.frames[int(np.argmin(np.abs(t - s)))])  # noqa: E731

    around = np.nonzero((t >= contact_s - 1.0) & (t <= release_s + 0.2))[0]
    panning = camera_follows(a, b, around) if len(around) > 2 else False
    v_in = speed_at(a, transfer_s)
    v_out = speed_at(b, transfer_s)
    if panning:  # image motion is the camera's too: no speed, place or verdict from it
        v_in = v_out = float("nan")
        gap = np.full(len(t), np.nan)
        calibration = None
    if calibration is not None and not within_reach(a, b, gap, t, contact_s, release_s):
        return None
    if leaves_picture(a, release_s, frame_size) or leaves_picture(b, release_s, frame_size):
        return None
    verdict = None
    if np.isfinite(v_in) and np.isfinite(v_out):
        verdict = _speed_match(a, b, gap, contact_s, transfer_s, settings)
    on_track = (
        _baton_on_track(a, b, ha, hb, (contact_s, transfer_s, release_s), calibration)
        if calibration is not None
        else _BatonOnTrack()
    )
    c0, c1 = wrists.plateau
    flags = _quality_flags(a, b, ha, hb, slice(c0, c1 + 1), panning, calibration is None)
    same = same_hand(ha, hb)
    report = ExchangeReport(
        exchange_id=exchange_id,
        incoming_track_id=a.track_id,
        outgoing_track_id=b.track_id,
        passing_hand=ha,
        receiving_hand=hb,
        same_hand=same,
        contact_start_s=contact_s,
        transfer_s=transfer_s,
        release_s=release_s,
        contact_start_frame=frame_of(contact_s),
        transfer_frame=frame_of(transfer_s),
        release_frame=frame_of(release_s),
        incoming_speed_mps=_finite(v_in),
        outgoing_speed_mps=_finite(v_out),
        speed_ratio=_finite(v_out / v_in) if np.isfinite(v_in) and v_in > 0 else None,
        speed_match=verdict,
        free_distance_m=_finite(_interp(t, gap, transfer_s)),
        baton_contact_position_m=_finite(on_track.contact_m),
        baton_release_position_m=_finite(on_track.release_m),
        legal=on_track.legal,
        baton_zone_time_s=on_track.zone_time_s,
        baton_splits=on_track.splits,
        pass_style=_pass_style(b, contact_s),
        pass_type=None,
        receiver_hand_switch=_hand_switch(b, release_s)
        if evidence is None or evidence.receiver_hand_switch is None
        else evidence.receiver_hand_switch,
        dropped=bool(evidence and evidence.dropped),
        contact_confidence=round(c_conf, 3),
        release_confidence=round(r_conf, 3),
        transfer_confidence=round(min(c_conf, r_conf), 3),
        hands_confidence=round(hands_conf, 3),
        incoming_deceleration_mps2=_finite(-_slope(t, np.abs(a.speed_mps), contact_s)),
        outgoing_acceleration_mps2=_finite(_slope(t, np.abs(b.speed_mps), contact_s)),
        units_estimated=calibration is None,
        hands_evidence=hands_by,
        timing_evidence=timing,
        wrists_timed_in=timed_in,
        evidence=_evidence_summary(hands_by, timing),
        baton_seen_fraction=None if evidence is None else round(evidence.seen_fraction, 3),
        quality_flags=flags,
        same_hand_explanation=SAME_HAND_EXPLANATION.format(p=ha, r=hb) if same else None,
    )
    height, elbow = _receiving_arm(b, hb, frame_of(contact_s))
    report.receiver_hand_height = _finite(height)
    report.receiver_elbow_angle_deg = _finite(elbow)
    report.pass_type = _pass_type(height)
    report.verdict = one_line_verdict(report)
    report._holders = series
    return report


def _baton_timing(
    evidence: BatonEvidence, contact_s: float, release_s: float, t: np.ndarray
) -> tuple[float, float, str]:
    """Contact and release from the wrists, each moved to within ``BATON_SLACK_FRAMES`` of
    the interval where the baton's holder changed when it lies further off. The baton's
    interval itself is not used as the time: its change of holder comes about a frame early
    at contact and one to three late at release (a hand within the hold distance before it
    touches, the passer's hand leaving slowly), and with true landmarks the wrists alone
    time the transfer within a frame twice as often (docs/baton.md). Where the two disagree
    by more than ``MAX_BATON_SHIFT_S`` one of them is wrong (an identity swapped, a shoe
    taken for the baton): the wrists' time stands."""
    slack = BATON_SLACK_FRAMES * frame_interval(t)
    used = 0
    times = []
    for wrist_s, window in (
        (contact_s, evidence.contact_window_s),
        (release_s, evidence.release_window_s),
    ):
        moved = (
            wrist_s
            if window is None
            else float(np.clip(wrist_s, window[0] - slack, window[1] + slack))
        )
        if window is None or abs(moved - wrist_s) > MAX_BATON_SHIFT_S:
            times.append(wrist_s)
            continue
        times.append(moved)
        used += 1
    contact, release = times
    if release < contact:
        contact = release = (contact + release) / 2
    return contact, release, "baton+wrists" if used else "wrists"


MAX_BATON_SHIFT_S = 0.25
BATON_SLACK_FRAMES = 6
"""How far (frames) the wrists' time may lie from the baton's change of holder; chosen on
the rendered suite (0: within 1 frame 42.5% with true poses, end to end within 3 frames
34.4%; 3: 60.0%, 37.5%; 6: 67.5%, 43.8%; never moved: 82.5%, 37.5%)."""


def _evidence_summary(hands: str, timing: str) -> str:
    return "wrists" if hands == timing == "wrists" else "baton+wrists"


SPEED_FIT_S = 0.35
SPEED_FIT_SCALE_M = 0.1
SPEED_OUTLIER_M = 0.1


def speed_at(k: TrackKinematics, at_s: float) -> float:
    """A runner's speed (m/s) at ``at_s``, read off their filtered speed curve unless their
    positions nearby are off their path or missing.

    At the pass a landmarker can sit on the other runner for a few frames, about a metre
    away, or lose the runner; differentiated and low-pass filtered, such frames (or the gap
    filled between them) bend the speed curve for a quarter second either side. So a
    parabola is fitted to the positions in the frames the runner was seen within
    ``SPEED_FIT_S``, with a soft-L1 loss that stops weighing a position more than
    ``SPEED_FIT_SCALE_M`` off it. When a position lies more than ``SPEED_OUTLIER_M`` off
    the fit, or a frame in the window was not seen, the fit's slope is the speed. Otherwise
    the curve is read: it follows the incoming runner's braking after the release, which a
    parabola through 0.7 s smooths over (measured: docs/exchange.md); end-on, as its mean
    over the step around ``at_s`` (:func:`_step_mean`).
    """
    curve = _step_mean(k, at_s)
    near = np.abs(k.times - at_s) <= SPEED_FIT_S
    seen = near & k.observed & np.isfinite(k.position_m)
    if seen.sum() < 5:
        return curve
    x, y = k.times[seen] - at_s, k.position_m[seen]
    fit = least_squares(
        lambda c: np.polyval(c, x) - y,
        np.polyfit(x, y, 2),
        loss="soft_l1",
        f_scale=SPEED_FIT_SCALE_M,
    )
    off_path = np.max(np.abs(fit.fun)) > SPEED_OUTLIER_M or bool((near & ~k.observed).any())
    return float(abs(fit.x[1])) if off_path else curve


def _step_mean(k: TrackKinematics, at_s: float) -> float:
    """A runner's speed curve at ``at_s``; end-on, averaged over the step around it (where
    the step can be timed).

    End-on, positions are read off the feet's ground point, which jumps from one foot to
    the next: the curve swings by up to a fifth of the speed at the step's rhythm, and its
    mean over one step is the running speed. Read off the hips (side and oblique views) the
    curve barely swings, and a step's mean only blurs the changes of speed at the pass
    (the incoming runner's braking: measured, docs/exchange.md), so it is read at ``at_s``."""
    speed = np.abs(k.speed_mps)
    if k.position_source != "feet":
        return _interp(k.times, speed, at_s)
    step = k.step_period_s(at_s)
    at = at_s + np.linspace(-step, step, 21) / 2 if np.isfinite(step) else [at_s]
    samples = [_interp(k.times, speed, t) for t in at]
    if not np.all(np.isfinite(samples)):  # the step runs off the seen stretch
        return _interp(k.times, speed, at_s)
    return float(np.mean(samples))


def _finite(v) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def _interp(t: np.ndarray, y: np.ndarray, at: float) -> float:
    ok = np.isfinite(y)
    if ok.sum() < 2 or at < t[ok][0] or at > t[ok][-1]:
        return float("nan")
    return float(np.interp(at, t[ok], y[ok]))


def _slope(t: np.ndarray, v: np.ndarray, until: float) -> float:
    sel = (t >= until - 1.0) & (t <= until) & np.isfinite(v)
    if sel.sum() < 3:
        return float("nan")
    return float(np.polyfit(t[sel], v[sel], 1)[0])


MAX_PASS_GAP_M = 2.5
"""Farthest apart along the lane (hips, metres) two runners can be and hand a baton over:
two arms' reach is about 1.5 m; the rest is room for positions read off the feet end-on."""
MAX_LANE_GAP_M = 1.5
"""Farthest apart across the lane (metres) two runners can be and hand a baton over: more
than a lane's width (1.22 m), so one of them runs in another lane."""
REACH_PAD_S = 0.2
"""The runners' gap along the lane is looked at this long either side of the contact."""


def within_reach(
    a: TrackKinematics,
    b: TrackKinematics,
    gap_m: np.ndarray,
    t: np.ndarray,
    contact_s: float,
    release_s: float,
) -> bool:
    """Whether two runners placed on the track were ever near enough to pass a baton
    around its contact: in one lane (:data:`MAX_LANE_GAP_M`) and, along it, within
    :data:`MAX_PASS_GAP_M` at some frame of the contact padded by :data:`REACH_PAD_S`.

    Hands meet in the image far more often than on the track: end-on a runner 3-18 m behind
    another has hands that overlap the other's, and a person in the next lane passes
    within reach in the image. Unknown places (NaN) rule nothing out."""
    lines = np.array([a.lateral_m, b.lateral_m])
    if np.all(np.isfinite(lines)) and abs(lines[0] - lines[1]) > MAX_LANE_GAP_M:
        return False
    near = (t >= contact_s - REACH_PAD_S) & (t <= release_s + REACH_PAD_S) & np.isfinite(gap_m)
    return not near.any() or float(np.min(np.abs(gap_m[near]))) <= MAX_PASS_GAP_M


ARMS_REACH_M = 1.5
"""Two arms' reach along the lane (hips, metres): the runners come this near at a pass."""


def reachable_span(gap_m: np.ndarray, t: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """The frames ``lo:hi`` narrowed to the stretch where the runners are within
    :data:`MAX_PASS_GAP_M` of each other along the track (padded by :data:`REACH_PAD_S`)
    and come within :data:`ARMS_REACH_M`: the one where they come nearest, when there are
    several; ``lo:hi`` whole when their places are unknown or never that near.

    End-on, one runner's hands overlap the other's in the image from the moment both are
    followed, seconds before the pass: the closest hands of that whole stretch can be
    metres apart on the track (``rendered_0016``: hands read met 1.3 s early, then
    rejected as out of reach). A stretch that never comes within arm's reach is left for
    :func:`within_reach` to judge whole (``corrupted_0018``: 2.4 m at the nearest, hands
    overlapping in the image, 5 s before the pass)."""
    gap = np.abs(gap_m[lo:hi])
    if not (np.isfinite(gap) & (gap <= ARMS_REACH_M)).any():
        return lo, hi
    pad = round(REACH_PAD_S / frame_interval(t))
    near = ~(gap > MAX_PASS_GAP_M)  # unknown places rule nothing out
    runs = [r for r in _runs(near, max_gap=pad) if np.nanmin(gap[r]) <= ARMS_REACH_M]
    nearest = int(np.nanargmin(gap))
    run = min(runs, key=lambda r: 0 if r[0] <= nearest <= r[-1] else min(abs(r - nearest)))
    return max(lo, lo + int(run[0]) - pad), min(hi, lo + int(run[-1]) + pad + 1)


SEEN_AFTER_RELEASE_S = 0.1
"""A runner last seen sooner than this after the release, at the picture's edge, left it."""
EDGE_FRACTION = 0.01
"""Landmarks this close to the picture's border (fraction of its size) are at its edge."""


def leaves_picture(
    k: TrackKinematics, release_s: float, frame_size: tuple[int, int] | None
) -> bool:
    """Whether a runner leaves the picture as the pass is read: last seen less than
    :data:`SEEN_AFTER_RELEASE_S` after the release, with landmarks at or past the border.

    A camera framed for one spot sees a later pass at the picture's edge: the hands look met
    in the runners' last frames, but neither the release nor the baton's place can be read,
    and the pass is not one the clip shows (the simulator's labels leave it out too). On the
    corrupted suite two such passes were reported, their runner leaving 0.03-0.07 s after
    the release read. A track that merely ends (a tracker giving the runner a new identity at
    the pass) is kept: asking every runner to be seen 0.1 s after the release lost 4 of the
    rendered suite's 30 found exchanges."""
    seen = np.nonzero(k.observed)[0]
    if frame_size is None or not len(seen) or k.times[seen[-1]] >= release_s + SEEN_AFTER_RELEASE_S:
        return False
    width, height = frame_size
    x, y = k.raw_xy[seen[-1], :, 0], k.raw_xy[seen[-1], :, 1]
    margin_x, margin_y = EDGE_FRACTION * width, EDGE_FRACTION * height
    return bool(
        np.nanmin(x) < margin_x
        or np.nanmax(x) > width - margin_x
        or np.nanmin(y) < margin_y
        or np.nanmax(y) > height - margin_y
    )


def _gap(a: TrackKinematics, b: TrackKinematics, calibration) -> np.ndarray:
    """Hip-to-hip distance along the track (m), outgoing ahead positive."""
    if calibration is not None:
        return (b.position_m - a.position_m) * 1.0
    px_per_m = (a.px_per_m + b.px_per_m) / 2
    if a.direction_is_image_x:
        return (b.hip_mid()[:, 0] - a.hip_mid()[:, 0]) * a.direction / px_per_m
    return np.full(len(a.times), np.nan)


def _crossings(t: np.ndarray, baton_m: np.ndarray, lines_m: list[float]) -> list[float | None]:
    """When the baton first crossed each line; its position only counts forward (the
    running maximum), so a hand swinging back over a line does not cross it twice."""
    ok = np.isfinite(baton_m)
    if ok.sum() < 2:
        return [None] * len(lines_m)
    run = np.maximum.accumulate(baton_m[ok])
    return [crossing_time(t[ok], run, x) for x in lines_m]


def _zone_time(t: np.ndarray, baton_m: np.ndarray, zone_length: float) -> float | None:
    start, end = _crossings(t, baton_m, [0.0, zone_length])
    return None if start is None or end is None else end - start


def baton_splits(
    t: np.ndarray, baton_m: np.ndarray, marks: tuple[tuple[str, float], ...]
) -> list[BatonSplit]:
    """The baton's crossing time at each mark (ordered along the lane) and the split from
    the previous one, as photocell relay timing gives them; a mark out of view has none."""
    times = _crossings(t, baton_m, [x for _, x in marks])
    splits, previous = [], None
    for (name, x), time in zip(marks, times, strict=True):
        split = None if time is None or previous is None else time - previous
        splits.append(BatonSplit(mark=name, position_m=x, time_s=time, split_s=split))
        previous = time
    return splits


def _pass_style(b: TrackKinematics, contact_s: float) -> str | None:
    sel = (b.times >= contact_s - 0.8) & (b.times <= contact_s)
    if sel.sum() == 0:
        return None
    nose = b.point("nose")[sel]
    ears = (b.point("left_ear")[sel] + b.point("right_ear")[sel]) / 2
    height = b.body_height_px[sel]
    if b.direction_is_image_x:
        facing = (nose[:, 0] - ears[:, 0]) * b.direction / height
        back = np.nanmean(facing < -0.01)
    else:
        ear_z = (b.z[sel, _I["left_ear"]] + b.z[sel, _I["right_ear"]]) / 2
        toward_camera = ear_z - b.z[sel, _I["nose"]] > 0
        back = np.nanmean(toward_camera == (b.direction > 0))
    return "visual" if back > 0.5 else "blind"


def _receiving_arm(b: TrackKinematics, hand: str, frame: int) -> tuple[float, float]:
    k = int(np.argmin(np.abs(b.frames - frame)))
    sh, el, wr = (b.xy[k, _I[f"{hand}_{p}"]] for p in ("shoulder", "elbow", "wrist"))
    hip = b.xy[k, _I[f"{hand}_hip"]]
    hand_pt = b.hand(hand)[k]
    height = (hip[1] - hand_pt[1]) / max(hip[1] - sh[1], 1e-6)
    u, v = sh - el, wr - el
    cos = np.dot(u, v) / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-9)
    return float(height), float(np.degrees(np.arccos(np.clip(cos, -1, 1))))


def _pass_type(height: float) -> str | None:
    """Receiving hand low (near the hips): upsweep; near shoulder height: downsweep."""
    if not np.isfinite(height):
        return None
    if height < 0.3:
        return "upsweep"
    return "push" if height < 0.68 else "downsweep"


def _hand_switch(b: TrackKinematics, release_s: float) -> bool | None:
    after = (b.times > release_s + 0.15) & (b.times <= release_s + 2.5)
    seen = after & b.observed
    if seen.sum() == 0:
        return None
    d = np.linalg.norm(b.hand("left") - b.hand("right"), axis=1) / b.body_height_px
    close = seen & (d < 0.08)
    if close.sum() >= 2:
        return True
    span = np.ptp(b.times[seen]) if seen.sum() > 1 else 0.0
    return False if span >= 1.0 else None


def one_line_verdict(r: ExchangeReport) -> str:
    hands = f"{(r.passing_hand or '?')[0].upper()}->{(r.receiving_hand or '?')[0].upper()}"
    unsure = hands_unsure(r)
    if unsure:
        hands += "? (hands unclear)"
    parts = [f"{hands} {r.pass_style or ''} pass at {r.transfer_s:.2f} s".replace("  ", " ")]
    if r.same_hand:
        parts.insert(0, "POSSIBLE SAME-HAND" if unsure else "SAME-HAND RISK")
    if r.speed_match:
        ratio = f" (speed ratio {r.speed_ratio:.2f})" if r.speed_ratio else ""
        parts.append(SPEED_MATCH_WORDS[r.speed_match] + ratio)
    if r.legal is not None:
        parts.append("legal" if r.legal else "ILLEGAL: baton outside the zone")
    return "; ".join(parts)


def find_exchanges(
    kins: list[TrackKinematics],
    settings: ExchangeSettings,
    calibration: ZoneCalibration | None = None,
    baton: BatonInput | None = None,
    frame_size: tuple[int, int] | None = None,
) -> list[ExchangeReport]:
    """Every baton exchange among the tracks, in time order; with ``baton`` sightings the
    baton decides the hands and refines the times where it is seen. With the picture's
    ``frame_size`` (width, height; None when the camera moved), a pass whose runner leaves
    the picture as it is read is not reported (:func:`leaves_picture`)."""
    reports = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        candidates = find_candidates(kins, settings)
    for cand, bounds in zip(candidates, holder_bounds(candidates), strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            report = analyse_candidate(
                cand, len(reports), settings, calibration, baton, frame_size, bounds
            )
        if report is not None:
            reports.append(report)
    kept = _drop_handed_back(_drop_overlapping(reports))
    return [r.model_copy(update={"exchange_id": i}) for i, r in enumerate(kept)]


def holder_bounds(candidates: list[_Candidate]) -> list[tuple[float, float]]:
    """For each candidate, the times its baton holder may be followed between: midway to
    the nearest candidate pass wholly before it and to the nearest wholly after it (those
    overlapping it in time are rival readings of the same pass)."""
    spans = [(c.incoming.times[c.frames[0]], c.incoming.times[c.frames[-1]]) for c in candidates]
    bounds = []
    for start, end in spans:
        before = [(e + start) / 2 for s, e in spans if e < start]
        after = [(end + s) / 2 for s, e in spans if s > end]
        bounds.append((max(before, default=-np.inf), min(after, default=np.inf)))
    return bounds


HAND_BACK_S = 3.0
"""A pass straight back (the receiver to the passer) this soon after a pass is not one."""


def _drop_handed_back(reports: list[ExchangeReport]) -> list[ExchangeReport]:
    """Drop an exchange whose runners swapped roles within ``HAND_BACK_S`` of a pass
    between them: the receiver holds the baton and runs away. Their hands meet again when
    a passer who could not brake ran past the receiver and is caught up with; a practice
    pass repeated takes them back to their marks first, in the same roles."""
    kept: list[ExchangeReport] = []
    for r in reports:  # in time order
        back = any(
            (k.incoming_track_id, k.outgoing_track_id) == (r.outgoing_track_id, r.incoming_track_id)
            and 0 <= (r.transfer_s or 0) - (k.transfer_s or 0) < HAND_BACK_S
            for k in kept
        )
        if not back:
            kept.append(r)
    return kept


def _drop_overlapping(reports: list[ExchangeReport]) -> list[ExchangeReport]:
    """A runner takes part in one exchange at a time: keep the best-supported of overlaps
    (in time order)."""
    kept: list[ExchangeReport] = []
    for r in sorted(reports, key=lambda r: -(r.hands_confidence or 0)):
        runners = {r.incoming_track_id, r.outgoing_track_id}
        clash = any(
            runners & {k.incoming_track_id, k.outgoing_track_id}
            and abs((k.transfer_s or 0) - (r.transfer_s or 0)) < 1.0
            for k in kept
        )
        if not clash:
            kept.append(r)
    return sorted(kept, key=lambda r: r.transfer_s or 0)
