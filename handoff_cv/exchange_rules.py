"""Domain rules shared by the simulator's labels and the analyzer: one definition each.

Speed matching verdict (documented thresholds, see ``docs/exchange.md``):

* ``too_late`` — the outgoing runner left too late, so the incoming runner had to brake:
  the incoming runner's speed at transfer is at least ``brake_mps`` below its highest speed
  in the ``window_s`` before contact.
* ``too_early`` — the outgoing runner left too early, so the incoming runner could not
  catch up: the gap between the runners grew for at least ``growing_s`` (in total) in the
  ``window_s`` before contact, or the outgoing runner had to slow down to wait (speed at
  transfer ``brake_mps`` below its best in that window), or is faster than the incoming
  runner at transfer.
* ``matched`` — neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ZONE_LENGTH_M = {"4x100": 30.0, "4x200": 30.0, "4x400": 20.0, "medley": 30.0}


@dataclass(frozen=True)
class SpeedMatchThresholds:
    brake_mps: float = 0.8
    growing_s: float = 0.3
    window_s: float = 1.5


def speed_match_verdict(
    t: np.ndarray,
    v_in: np.ndarray,
    v_out: np.ndarray,
    gap: np.ndarray,
    t_contact: float,
    t_transfer: float,
    thresholds: SpeedMatchThresholds = SpeedMatchThresholds(),
) -> str:
    """``matched``, ``too_early`` or ``too_late`` from speeds and the gap over time."""
    before = (t >= t_contact - thresholds.window_s) & (t <= t_contact)
    v_in_transfer = float(np.interp(t_transfer, t, v_in))
    v_out_transfer = float(np.interp(t_transfer, t, v_out))
    if before.sum() >= 2:
        # an outgoing runner who had to wait is the cause even if the incoming one then braked
        if np.nanmax(v_out[before]) - v_out_transfer >= thresholds.brake_mps:
            return "too_early"
        if np.nanmax(v_in[before]) - v_in_transfer >= thresholds.brake_mps:
            return "too_late"
        dt = np.diff(t[before])
        growing = float(np.sum(dt[np.diff(gap[before]) > 0]))
        if growing >= thresholds.growing_s:
            return "too_early"
    if v_out_transfer > v_in_transfer * 1.02:
        return "too_early"
    return "matched"


def same_hand(passing: str | None, receiving: str | None) -> bool | None:
    """True for right-to-right or left-to-left passes (None when a hand is unknown)."""
    if passing is None or receiving is None:
        return None
    return passing == receiving


def other_hand(hand: str) -> str:
    return "left" if hand == "right" else "right"


def is_legal(contact_m: float | None, release_m: float | None, zone_length_m: float) -> bool | None:
    """Only the baton counts: contact start and release must both lie inside the zone."""
    if contact_m is None or release_m is None:
        return None
    return bool(0.0 <= contact_m <= zone_length_m and 0.0 <= release_m <= zone_length_m)


def crossing_time(t: np.ndarray, x: np.ndarray, line_m: float) -> float | None:
    """First time the increasing position ``x`` crosses ``line_m`` (linear interpolation)."""
    after = np.nonzero(x >= line_m)[0]
    if len(after) == 0 or after[0] == 0:
        return None
    i = after[0]
    frac = (line_m - x[i - 1]) / max(x[i] - x[i - 1], 1e-12)
    return float(t[i - 1] + frac * (t[i] - t[i - 1]))
