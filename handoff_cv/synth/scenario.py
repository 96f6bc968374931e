"""Scenario parameters and the simulation of a clip: motion -> bodies -> camera -> landmarks.

:func:`simulate` turns a :class:`Scenario` into the landmark table of the pose stage (same
schema, full-frame pixels, visibility from occlusion) and the clip's ground-truth
:class:`~handoff_cv.labels.ClipLabels`, plus the 3D world (bodies, baton) for rendering.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from handoff_cv import landmarks as lm
from handoff_cv.exchange_rules import (
    ZONE_LENGTH_M,
    crossing_time,
    is_legal,
    same_hand,
    speed_match_verdict,
)
from handoff_cv.labels import CameraLabel, ClipLabels, ExchangeLabel, ZoneLabel
from handoff_cv.pose import LANDMARK_INDEX, N_LANDMARKS, Pose
from handoff_cv.synth import body as skel
from handoff_cv.synth.camera import PinholeCamera
from handoff_cv.synth.motion import (
    Motion,
    MotionParams,
    gait_phase,
    go_mark_for_ratio,
    simulate_motion,
)
from handoff_cv.track import TrackedPose

# Each runner's body sits this far from the lane centre, towards their free hand, so that
# the passing and the receiving hand meet near the middle of the lane.
PASSER_OFFSET_M = 0.24
RECEIVER_OFFSET_M = 0.28
GRAVITY = 9.81
PELVIS_BOUNCE_M = 0.06
"""Largest vertical oscillation of a running pelvis: 5-8 cm measured in sprinting. (Keeping
the lowest foot on the ground at every instant made it 24 cm, and the receiver's hand
bounced out of the passer's reach in the middle of the contact.)"""


class ExchangeSpec(BaseModel):
    """One baton exchange: who, which hands, how fast, where."""

    model_config = ConfigDict(extra="forbid")

    relay: Literal["4x100", "4x200", "4x400", "medley"] = "4x100"
    passing_hand: Literal["left", "right"] = "right"
    receiving_hand: Literal["left", "right"] = "left"
    pass_type: Literal["upsweep", "downsweep", "push"] = "upsweep"
    pass_style: Literal["blind", "visual"] = "blind"
    incoming_speed_mps: float = Field(10.0, gt=2, lt=13)
    incoming_fade_mps2: float = Field(0.0, ge=0, le=1.5)
    outgoing_speed_mps: float = Field(10.0, gt=2, lt=13)
    outgoing_tau_s: float = Field(1.1, gt=0.3, lt=4)
    reaction_s: float = Field(0.15, ge=0, le=0.5)
    outgoing_start_m: float = Field(1.0, description="Start mark, metres from the zone start.")
    go_mark_m: float = Field(12.0, gt=0, lt=30, description="Go mark distance before the start.")
    free_distance_m: float = Field(1.2, gt=0.6, lt=2.0)
    contact_s: float = Field(0.16, gt=0.04, lt=0.8)
    transfer_fraction: float = Field(
        0.5, ge=0, le=1, description="Transfer time within the contact (0.5 = midpoint)."
    )
    incoming_height_m: float = Field(1.80, gt=1.4, lt=2.1)
    outgoing_height_m: float = Field(1.75, gt=1.4, lt=2.1)
    dropped: bool = False
    hand_switch_after_s: float | None = Field(
        None, description="Receiver moves the baton to the other hand this long after release."
    )
    lead_s: float = Field(1.2, ge=0, description="Clip time shown before the go.")
    tail_s: float = Field(1.2, ge=0, description="Clip time shown after the release.")

    @property
    def zone_length_m(self) -> float:
        return ZONE_LENGTH_M[self.relay]


class CameraSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    view: Literal["side_stands", "side_infield", "oblique", "end_behind", "end_front"] = (
        "side_stands"
    )
    distance_m: float = Field(25.0, gt=2)
    height_m: float = Field(3.0, gt=0.3)
    fov_deg: float | None = Field(None, gt=5, lt=120)
    look_at_m: float | None = Field(None, description="Lane point aimed at; default the pass.")
    pan: bool = False
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    k1: float = 0.0
    k2: float = 0.0


class Scenario(BaseModel):
    """A clip: one or more exchanges (repeated practice passes) filmed by one camera."""

    model_config = ConfigDict(extra="forbid")

    name: str = "sim"
    exchanges: list[ExchangeSpec] = Field(default_factory=lambda: [ExchangeSpec()])
    camera: CameraSpec = Field(default_factory=CameraSpec)
    frame_time_jitter_s: float = Field(0.0, ge=0, description="Variable-frame-rate jitter.")
    seed: int = 0
    tags: dict[str, str | float | int | bool] = Field(default_factory=dict)


# ----------------------------------------------------------------------- episodes
@dataclass
class Episode:
    """One exchange simulated in its own time; ``offset`` maps it onto clip time."""

    spec: ExchangeSpec
    motion: Motion
    offset: float
    start: float
    end: float
    incoming_id: int
    outgoing_id: int
    phase_in: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    phase_out: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    def local(self, clip_t: float) -> float:
        return clip_t - self.offset


def motion_params(spec: ExchangeSpec) -> MotionParams:
    """The motion model's parameters for ``spec``."""
    return MotionParams(
        incoming_speed=spec.incoming_speed_mps,
        incoming_fade=spec.incoming_fade_mps2,
        incoming_start_m=spec.outgoing_start_m - spec.go_mark_m - 4.0 * spec.incoming_speed_mps,
        outgoing_speed=spec.outgoing_speed_mps,
        outgoing_tau=spec.outgoing_tau_s,
        reaction_s=spec.reaction_s,
        outgoing_start_m=spec.outgoing_start_m,
        go_mark_m=spec.go_mark_m,
        free_distance_m=min(spec.free_distance_m, reachable_gap_m(spec)),
        contact_s=spec.contact_s,
        transfer_fraction=spec.transfer_fraction,
        zone_length_m=spec.zone_length_m,
        duration_after_s=spec.tail_s + (spec.hand_switch_after_s or 0.0) + 0.5,
    )


def reachable_gap_m(spec: ExchangeSpec) -> float:
    """Largest hip-to-hip gap at which the passer's hand can reach the receiver's hand."""
    legs = skel.LegPose(0.0, 0.3)
    still = skel.ArmPose(0.0, 1.4)
    arms = {"left": still, "right": still, spec.receiving_hand: _receiving_arm(spec)}
    receiver = skel.BodyPose(
        np.array([0.0, 0.0, 0.9]), 0.12, 0.0, 0.0, arms["left"], arms["right"], legs, legs
    )
    hand = _hand_point(skel.landmarks_3d(receiver, spec.outgoing_height_m), spec.receiving_hand)
    shoulder_ahead = 0.12 * skel.SHOULDER_ABOVE_HIP * spec.incoming_height_m
    reach = (skel.UPPER_ARM + skel.FOREARM + 0.55 * skel.HAND) * spec.incoming_height_m
    forward = np.sqrt(max(reach**2 - (0.818 * spec.incoming_height_m - hand[2]) ** 2, 0.0))
    return float(-hand[0] + shoulder_ahead + 0.92 * forward)


def go_mark_for(spec: ExchangeSpec, speed_ratio: float) -> float:
    """Go mark distance at which ``spec``'s outgoing runner reaches ``speed_ratio`` of the
    incoming runner's speed at contact."""
    return go_mark_for_ratio(motion_params(spec), speed_ratio)


def _episode(spec: ExchangeSpec, index: int, clip_start: float) -> Episode:
    motion = simulate_motion(motion_params(spec))
    start = motion.t_go - spec.lead_s
    end = motion.t_release + spec.tail_s + (spec.hand_switch_after_s or 0.0)
    ep = Episode(spec, motion, clip_start - start, start, end, 2 * index, 2 * index + 1)
    ep.phase_in = gait_phase(motion.t, motion.v_in)
    ep.phase_out = gait_phase(motion.t, motion.v_out) + np.pi / 2
    return ep


# --------------------------------------------------------------------- postures
def _ramp(t: float, start: float, full: float, end: float, gone: float) -> float:
    """0 before ``start``, rising to 1 at ``full``, 1 until ``end``, back to 0 at ``gone``."""
    if t <= start or t >= gone:
        return 0.0
    if t < full:
        return (t - start) / max(full - start, 1e-9)
    if t <= end:
        return 1.0
    return (gone - t) / max(gone - end, 1e-9)


def _mix(a: skel.ArmPose, b: skel.ArmPose, w: float) -> skel.ArmPose:
    return skel.ArmPose(
        a.shoulder + (b.shoulder - a.shoulder) * w,
        a.elbow + (b.elbow - a.elbow) * w,
        a.abduction + (b.abduction - a.abduction) * w,
        b.palm_up if w > 0.5 else a.palm_up,
    )


def _legs(phase: float, amp: float, form: float) -> dict[str, skel.LegPose]:
    legs = {}
    for side, ph in (("left", phase), ("right", phase + np.pi)):
        run_hip = amp * (0.26 + 0.70 * np.sin(ph))
        run_knee = 0.45 + amp * 1.5 * ((1 + np.cos(ph + 0.3)) / 2) ** 2
        still_hip, still_knee = (0.35, 0.45) if side == "left" else (-0.2, 0.35)
        legs[side] = skel.LegPose(
            still_hip + (run_hip - still_hip) * form, still_knee + (run_knee - still_knee) * form
        )
    return legs


def _lowest_drop(legs: dict[str, skel.LegPose], height: float) -> float:
    return max(skel.lowest_foot_drop(leg, height) for leg in legs.values())


@lru_cache(maxsize=8192)
def _stride_top(amp: float, height: float) -> float:
    """Highest the pelvis is carried in a running stride of amplitude ``amp``: where the
    lowest foot of the most extended leg just touches the ground."""
    phases = np.linspace(0.0, 2 * np.pi, 48, endpoint=False)
    return max(_lowest_drop(_legs(float(ph), amp, 1.0), height) for ph in phases)


def _running(phase: float, v: float, v_top: float, accel: float, height: float):
    """Legs, arms, lean and pelvis height of a runner at stride ``phase`` and speed ``v``.

    Running, the pelvis rides at most :data:`PELVIS_BOUNCE_M` below the stride's top and the
    feet leave the ground in between (the flight phase); standing, the lowest foot is on
    the ground."""
    form = min(1.0, v / 3.0)  # running form is reached by ~3 m/s
    amp = 0.55 + 0.45 * min(1.0, v / max(v_top, 1e-6))
    legs = _legs(phase, amp, form)
    arms = {}
    for side, ph in (("left", phase), ("right", phase + np.pi)):
        run_sh = -(0.1 + 0.8 * amp * np.sin(ph))
        arms[side] = skel.ArmPose(run_sh * form + 0.1 * (1 - form), 1.45 - 0.3 * np.sin(ph) * form)
    lean = float(np.clip(0.10 + 0.05 * max(accel, 0.0), 0.08, 0.55))
    if v < 0.3:
        lean = 0.45  # standing start, leaning into the first step
    on_ground = _lowest_drop(legs, height)
    carried = _stride_top(round(amp, 3), round(height, 3)) - PELVIS_BOUNCE_M
    return legs, arms, lean, on_ground + form * max(0.0, carried - on_ground)


def _receiving_arm(spec: ExchangeSpec) -> skel.ArmPose:
    shoulder = {"upsweep": -0.8, "push": -1.2, "downsweep": -1.45}[spec.pass_type]
    return skel.ArmPose(shoulder, 0.12, 0.1, palm_up=spec.pass_type == "downsweep")


def _reach(shoulder: np.ndarray, target: np.ndarray, height: float) -> skel.ArmPose:
    """Two-link inverse kinematics in the sagittal plane: the arm whose hand is at target."""
    a = skel.UPPER_ARM * height
    b = (skel.FOREARM + 0.55 * skel.HAND) * height
    dx, dz = target[0] - shoulder[0], target[2] - shoulder[2]
    d = float(np.clip(np.hypot(dx, dz), abs(a - b) + 1e-3, a + b - 1e-4))
    toward = np.arctan2(dx, -dz)
    gamma = np.arccos(np.clip((a * a + d * d - b * b) / (2 * a * d), -1, 1))
    beta = np.pi - np.arccos(np.clip((a * a + b * b - d * d) / (2 * a * b), -1, 1))
    return skel.ArmPose(float(toward - gamma), float(beta), 0.05)


def _arm_reach(height: float) -> float:
    return (skel.UPPER_ARM + skel.FOREARM + 0.55 * skel.HAND) * height


def _reaching_lean(
    pose: Callable[[float], skel.BodyPose], target: np.ndarray, side: str, height: float
) -> float:
    """Extra trunk lean (rad, at most 0.5) that brings ``side``'s shoulder within arm's
    reach of ``target`` (in the sagittal plane, as :func:`_reach` places the hand): a
    passer whose arm alone falls short leans into the pass."""
    limit = 0.97 * _arm_reach(height)

    def short(extra: float) -> float:
        shoulder = skel.landmarks_3d(pose(extra), height)[LANDMARK_INDEX[f"{side}_shoulder"]]
        return float(np.hypot(*(target - shoulder)[[0, 2]])) - limit

    if short(0.0) <= 0:
        return 0.0
    lo, hi = 0.0, 0.5
    if short(hi) > 0:
        return hi
    for _ in range(12):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if short(mid) > 0 else (lo, mid)
    return hi


@dataclass
class Bodies:
    """Both runners' 33 3D landmarks and the baton at one instant."""

    incoming: np.ndarray
    outgoing: np.ndarray
    baton: np.ndarray  # (2, 3) ends of the baton
    holder: str  # "incoming", "both", "outgoing", "none"
    held: dict[str, str] = field(default_factory=dict)  # runner -> hand holding the baton


def _hand_point(points: np.ndarray, side: str) -> np.ndarray:
    return (points[LANDMARK_INDEX[f"{side}_wrist"]] + points[LANDMARK_INDEX[f"{side}_index"]]) / 2


def bodies_at(ep: Episode, t: float) -> Bodies:
    """Pose both runners of ``ep`` at episode time ``t``."""
    spec, m = ep.spec, ep.motion
    state = m.at(np.array([t]))
    acc_in, acc_out = (float(m.acceleration(w, np.array([t]))[0]) for w in ("in", "out"))
    ph_in = float(np.interp(t, m.t, ep.phase_in))
    ph_out = float(np.interp(t, m.t, ep.phase_out))
    y_in = PASSER_OFFSET_M if spec.passing_hand == "right" else -PASSER_OFFSET_M
    y_out = RECEIVER_OFFSET_M if spec.receiving_hand == "right" else -RECEIVER_OFFSET_M
    h_in, h_out = spec.incoming_height_m, spec.outgoing_height_m

    # outgoing runner: receiving arm back from the call until just after the transfer
    legs, arms, lean, drop = _running(
        ph_out, float(state["v_out"][0]), spec.outgoing_speed_mps, acc_out, h_out
    )
    lead = 0.4 if spec.pass_style == "blind" else 0.7
    w_recv = _ramp(
        t, m.t_contact - lead - 0.15, m.t_contact - lead, m.t_transfer + 0.1, m.t_transfer + 0.3
    )
    recv = spec.receiving_hand
    arms[recv] = _mix(arms[recv], _receiving_arm(spec), w_recv)
    switch_t = m.t_release + spec.hand_switch_after_s if spec.hand_switch_after_s else None
    if switch_t is not None:
        w_sw = _ramp(t, switch_t - 0.25, switch_t - 0.1, switch_t + 0.1, switch_t + 0.25)
        together = skel.ArmPose(0.55, 1.35, -0.25)
        arms = {s: _mix(a, together, w_sw) for s, a in arms.items()}
    head_yaw = 0.0
    look_back = 2.5 if recv == "left" else -2.5
    if t < m.t_start:
        head_yaw = look_back  # watching the incoming runner reach the go mark
    elif spec.pass_style == "visual":
        head_yaw = look_back * _ramp(
            t, m.t_contact - 1.1, m.t_contact - 0.8, m.t_transfer, m.t_transfer + 0.25
        )
    out_pose = skel.BodyPose(
        np.array([state["x_out"][0], y_out, drop]),
        lean,
        head_yaw,
        0.0,
        arms["left"],
        arms["right"],
        legs["left"],
        legs["right"],
    )
    outgoing = skel.landmarks_3d(out_pose, h_out)

    # incoming runner: passing arm reaches forward, onto the receiver's hand in contact
    legs, arms, lean, drop = _running(
        ph_in, float(state["v_in"][0]), spec.incoming_speed_mps, acc_in, h_in
    )
    pss = spec.passing_hand

    def incoming_pose() -> skel.BodyPose:  # with the arms and lean as they are now
        position = np.array([state["x_in"][0], y_in, drop])
        return skel.BodyPose(
            position, lean, 0.0, 0.0, arms["left"], arms["right"], legs["left"], legs["right"]
        )

    w_pass = _ramp(t, m.t_contact - 0.35, m.t_contact - 0.12, m.t_release, m.t_release + 0.2)
    if w_pass > 0:
        # the passer's hand closes on the receiver's hand, meets it exactly at contact,
        # stays on it until the release, then draws back
        behind = 0.25 * np.clip((m.t_contact - t) / 0.25, 0, 1) + 0.3 * np.clip(
            (t - m.t_release) / 0.2, 0, 1
        )
        target = _hand_point(outgoing, recv) - np.array([behind, 0.0, 0.0])
        # leaning into the pass only for the contact: out of reach before, the hand
        # is still closing in, and after the release it lets go
        w_lean = _ramp(t, m.t_contact - 0.1, m.t_contact, m.t_release, m.t_release + 0.1)
        lean += w_lean * _reaching_lean(
            lambda extra: replace(incoming_pose(), lean=lean + extra), target, pss, h_in
        )
        shoulder = skel.landmarks_3d(incoming_pose(), h_in)[LANDMARK_INDEX[f"{pss}_shoulder"]]
        arms[pss] = _mix(arms[pss], _reach(shoulder, target, h_in), w_pass)
    incoming = skel.landmarks_3d(incoming_pose(), h_in)
    baton, holder, held = _baton(ep, t, incoming, outgoing, switch_t)
    return Bodies(incoming, outgoing, baton, holder, held)


def _baton(
    ep: Episode, t: float, incoming, outgoing, switch_t
) -> tuple[np.ndarray, str, dict[str, str]]:
    spec, m = ep.spec, ep.motion
    recv, pss = spec.receiving_hand, spec.passing_hand
    drop_t = m.t_contact + 0.5 * spec.contact_s if spec.dropped else None
    if drop_t is not None and t >= drop_t:
        return _falling_baton(ep, t, drop_t), "none", {}
    if t < m.t_contact:
        hand, holder, held = _hand_point(incoming, pss), "incoming", {"incoming": pss}
        forward = (
            incoming[LANDMARK_INDEX[f"{pss}_index"]] - incoming[LANDMARK_INDEX[f"{pss}_wrist"]]
        )
    elif t < m.t_release:
        hand = (_hand_point(incoming, pss) + _hand_point(outgoing, recv)) / 2
        holder, forward = "both", np.array([1.0, 0.0, 0.0])
        held = {"incoming": pss, "outgoing": recv}
    else:
        side = recv
        if switch_t is not None and t >= switch_t:
            side = "left" if recv == "right" else "right"
        hand, holder, held = _hand_point(outgoing, side), "outgoing", {"outgoing": side}
        forward = (
            outgoing[LANDMARK_INDEX[f"{side}_index"]] - outgoing[LANDMARK_INDEX[f"{side}_wrist"]]
        )
    axis = np.cross(forward, [0.0, 1.0, 0.0])
    axis = axis / max(np.linalg.norm(axis), 1e-9)
    return np.stack([hand - axis * 0.15, hand + axis * 0.15]), holder, held


def _falling_baton(ep: Episode, t: float, drop_t: float) -> np.ndarray:
    m = ep.motion
    at_drop = bodies_at(ep, drop_t - 1e-6)  # baton still in the hands just before the drop
    centre0 = at_drop.baton.mean(axis=0)
    v0 = float(np.interp(drop_t, m.t, m.v_in))
    dt = t - drop_t
    fall = min(dt, np.sqrt(2 * max(centre0[2] - 0.02, 0) / GRAVITY))
    centre = centre0 + np.array([v0 * fall * 0.8, 0.0, -0.5 * GRAVITY * fall**2])
    half = np.array([0.15, 0.0, 0.0])
    return np.stack([centre - half, centre + half])


# ---------------------------------------------------------------------- camera
def make_camera(spec: CameraSpec, look_x: float) -> PinholeCamera:
    d, h = spec.distance_m, spec.height_m
    target = np.array([look_x, 0.0, 1.0])
    positions = {
        "side_stands": (look_x, -d, h),
        "side_infield": (look_x, d, h),
        "oblique": (look_x - d * 0.7071, -d * 0.7071, h),
        "end_behind": (look_x - d, 0.0, h),
        "end_front": (look_x + d, 0.0, h),
    }
    default_fov = {
        "side_stands": 2 * np.degrees(np.arctan(14 / d)),
        "side_infield": 2 * np.degrees(np.arctan(14 / d)),
        "oblique": 2 * np.degrees(np.arctan(12 / d)),
        "end_behind": 2 * np.degrees(np.arctan(4 / d)),
        "end_front": 2 * np.degrees(np.arctan(4 / d)),
    }
    fov = spec.fov_deg or float(np.clip(default_fov[spec.view], 10, 90))
    return PinholeCamera.look_at(
        np.array(positions[spec.view], float),
        target,
        fov,
        spec.width,
        spec.height,
        spec.k1,
        spec.k2,
    )


def _panned(base: PinholeCamera, follow_x: float) -> PinholeCamera:
    """The same camera turned towards the lane point ``follow_x``."""
    forward = np.array([follow_x, 0.0, 1.0]) - base.position
    return replace(base, forward=forward / np.linalg.norm(forward))


# -------------------------------------------------------------------- landmarks
def _occluded(points_px, depth, torso_px, torso_depth) -> np.ndarray:
    """Landmarks inside a torso polygon and behind it."""
    import cv2

    poly = torso_px.astype(np.float32).reshape(-1, 1, 2)
    inside = np.array(
        [cv2.pointPolygonTest(poly, (float(x), float(y)), False) >= 0 for x, y in points_px]
    )
    return inside & (depth > torso_depth + 0.08)


_TORSO = [LANDMARK_INDEX[n] for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")]


def _pose_from_3d(points, camera: PinholeCamera, others: list[np.ndarray]) -> Pose | None:
    px, depth = camera.project(points)
    if np.any(depth < 0.5):
        return None
    inside = (
        (px[:, 0] >= 0) & (px[:, 0] < camera.width) & (px[:, 1] >= 0) & (px[:, 1] < camera.height)
    )
    if inside.mean() < 0.5:
        return None
    hip_mid = (points[LANDMARK_INDEX["left_hip"]] + points[LANDMARK_INDEX["right_hip"]]) / 2
    _, hip_depth = camera.project(hip_mid[None])
    z = (depth - hip_depth[0]) * camera.focal_px / hip_depth[0]
    hidden = np.zeros(N_LANDMARKS, bool)
    for body in [points, *others]:
        tpx, tdepth = camera.project(body[_TORSO])
        hidden |= _occluded(px, depth, tpx, float(tdepth.mean()))
    visibility = np.where(hidden, 0.3, 0.97)
    presence = np.where(inside, 0.99, 0.1)
    return Pose(px, z, visibility, presence)


# ---------------------------------------------------------------------- simulate
@dataclass
class Simulation:
    """Everything a simulated clip produced."""

    scenario: Scenario
    landmarks: pd.DataFrame
    labels: ClipLabels
    frame_times: np.ndarray
    episodes: list[Episode]
    cameras: list[PinholeCamera]
    zone_length_m: float

    def world_at(self, frame: int) -> tuple[Episode, Bodies] | None:
        """The active episode and its bodies at ``frame`` (for renderers)."""
        t = self.frame_times[frame]
        for ep in self.episodes:
            if ep.start <= ep.local(t) <= ep.end:
                return ep, bodies_at(ep, ep.local(t))
        return None

    def baton_table(self) -> pd.DataFrame:
        """Per frame: who holds the baton with which hand, and its ends in the image (as
        a perfect baton finder would report them: the sightings table's columns)."""
        rows = []
        for f, t in enumerate(self.frame_times):
            world = self.world_at(f)
            if world is None:
                continue
            bodies = world[1]
            px, depth = self.cameras[f].project(bodies.baton)
            if np.any(depth <= 0):
                continue
            rows.append(
                {
                    "frame": f,
                    "time_s": float(t),
                    "x0_px": px[0, 0],
                    "y0_px": px[0, 1],
                    "x1_px": px[1, 0],
                    "y1_px": px[1, 1],
                    "width_px": 4.0,
                    "expected_length_px": float(np.linalg.norm(px[1] - px[0])),
                    "score": 1.0,
                    "holder": bodies.holder,
                    "incoming_hand": bodies.held.get("incoming"),
                    "outgoing_hand": bodies.held.get("outgoing"),
                }
            )
        return pd.DataFrame(rows)

    def camera_motion(self) -> pd.DataFrame:
        """The true camera-motion table (as :mod:`handoff_cv.camera_motion` estimates it):
        per frame, the homography from its pixels to the first frame's. The camera only
        turns about its centre, so it is ``K R0 Rf^T K^-1``."""
        from handoff_cv.camera_motion import H_COLUMNS, MOTION_COLUMNS

        first = self.cameras[0]
        k = np.array(
            [[first.focal_px, 0, first.width / 2], [0, first.focal_px, first.height / 2], [0, 0, 1]]
        )
        r0 = np.stack(first.axes)
        rows = []
        for f, (t, camera) in enumerate(zip(self.frame_times, self.cameras, strict=True)):
            h = k @ r0 @ np.stack(camera.axes).T @ np.linalg.inv(k)
            row = {"frame": f, "time_s": float(t), "inliers": 0, "ok": True}
            row.update(zip(H_COLUMNS, (h / h[2, 2]).ravel().tolist(), strict=True))
            rows.append(row)
        return pd.DataFrame(rows, columns=MOTION_COLUMNS)


def simulate(scenario: Scenario) -> Simulation:
    """Simulate ``scenario`` and return its landmark table and ground truth."""
    rng = np.random.default_rng(scenario.seed)
    cam_spec = scenario.camera
    episodes, clip_t = [], 0.0
    for i, spec in enumerate(scenario.exchanges):
        ep = _episode(spec, i, clip_t)
        episodes.append(ep)
        clip_t += ep.end - ep.start
    zone = scenario.exchanges[0].zone_length_m
    first = episodes[0]
    look_x = cam_spec.look_at_m
    if look_x is None:
        look_x = float(np.interp(first.motion.t_transfer, first.motion.t, first.motion.x_out))
    base = make_camera(cam_spec, look_x)
    n = int(np.floor(clip_t * cam_spec.fps))
    times = np.arange(n) / cam_spec.fps
    if scenario.frame_time_jitter_s:
        jitter = rng.uniform(-1, 1, n) * scenario.frame_time_jitter_s
        times = np.maximum.accumulate(times + jitter * (np.arange(n) > 0)) + 1e-6 * np.arange(n)
    poses: list[TrackedPose] = []
    cameras: list[PinholeCamera] = []
    follow = look_x
    for f, t in enumerate(times):
        ep = next(e for e in episodes if e.start - 1e-9 <= e.local(t) <= e.end + 1e-9)
        bodies = bodies_at(ep, ep.local(t))
        camera = base
        if cam_spec.pan:
            mid = (bodies.incoming[23, 0] + bodies.outgoing[23, 0]) / 2
            follow += (mid - follow) * min(1.0, (1 / cam_spec.fps) / 0.3)
            camera = _panned(base, follow)
        cameras.append(camera)
        runners = (
            (ep.incoming_id, bodies.incoming, bodies.outgoing),
            (ep.outgoing_id, bodies.outgoing, bodies.incoming),
        )
        for track_id, pts, other in runners:
            pose = _pose_from_3d(pts, camera, [other])
            if pose is not None:
                poses.append(TrackedPose(f, float(t), track_id, pose))
    table = lm.from_tracked_poses(poses)
    table.attrs["frame_size"] = (cam_spec.width, cam_spec.height)  # as a tracked video's
    seen = {(p.frame, p.track_id) for p in poses}
    shown = [ep for ep in episodes if _pass_in_view(ep, times, seen)]
    labels = _labels(scenario, shown, cameras[0], times, zone)  # the zone as first seen
    return Simulation(scenario, table, labels, times, episodes, cameras, zone)


def _baton_x(ep: Episode) -> Callable[[float], float]:
    return lambda t: float(bodies_at(ep, t).baton.mean(axis=0)[0])


def _refine_crossing(f: Callable[[float], float], lo: float, hi: float, line: float) -> float:
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < line else (lo, mid)
    return (lo + hi) / 2


def _visible_stretch(camera: PinholeCamera) -> tuple[float, float] | None:
    """Whole metres of the runners' lane whose both edges are in view (None if < 4 m)."""
    xs = np.arange(-60.0, 90.0, 1.0)
    inside = np.ones(len(xs), bool)
    for y in (-0.61, 0.61):
        px, depth = camera.project(np.column_stack([xs, np.full_like(xs, y), np.zeros_like(xs)]))
        margin = 0.03 * np.array([camera.width, camera.height])
        inside &= (depth > 1.0) & np.all(
            (px >= margin) & (px <= [camera.width, camera.height] - margin), axis=1
        )
    if inside.sum() < 5:
        return None
    seen = xs[inside]
    return float(seen.min()), float(seen.max())


def _calibration_rectangle(camera: PinholeCamera, zone: float):
    """A lane rectangle for the zone calibration: the zone itself when its corners are in
    view, else the stretch of lane in view (a coach marks points at known distances), else
    the zone or a stretch in front of the camera (end-on views) with corners that may lie
    outside the image."""
    ahead = float(camera.position[0] + np.sign(camera.forward[0] or 1.0) * 8.0)
    stretch = _visible_stretch(camera)
    candidates = [((0.0, zone), 1.0)]
    if stretch is not None:
        candidates.append((stretch, 1.0))
    candidates += [
        ((0.0, zone), 2.5),
        ((ahead, ahead + 10.0 * np.sign(camera.forward[0] or 1.0)), 2.5),
    ]
    for (a, b), reach in candidates:
        a, b = min(a, b), max(a, b)
        world = np.array([[a, -0.61, 0], [b, -0.61, 0], [b, 0.61, 0], [a, 0.61, 0]])
        px, depth = camera.project(world)
        half = np.array([camera.width, camera.height]) * 0.5
        if np.all(depth > 1.0) and np.all(np.abs(px - half) <= half * reach):
            return a, b, px
    return a, b, px


def _pass_in_view(ep: Episode, times: np.ndarray, seen: set[tuple[int, int]]) -> bool:
    """Both runners in the frame through the contact: an exchange the camera framed for
    another spot can happen out of shot, and then no video could show it."""
    m = ep.motion
    frames = np.nonzero(
        (times >= m.t_contact + ep.offset - 1e-9) & (times <= m.t_release + ep.offset + 1e-9)
    )[0]
    if len(frames) == 0:  # a contact shorter than a frame: the frame nearest to it
        frames = [int(np.argmin(np.abs(times - m.t_transfer - ep.offset)))]
    return all((int(f), r) in seen for f in frames for r in (ep.incoming_id, ep.outgoing_id))


def _filmed(crossings: list[float | None], to_clip: float, times: np.ndarray) -> bool:
    """Both of the baton's zone-line crossings happen while the clip runs: a clip that ends
    before the baton leaves the zone cannot time it."""
    return all(c is not None and times[0] <= c + to_clip <= times[-1] for c in crossings)


def _labels(scenario, episodes, camera, times, zone) -> ClipLabels:
    exchanges = []
    for ep in episodes:
        spec, m = ep.spec, ep.motion
        to_clip = ep.offset

        def frame_of(t_local: float, to_clip: float = to_clip) -> int:
            return int(np.argmin(np.abs(times - (t_local + to_clip))))

        baton_x = _baton_x(ep)
        coarse = np.arange(ep.start - 3.0, m.t[-1], 0.02)
        xs = np.array([baton_x(t) for t in coarse])
        crossings = []
        for line in (0.0, zone):
            t0 = crossing_time(coarse, np.maximum.accumulate(xs), line)
            crossings.append(
                None if t0 is None else _refine_crossing(baton_x, t0 - 0.03, t0 + 0.03, line)
            )
        contact_x, release_x = baton_x(m.t_contact), baton_x(m.t_release)
        gap = m.x_out - m.x_in
        v_in_x = float(np.interp(m.t_transfer, m.t, m.v_in))
        v_out_x = float(np.interp(m.t_transfer, m.t, m.v_out))
        dropped = spec.dropped
        release = m.t_contact + 0.5 * spec.contact_s if dropped else m.t_release
        verdict = speed_match_verdict(m.t, m.v_in, m.v_out, gap, m.t_contact, m.t_transfer)
        exchanges.append(
            ExchangeLabel(
                exchange_id=len(exchanges),
                incoming_track_id=ep.incoming_id,
                outgoing_track_id=ep.outgoing_id,
                passing_hand=spec.passing_hand,
                receiving_hand=spec.receiving_hand,
                same_hand=same_hand(spec.passing_hand, spec.receiving_hand),
                contact_start_s=m.t_contact + to_clip,
                transfer_s=None if dropped else m.t_transfer + to_clip,
                release_s=release + to_clip,
                contact_start_frame=frame_of(m.t_contact),
                transfer_frame=None if dropped else frame_of(m.t_transfer),
                release_frame=frame_of(m.t_release),
                incoming_speed_mps=v_in_x,
                outgoing_speed_mps=v_out_x,
                speed_ratio=v_out_x / v_in_x,
                speed_match=verdict,
                free_distance_m=float(np.interp(m.t_transfer, m.t, gap)),
                baton_contact_position_m=contact_x,
                baton_release_position_m=release_x,
                legal=None if dropped else is_legal(contact_x, release_x, zone),
                baton_zone_time_s=(crossings[1] - crossings[0])
                if _filmed(crossings, to_clip, times) and not dropped
                else None,
                pass_style=spec.pass_style,
                pass_type=spec.pass_type,
                receiver_hand_switch=spec.hand_switch_after_s is not None and not dropped,
                dropped=dropped,
                incoming_height_m=spec.incoming_height_m,
                outgoing_height_m=spec.outgoing_height_m,
                go_mark_m=spec.go_mark_m,
            )
        )
    cam = scenario.camera
    x0, x1, corners_px = _calibration_rectangle(camera, zone)
    return ClipLabels(
        clip=scenario.name,
        fps=cam.fps,
        width=cam.width,
        height=cam.height,
        frame_count=len(times),
        camera=CameraLabel(
            view=cam.view,
            position_m=tuple(camera.position.round(3)),
            target_m=tuple((camera.position + camera.forward).round(3)),
            fov_deg=float(np.degrees(2 * np.arctan(cam.width / 2 / camera.focal_px))),
            panning=cam.pan,
        ),
        zone=ZoneLabel(
            relay=scenario.exchanges[0].relay,
            length_m=zone,
            image_corners_px=[tuple(map(float, c)) for c in corners_px],
            corners_x_m=(x0, x1),
        ),
        exchanges=exchanges,
        tags=dict(scenario.tags),
    )
