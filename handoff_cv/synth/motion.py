"""Longitudinal motion of the two runners through an exchange, in metres and seconds.

The incoming runner arrives near top speed (optionally fading); the outgoing runner waits
at ``outgoing_start_m`` and starts when the incoming runner reaches the go mark, after a
reaction time, approaching top speed exponentially. Contact happens when the gap between
their bodies closes to the free distance; during contact the hands are joined, so the
incoming runner moves at the outgoing runner's speed (braking when it was faster). An
outgoing runner who is running away with the zone end near eases off so the pass still
happens; an incoming runner closing too fast brakes before contact. After the release the
incoming runner slows down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DT = 0.001  # integration step (s)
BRAKE = 4.0  # incoming runner's braking deceleration before contact (m/s^2)
EASE_OFF = 3.0  # outgoing runner's deceleration when waiting for the baton (m/s^2)
JOG_OUT = 3.0  # incoming runner's deceleration after the release (m/s^2)
MAX_ACCEL = 8.0  # outgoing runner's largest acceleration (m/s^2)
RECOVER = 2.0  # incoming runner's re-acceleration after braking (m/s^2)


@dataclass(frozen=True)
class MotionParams:
    incoming_speed: float
    incoming_fade: float
    incoming_start_m: float
    outgoing_speed: float
    outgoing_tau: float
    reaction_s: float
    outgoing_start_m: float
    go_mark_m: float
    free_distance_m: float
    contact_s: float
    transfer_fraction: float
    zone_length_m: float
    duration_after_s: float = 2.0


@dataclass(frozen=True)
class Motion:
    """Positions (pelvis x, m from the zone start) and speeds sampled every ``DT``."""

    t: np.ndarray
    x_in: np.ndarray
    v_in: np.ndarray
    x_out: np.ndarray
    v_out: np.ndarray
    t_go: float
    t_start: float
    t_contact: float
    t_transfer: float
    t_release: float
    eased: bool = False
    """The outgoing runner had to ease off near the zone end to wait for the baton."""

    def at(self, times: np.ndarray) -> dict[str, np.ndarray]:
        return {
            name: np.interp(times, self.t, getattr(self, name))
            for name in ("x_in", "v_in", "x_out", "v_out")
        }

    def acceleration(self, which: str, times: np.ndarray) -> np.ndarray:
        v = getattr(self, f"v_{which}")
        return np.interp(times, self.t, np.gradient(v, self.t))


def simulate_motion(p: MotionParams) -> Motion:
    """Integrate both runners' motion until ``duration_after_s`` after the release."""
    n_max = int(60 / DT)
    t = np.zeros(n_max)
    x_in, v_in, x_out, v_out = (np.zeros(n_max) for _ in range(4))
    x_in[0], v_in[0], x_out[0] = p.incoming_start_m, p.incoming_speed, p.outgoing_start_m
    t_go = t_start = t_contact = t_release = np.inf
    eased = False
    for i in range(1, n_max):
        t[i] = t[i - 1] + DT
        gap = x_out[i - 1] - x_in[i - 1]
        if t_go == np.inf and x_in[i - 1] >= p.outgoing_start_m - p.go_mark_m:
            t_go, t_start = t[i - 1], t[i - 1] + p.reaction_s
        # outgoing runner
        if t[i] < t_start:
            vo = 0.0
        else:
            target = p.outgoing_speed * (1 - np.exp(-(t[i] - t_start) / p.outgoing_tau))
            waiting = t_contact == np.inf and x_out[i - 1] > p.zone_length_m - 4.0
            if waiting and gap > p.free_distance_m:
                vo = max(v_out[i - 1] - EASE_OFF * DT, 2.0)
                eased = True
            else:
                vo = min(target, v_out[i - 1] + MAX_ACCEL * DT)
        # incoming runner: speed changes continuously (braking or re-accelerating)
        free = max(p.incoming_speed - p.incoming_fade * t[i], 0.5 * p.incoming_speed)
        if t_contact == np.inf and gap <= p.free_distance_m:
            t_contact = t[i - 1]
        in_contact = t_contact <= t[i] < t_contact + p.contact_s
        if t[i] >= t_contact + p.contact_s:
            vi = max(v_in[i - 1] - JOG_OUT * DT, 0.0)
        elif in_contact and gap < p.free_distance_m - 0.3 and v_in[i - 1] > vo:
            # hands joined: the arms absorb a small speed difference, beyond it one brakes
            vi = max(vo, v_in[i - 1] - BRAKE * DT)
        elif not in_contact and gap < p.free_distance_m + 1.5 and v_in[i - 1] - vo > 2.5:
            vi = v_in[i - 1] - BRAKE * DT  # closing too fast: brake
        else:
            vi = min(free, v_in[i - 1] + RECOVER * DT)
        v_in[i], v_out[i] = vi, vo
        x_in[i] = x_in[i - 1] + vi * DT
        x_out[i] = x_out[i - 1] + vo * DT
        if t_contact < np.inf and t_release == np.inf and t[i] >= t_contact + p.contact_s:
            t_release = t[i]
        done = t_release < np.inf and t[i] > t_release + p.duration_after_s
        if done and x_out[i] > p.zone_length_m + 12.0:  # past the 10 m split after the zone
            n = i + 1
            break
    else:
        raise ValueError("the runners never met: check the go mark and the speeds")
    return Motion(
        t=t[:n],
        x_in=x_in[:n],
        v_in=v_in[:n],
        x_out=x_out[:n],
        v_out=v_out[:n],
        t_go=float(t_go),
        t_start=float(t_start),
        t_contact=float(t_contact),
        t_transfer=float(t_contact + p.transfer_fraction * p.contact_s),
        t_release=float(t_release),
        eased=eased,
    )


def contact_speed_ratio(p: MotionParams) -> float:
    """Outgoing over incoming speed at contact for the motion ``p``."""
    m = simulate_motion(p)
    if m.eased:
        return float("inf")  # left so early that the outgoing runner had to wait
    state = m.at(np.array([m.t_contact]))
    return float(state["v_out"][0] / state["v_in"][0])


def go_mark_for_ratio(p: MotionParams, ratio: float, lo: float = 2.0, hi: float = 25.0) -> float:
    """The go mark distance at which the outgoing runner reaches ``ratio`` of the incoming
    runner's speed at contact (bisection; a later start means a lower ratio)."""
    from dataclasses import replace

    for _ in range(25):
        mid = (lo + hi) / 2
        try:
            r = contact_speed_ratio(replace(p, go_mark_m=mid))
        except ValueError:
            r = np.inf
        lo, hi = (mid, hi) if r < ratio else (lo, mid)
    return round((lo + hi) / 2, 3)


def gait_phase(t: np.ndarray, v: np.ndarray, cadence_scale: float = 1.0) -> np.ndarray:
    """Stride phase (rad) from the step frequency, which rises with speed (~4.5 steps/s
    for a sprinter near top speed)."""
    steps_per_s = np.where(v > 0.3, np.clip(2.4 + 0.24 * v, 2.8, 4.8) * cadence_scale, 0.0)
    stride_rate = steps_per_s / 2
    return 2 * np.pi * np.concatenate([[0.0], np.cumsum(stride_rate[1:] * np.diff(t))])


def steps_per_second(v: float, cadence_scale: float = 1.0) -> float:
    return float(np.clip(2.4 + 0.24 * v, 2.8, 4.8) * cadence_scale) if v > 0.3 else 0.0
