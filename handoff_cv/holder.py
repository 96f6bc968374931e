"""Who holds the baton, frame by frame, around one exchange. Pure functions on tables.

The baton's sightings (:mod:`handoff_cv.baton`) and the two runners' hands (from
:mod:`handoff_cv.kinematics`, sides already made consistent) feed a hidden Markov model
whose states are the ways the baton can be held::

    incoming:left   incoming:right                       (the passer carries it)
    both:L->L  both:L->R  both:R->L  both:R->R            (contact: both hands on it)
    outgoing:left   outgoing:right                       (the receiver has it)
    none                                                 (loose: dropped)

The baton only moves forward through these (carry, contact, receiver), with small chances
of a hand switch, a fumble back to the passer, or a drop. A frame where the baton is seen
scores each state by how close the hands it names are to the baton and how far the others
are; an unseen frame scores them all alike, so the model carries the holder through
occlusions. Viterbi gives the path, forward-backward the confidence of each frame. From the
path come the passing and receiving hands, the contact, transfer and release times, a drop
and the receiver's hand switch, each only where the baton was seen closely enough.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from handoff_cv.baton import sighting_ends
from handoff_cv.kinematics import TrackKinematics, frame_interval, on_common_grid
from handoff_cv.settings import BatonSettings

SIDES = ("left", "right")
STATES: list[tuple[str, str | None, str | None]] = [
    ("incoming", "left", None),
    ("incoming", "right", None),
    *[("both", a, b) for a in SIDES for b in SIDES],
    ("outgoing", None, "left"),
    ("outgoing", None, "right"),
    ("none", None, None),
]
"""(holder, incoming runner's hand, outgoing runner's hand) for each state."""
_INCOMING = [i for i, s in enumerate(STATES) if s[0] == "incoming"]
_BOTH = [i for i, s in enumerate(STATES) if s[0] == "both"]
_OUTGOING = [i for i, s in enumerate(STATES) if s[0] == "outgoing"]
_NONE = len(STATES) - 1

CONTACT_TAU_S = 0.15  # typical contact (both hands on the baton) lasts about this long
SWITCH_RATE_OUT = 0.01  # receiver's hand switches per second (they happen, after the pass)
SWITCH_RATE_IN = 0.005  # the passer rarely switches hands in the last seconds
DROP_RATE = 0.005
FUMBLE_RATE = 0.2  # back from contact to the passer alone, per second of contact
LOOSE_PENALTY = 0.05
MAX_SIGHTING_WEIGHT = 0.85  # a seen baton is far more often held than loose


@dataclass
class HolderSeries:
    """The holder of the baton in each frame of an exchange's window."""

    frames: np.ndarray
    times: np.ndarray
    seen: np.ndarray  # bool: the baton was seen in this frame
    states: np.ndarray  # index into STATES (Viterbi path)
    confidence: np.ndarray  # posterior probability of that state

    def between(self, t0: float, t1: float) -> HolderSeries:
        """The part of the series from ``t0`` to ``t1`` (seconds, inclusive)."""
        keep = (self.times >= t0) & (self.times <= t1)
        return HolderSeries(
            self.frames[keep],
            self.times[keep],
            self.seen[keep],
            self.states[keep],
            self.confidence[keep],
        )

    def around(self, inner: HolderSeries) -> HolderSeries:
        """This series with ``inner`` in place of its frames over ``inner``'s time span."""
        outside = (self.times < inner.times[0]) | (self.times > inner.times[-1])
        order = np.argsort(np.concatenate([self.times[outside], inner.times]), kind="stable")
        return HolderSeries(
            *(
                np.concatenate([getattr(self, f)[outside], getattr(inner, f)])[order]
                for f in ("frames", "times", "seen", "states", "confidence")
            )
        )

    def to_frame(self, exchange_id: int = 0) -> pd.DataFrame:
        rows = [STATES[s] for s in self.states]
        return pd.DataFrame(
            {
                "exchange_id": exchange_id,
                "frame": self.frames,
                "time_s": self.times,
                "holder": [r[0] for r in rows],
                "incoming_hand": [r[1] for r in rows],
                "outgoing_hand": [r[2] for r in rows],
                "confidence": np.round(self.confidence, 3),
                "baton_seen": self.seen,
            }
        )


