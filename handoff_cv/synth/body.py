"""A kinematic runner: joint angles from gait phase and pass posture -> 33 landmarks in 3D.

World frame (metres): ``x`` along the lane in the running direction, ``y`` to the runner's
left (towards the infield on a counter-clockwise track), ``z`` up, ground at ``z = 0``.
Segment lengths are fractions of stature (Winter, *Biomechanics and Motor Control of Human
Movement*, anthropometric table). Angles are in radians; a shoulder or hip angle of 0 hangs
straight down, positive swings forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handoff_cv.pose import LANDMARK_INDEX, N_LANDMARKS

HIP_HEIGHT = 0.530
SHOULDER_ABOVE_HIP = 0.288
HALF_HIP_WIDTH = 0.085
HALF_SHOULDER_WIDTH = 0.125
UPPER_ARM = 0.186
FOREARM = 0.146
HAND = 0.108
THIGH = 0.245
SHANK = 0.246
FOOT = 0.152
ANKLE_HEIGHT = 0.039

F = np.array([1.0, 0.0, 0.0])
L = np.array([0.0, 1.0, 0.0])
U = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class ArmPose:
    """Shoulder angle (forward swing), elbow flexion, sideways reach (+ = away from body)."""

    shoulder: float
    elbow: float
    abduction: float = 0.1
    palm_up: bool = False


@dataclass(frozen=True)
class LegPose:
    hip: float
    knee: float


@dataclass(frozen=True)
class BodyPose:
    """Everything that places a body at one instant."""

    pelvis: np.ndarray
    """(3,) pelvis centre on the ground plane's x, y and its height z."""
    lean: float
    """Forward trunk lean (rad)."""
    head_yaw: float
    """Head turn to the left (rad); pi turns it to look straight back."""
    trunk_yaw: float
    left_arm: ArmPose
    right_arm: ArmPose
    left_leg: LegPose
    right_leg: LegPose


def _rot_z(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1], v[2]])


def _sagittal(angle: float, forward: np.ndarray) -> np.ndarray:
    """Unit vector hanging down rotated forward by ``angle`` in the forward-up plane."""
    return -U * np.cos(angle) + forward * np.sin(angle)


def leg_points(hip: np.ndarray, leg: LegPose, height: float) -> dict[str, np.ndarray]:
    thigh = _sagittal(leg.hip, F)
    knee = hip + thigh * THIGH * height
    shank_angle = leg.hip - leg.knee
    ankle = knee + _sagittal(shank_angle, F) * SHANK * height
    foot_dir = F * np.cos(shank_angle) + U * np.sin(shank_angle)
    down = -U * ANKLE_HEIGHT * height * 0.6
    return {
        "knee": knee,
        "ankle": ankle,
        "heel": ankle - foot_dir * 0.25 * FOOT * height + down,
        "foot_index": ankle + foot_dir * 0.75 * FOOT * height + down,
    }


def arm_points(
    shoulder: np.ndarray, arm: ArmPose, side: float, forward: np.ndarray, height: float
) -> dict[str, np.ndarray]:
    """``side`` is +1 for the left arm, -1 for the right."""
    out_dir = np.cross(U, forward) * side  # away from the body's midline
    upper = _sagittal(arm.shoulder, forward) + out_dir * np.sin(arm.abduction)
    upper /= np.linalg.norm(upper)
    elbow = shoulder + upper * UPPER_ARM * height
    fore = _sagittal(arm.shoulder + arm.elbow, forward) + out_dir * np.sin(arm.abduction) * 0.5
    fore /= np.linalg.norm(fore)
    wrist = elbow + fore * FOREARM * height
    hand = wrist + fore * HAND * height * 0.55
    # The thumb points to the midline with the palm down or facing back, outward palm up.
    thumb_side = -out_dir if not arm.palm_up else out_dir
    return {
        "elbow": elbow,
        "wrist": wrist,
        "index": hand + thumb_side * 0.012 * height,
        "pinky": hand - thumb_side * 0.018 * height,
        "thumb": wrist + fore * HAND * height * 0.3 + thumb_side * 0.025 * height,
    }


def head_points(neck: np.ndarray, forward: np.ndarray, height: float) -> dict[str, np.ndarray]:
    left = np.cross(U, forward)
    centre = neck + U * 0.075 * height
    eye_line = centre + forward * 0.045 * height + U * 0.012 * height
    return {
        "nose": centre + forward * 0.06 * height,
        "left_eye_inner": eye_line + left * 0.012 * height,
        "left_eye": eye_line + left * 0.02 * height,
        "left_eye_outer": eye_line + left * 0.03 * height,
        "right_eye_inner": eye_line - left * 0.012 * height,
        "right_eye": eye_line - left * 0.02 * height,
        "right_eye_outer": eye_line - left * 0.03 * height,
        "left_ear": centre + left * 0.045 * height,
        "right_ear": centre - left * 0.045 * height,
        "mouth_left": centre + forward * 0.05 * height - U * 0.03 * height + left * 0.015 * height,
        "mouth_right": centre + forward * 0.05 * height - U * 0.03 * height - left * 0.015 * height,
    }


def landmarks_3d(pose: BodyPose, height: float) -> np.ndarray:
    """The 33 MediaPipe landmarks of ``pose`` in world metres, shape (33, 3)."""
    pts: dict[str, np.ndarray] = {}
    trunk_forward = _rot_z(F, pose.trunk_yaw)
    trunk_left = np.cross(U, trunk_forward)
    pelvis = pose.pelvis
    for side, name in ((1, "left"), (-1, "right")):
        pts[f"{name}_hip"] = pelvis + L * side * HALF_HIP_WIDTH * height
    up = U * np.cos(pose.lean) + F * np.sin(pose.lean)
    chest = pelvis + up * SHOULDER_ABOVE_HIP * height
    for side, name in ((1, "left"), (-1, "right")):
        pts[f"{name}_shoulder"] = chest + trunk_left * side * HALF_SHOULDER_WIDTH * height
    neck = chest + up * 0.03 * height
    pts.update(head_points(neck, _rot_z(F, pose.head_yaw), height))
    for side, name, arm in ((1, "left", pose.left_arm), (-1, "right", pose.right_arm)):
        for part, p in arm_points(pts[f"{name}_shoulder"], arm, side, F, height).items():
            pts[f"{name}_{part}"] = p
    for name, leg in (("left", pose.left_leg), ("right", pose.right_leg)):
        for part, p in leg_points(pts[f"{name}_hip"], leg, height).items():
            pts[f"{name}_{part}"] = p
    out = np.zeros((N_LANDMARKS, 3))
    for name, p in pts.items():
        out[LANDMARK_INDEX[name]] = p
    return out


def lowest_foot_drop(leg: LegPose, height: float) -> float:
    """How far below the hip the leg's lowest point reaches (metres)."""
    pts = leg_points(np.zeros(3), leg, height)
    return -min(p[2] for p in pts.values())