@dataclass(frozen=True)
class BatonEvidence:
    """What the baton says about one exchange (``None`` where it was not seen enough)."""

    passing_hand: str | None
    receiving_hand: str | None
    hands_confidence: float | None
    contact_window_s: tuple[float, float] | None  # the contact started inside this interval
    release_window_s: tuple[float, float] | None  # the passer let go inside this interval
    dropped: bool
    receiver_hand_switch: bool | None
    seen_fraction: float


# ---------------------------------------------------------------------- emissions
def _segment_distance(points: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Distance of each point (h, 2) from the segment ``ends`` (2, 2)."""
    a, b = ends
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


def _hand_log_terms(d: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """log P(seen | hand holds) and log P(seen | hand does not hold) for distances ``d``
    in body heights; an unknown hand (NaN) tells nothing either way."""
    near = np.exp(-0.5 * (d / sigma) ** 2)
    hold = np.log(near + 0.02)
    free = np.log(1.0 - 0.8 * near)
    unknown = ~np.isfinite(d)
    hold[unknown], free[unknown] = np.log(0.3), 0.0
    return hold, free


def state_log_likelihood(d: np.ndarray, sigma: float) -> np.ndarray:
    """Log-likelihood of each state given one sighting and the four hands' distances from
    it, ordered (incoming left, incoming right, outgoing left, outgoing right)."""
    hold, free = _hand_log_terms(d, sigma)
    out = np.empty(len(STATES))
    for k, (holder, hin, hout) in enumerate(STATES):
        holding = set()
        if hin:
            holding.add(SIDES.index(hin))
        if hout:
            holding.add(2 + SIDES.index(hout))
        out[k] = sum(hold[h] if h in holding else free[h] for h in range(4))
        if holder == "none":
            out[k] += np.log(LOOSE_PENALTY)
    return out


def emissions(
    sightings: pd.DataFrame,
    incoming: TrackKinematics,
    outgoing: TrackKinematics,
    idx: np.ndarray,
    sigma: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, states) log-emissions over the frames ``idx`` of the runners' common grid, and
    which frames had a sighting. Several sightings in a frame are a mixture weighted by
    their scores (the rest of the weight: a false sighting, which tells nothing)."""
    log_e = np.zeros((len(idx), len(STATES)))
    seen = np.zeros(len(idx), bool)
    by_frame = {int(f): g for f, g in sightings.groupby("frame")}
    for row, i in enumerate(idx):
        group = by_frame.get(int(incoming.frames[i]))
        if group is None:
            continue
        hands = np.stack(
            [incoming.hand(s, fine=True)[i] for s in SIDES]
            + [outgoing.hand(s, fine=True)[i] for s in SIDES]
        )
        height = np.nanmean([incoming.body_height_px[i], outgoing.body_height_px[i]])
        if not np.isfinite(height):
            continue
        # no sighting is ever certain (a red shoe by a hand looks like a red baton): some
        # weight always stays on "this was not the baton", so one frame cannot outvote many
        weights = np.clip(group.score.to_numpy(float), 0, 1) * MAX_SIGHTING_WEIGHT
        weights = weights / max(1.0, weights.sum() / MAX_SIGHTING_WEIGHT)
        parts = [np.log(max(1.0 - weights.sum(), 1e-6)) + np.zeros(len(STATES))]
        for w, ends in zip(weights, sighting_ends(group), strict=True):
            d = _segment_distance(hands, ends) / height
            parts.append(np.log(w) + state_log_likelihood(d, sigma))
        log_e[row] = logsumexp(np.stack(parts), axis=0)
        seen[row] = weights.max() >= 0.3
    return log_e, seen


def hold_distance(
    sightings: pd.DataFrame,
    incoming: TrackKinematics,
    outgoing: TrackKinematics,
    idx: np.ndarray,
    floor: float,
) -> float:
    """How far from the baton a holding hand appears, in body heights: the landmarks' own
    error sets it (a few centimetres for true landmarks, 0.1-0.2 m for a pose model's
    wrists while the arms swing), so it is measured from the clip: 1.5 times the median
    distance of the nearest hand from the strong sightings, never below ``floor``."""
    strong = sightings[sightings.score >= 0.5]
    at = {int(f): i for i, f in zip(idx, incoming.frames[idx], strict=True)}
    nearest = []
    for frame, ends in zip(strong.frame.astype(int), sighting_ends(strong), strict=True):
        i = at.get(frame)
        if i is None:
            continue
        hands = np.stack([k.hand(s, fine=True)[i] for k in (incoming, outgoing) for s in SIDES])
        height = np.nanmean([incoming.body_height_px[i], outgoing.body_height_px[i]])
        d = _segment_distance(hands, ends) / height
        if np.isfinite(d).any() and np.nanmin(d) < MAX_HOLD_DISTANCE:  # far: loose, not held
            nearest.append(np.nanmin(d))
    if len(nearest) < 5:
        return floor
    return float(np.clip(1.5 * np.median(nearest), floor, MAX_HOLD_DISTANCE))


MAX_HOLD_DISTANCE = 0.2


# ---------------------------------------------------------------------- the model
def log_transitions(dt: float) -> np.ndarray:
    """Log transition matrix for one frame step of ``dt`` seconds."""
    p = lambda rate: 1.0 - np.exp(-rate * dt)  # noqa: E731
    n = len(STATES)
    m = np.full((n, n), 0.0)
    contact = p(1.0)  # about one contact a second of window: the path picks where
    release = p(1.0 / CONTACT_TAU_S)
    for i in _INCOMING:
        hin = STATES[i][1]
        m[i, [j for j in _BOTH if STATES[j][1] == hin]] = contact / 2
        m[i, [j for j in _OUTGOING]] = contact * 0.1 / 2  # contact too short to be seen
        m[i, [j for j in _INCOMING if j != i]] = p(SWITCH_RATE_IN)
        m[i, _NONE] = p(DROP_RATE)
    for i in _BOTH:
        _, hin, hout = STATES[i]
        m[i, [j for j in _OUTGOING if STATES[j][2] == hout]] = release
        m[i, [j for j in _INCOMING if STATES[j][1] == hin]] = p(FUMBLE_RATE)
        m[i, _NONE] = p(DROP_RATE * 10)
    for i in _OUTGOING:
        m[i, [j for j in _OUTGOING if j != i]] = p(SWITCH_RATE_OUT)
        m[i, _NONE] = p(DROP_RATE)
    for i in range(n):
        m[i, i] = max(1.0 - m[i].sum(), 1e-9)
    m[_NONE, _NONE] = 1.0
    return np.log(np.maximum(m, 1e-300))


def _start() -> np.ndarray:
    start = np.full(len(STATES), 0.002)
    start[_INCOMING] = 0.45
    start[_OUTGOING] = 0.04
    return np.log(start / start.sum())


def viterbi(log_e: np.ndarray, log_t: np.ndarray, log_start: np.ndarray) -> np.ndarray:
    """Most likely state path."""
    n, k = log_e.shape
    score = log_start + log_e[0]
    back = np.zeros((n, k), int)
    for i in range(1, n):
        cand = score[:, None] + log_t
        back[i] = np.argmax(cand, axis=0)
        score = cand[back[i], np.arange(k)] + log_e[i]
    path = np.empty(n, int)
    path[-1] = int(np.argmax(score))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def posteriors(log_e: np.ndarray, log_t: np.ndarray, log_start: np.ndarray) -> np.ndarray:
    """(n, states) probability of each state in each frame (forward-backward)."""
    n, k = log_e.shape
    fwd, bwd = np.empty((n, k)), np.zeros((n, k))
    fwd[0] = log_start + log_e[0]
    for i in range(1, n):
        fwd[i] = logsumexp(fwd[i - 1][:, None] + log_t, axis=0) + log_e[i]
    for i in range(n - 2, -1, -1):
        bwd[i] = logsumexp(log_t + (log_e[i + 1] + bwd[i + 1])[None, :], axis=1)
    post = fwd + bwd
    return np.exp(post - logsumexp(post, axis=1, keepdims=True))


def holder_series(
    sightings: pd.DataFrame,
    incoming: TrackKinematics,
    outgoing: TrackKinematics,
    window_s: tuple[float, float],
    settings: BatonSettings,
) -> HolderSeries | None:
    """The holder in each frame of ``window_s`` where either runner's hands are tracked
    (before the receiver is found, the passer's hands alone say who carries it; after the
    passer is lost, the receiver's)."""
    aligned = on_common_grid(incoming, outgoing)
    if aligned is None:
        return None
    incoming, outgoing = aligned
    t = incoming.times
    hands_known = np.zeros(len(t), bool)
    for runner in (incoming, outgoing):
        for side in SIDES:
            hands_known |= np.isfinite(runner.hand(side, fine=True)[:, 0])
    idx = np.nonzero((t >= window_s[0]) & (t <= window_s[1]) & hands_known)[0]
    if len(idx) < 3 or sightings.empty:
        return None
    sigma = hold_distance(sightings, incoming, outgoing, idx, settings.hold_distance)
    log_e, seen = emissions(sightings, incoming, outgoing, idx, sigma)
    if not seen.any():
        return None
    log_t, log_start = log_transitions(frame_interval(t[idx])), _start()
    path = viterbi(log_e, log_t, log_start)
    post = posteriors(log_e, log_t, log_start)
    return HolderSeries(incoming.frames[idx], t[idx], seen, path, post[np.arange(len(idx)), path])


# ---------------------------------------------------------------------- evidence
def baton_evidence(series: HolderSeries, settings: BatonSettings) -> BatonEvidence:
    """Hands, contact and release windows, drop and hand switch read off the path."""
    holder = np.array([STATES[s][0] for s in series.states])
    seen, t = series.seen, series.times
    carry = (holder == "incoming") & seen
    handed = np.nonzero(np.isin(holder, ["both", "outgoing"]))[0]
    first_handed = handed[0] if len(handed) else len(holder)
    carry[first_handed:] = False
    passing = _majority([STATES[s][1] for s in series.states[carry]], settings.min_seen_frames)
    received = _receiving_hand(series, holder, settings.min_seen_frames)
    confidence = None
    if passing and received:
        confidence = float(
            np.mean(series.confidence[seen & np.isin(holder, ["incoming", "outgoing"])])
        )
    return BatonEvidence(
        passing_hand=passing,
        receiving_hand=received,
        hands_confidence=confidence,
        contact_window_s=_change_window(
            t, seen, holder == "incoming", np.isin(holder, ["both", "outgoing"])
        ),
        release_window_s=_change_window(
            t, seen, np.isin(holder, ["incoming", "both"]), holder == "outgoing"
        ),
        dropped=bool(((holder == "none") & seen).sum() >= 2),
        receiver_hand_switch=_switch(series, holder, settings.min_seen_frames),
        seen_fraction=float(seen.mean()),
    )


def _majority(hands: list[str | None], min_frames: int) -> str | None:
    hands = [h for h in hands if h]
    if len(hands) < min_frames:
        return None
    left = hands.count("left")
    return "left" if left * 2 > len(hands) else "right"


def _receiving_hand(series: HolderSeries, holder: np.ndarray, min_frames: int) -> str | None:
    """The receiver's hand from the contact to the first switch, where seen."""
    first = np.nonzero(np.isin(holder, ["both", "outgoing"]))[0]
    if not len(first):
        return None
    hand = STATES[series.states[first[0]]][2]
    run = [i for i in range(first[0], len(holder)) if STATES[series.states[i]][2] == hand]
    seen = int(series.seen[run].sum())
    return hand if seen >= max(1, min_frames - 1) else None


def _change_window(t, seen, before: np.ndarray, after: np.ndarray) -> tuple[float, float] | None:
    """Between the last frame seen in ``before`` and the first seen in ``after`` (the path's
    first ``after`` frame must follow its last ``before`` frame)."""
    b = np.nonzero(before & seen)[0]
    a = np.nonzero(after & seen)[0]
    if not len(b) or not len(a) or a[0] <= b[-1]:
        return None
    return float(t[b[-1]]), float(t[a[0]])


def _switch(series: HolderSeries, holder: np.ndarray, min_frames: int) -> bool | None:
    out = np.nonzero(holder == "outgoing")[0]
    if not len(out):
        return None
    hands = np.array([STATES[s][2] for s in series.states[out]])
    seen = series.seen[out]
    first = hands[0]
    later = (hands != first) & seen
    if later.sum() >= min_frames:
        return True
    span = series.times[out][seen]
    return False if len(span) >= min_frames and np.ptp(span) >= 1.0 else None
