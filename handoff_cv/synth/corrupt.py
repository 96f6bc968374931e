"""Corruptions that mimic MediaPipe on real footage, each with a strength in [0, 1].

Applied to a simulated landmark table (never to the labels: the truth stays the truth).
Identity swaps happen only while the runners overlap at the pass, as trackers do, so the
labels' track ids (those of the approach) stay valid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from handoff_cv import landmarks as lm
from handoff_cv.pose import LANDMARK_NAMES, N_LANDMARKS, Pose
from handoff_cv.synth import body as skel
from handoff_cv.track import TrackedPose

LEVELS = {"clean": 0.0, "mild": 0.3, "moderate": 0.6, "heavy": 1.0}


def _mirrored_name(name: str) -> str:
    return name.replace("left", "#").replace("right", "left").replace("#", "right")


_SWAP = np.array([LANDMARK_NAMES.index(_mirrored_name(n)) for n in LANDMARK_NAMES])


class Corruption(BaseModel):
    """How strongly each failure mode of real pose estimation is imitated (0 = off)."""

    model_config = ConfigDict(extra="forbid")

    jitter: float = Field(
        0.0, ge=0, le=1, description="Landmark noise: Student-t, scale 1% of body height."
    )
    depth_jitter: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Depth (z) noise: Student-t, scale 4% of body height (MediaPipe's depth "
        "jitters by 3-8% of it on rendered runners).",
    )
    drop: float = Field(0.0, ge=0, le=1, description="Poses missing in short runs, up to 20%.")
    lr_swap: float = Field(0.0, ge=0, le=1, description="Left/right labels swapped, up to 15%.")
    id_swap: float = Field(0.0, ge=0, le=1, description="Chance the ids swap at the overlap.")
    missing: float = Field(0.0, ge=0, le=1, description="A runner unseen for up to 1 s.")
    spurious: float = Field(0.0, ge=0, le=1, description="A third person (a coach) in view.")

    @classmethod
    def level(cls, name: str) -> Corruption:
        s = LEVELS[name]
        return cls(jitter=s, depth_jitter=s, drop=s, lr_swap=s, id_swap=s, missing=s, spurious=s)

    @property
    def is_clean(self) -> bool:
        return not any(self.model_dump().values())


def corrupt(sim, corruption: Corruption, seed: int = 0) -> pd.DataFrame:
    """A corrupted copy of ``sim.landmarks`` (``sim`` is a :class:`Simulation`)."""
    rng = np.random.default_rng(seed)
    table = sim.landmarks.copy()
    if corruption.is_clean:
        return table
    values = table[["x_px", "y_px"]].to_numpy(np.float64).reshape(-1, N_LANDMARKS, 2)
    keys = table[["frame", "track_id"]].to_numpy().reshape(-1, N_LANDMARKS, 2)[:, 0]
    heights = np.ptp(values[:, :, 1], axis=1)
    if corruption.jitter:
        sigma = 0.03 * corruption.jitter * heights[:, None, None] / 3
        noise = rng.standard_t(4, size=values.shape) * sigma
        values = values + noise
    table[["x_px", "y_px"]] = values.reshape(-1, 2).astype(np.float32)
    if corruption.depth_jitter:  # its own stream: the other corruptions stay as they were
        depth_rng = np.random.default_rng([seed, 1])
        z = table["z"].to_numpy(np.float64).reshape(-1, N_LANDMARKS)
        scale = 0.04 * corruption.depth_jitter * heights[:, None]
        z = z + depth_rng.standard_t(4, size=z.shape) * scale
        table["z"] = z.reshape(-1).astype(np.float32)
    if corruption.lr_swap:  # the model takes one side for the other: every attribute moves
        cols = ["x_px", "y_px", "z", "visibility", "presence"]
        per_pose = table[cols].to_numpy(np.float64).reshape(-1, N_LANDMARKS, len(cols))
        per_pose = _swap_sides(per_pose, keys, 0.15 * corruption.lr_swap, rng)
        table[cols] = per_pose.reshape(-1, len(cols)).astype(np.float32)
    keep = np.ones(len(keys), bool)
    if corruption.drop:
        keep &= _runs_kept(keys, 0.2 * corruption.drop, rng)
    if corruption.missing:
        keep &= _missing_stretch(sim, keys, corruption.missing, rng)
    table = table[np.repeat(keep, N_LANDMARKS)]
    if corruption.id_swap and rng.random() < corruption.id_swap:
        table = _swap_identities_at_overlap(sim, table)
    if corruption.spurious:
        table = pd.concat([table, _coach(sim, corruption.spurious, rng)], ignore_index=True)
        table = table.sort_values(["frame", "track_id", "landmark"], ignore_index=True)
    return table


def _swap_sides(values, keys, fraction, rng) -> np.ndarray:
    out = values.copy()
    for track in np.unique(keys[:, 1]):
        rows = np.nonzero(keys[:, 1] == track)[0]
        n_swapped, target = 0, int(fraction * len(rows))
        while n_swapped < target:
            start = rng.integers(0, len(rows))
            run = rows[start : start + int(rng.integers(2, 7))]
            out[run] = values[run][:, _SWAP]
            n_swapped += len(run)
    return out


def _runs_kept(keys, fraction, rng) -> np.ndarray:
    keep = np.ones(len(keys), bool)
    target = int(fraction * len(keys))
    while (~keep).sum() < target:
        start = rng.integers(0, len(keys))
        track = keys[start, 1]
        run = [i for i in range(start, min(start + 12, len(keys))) if keys[i, 1] == track]
        keep[run[: int(rng.integers(1, 5))]] = False
    return keep


def _missing_stretch(sim, keys, strength, rng) -> np.ndarray:
    """Hide one runner for ``strength`` seconds, away from the pass (out of frame, occluded)."""
    keep = np.ones(len(keys), bool)
    label = sim.labels.exchanges[0]
    times = sim.frame_times[keys[:, 0]]
    duration = 1.0 * strength
    track = int(rng.choice([label.incoming_track_id, label.outgoing_track_id]))
    # end the gap at least 0.6 s before contact so the pass itself stays visible
    latest_end = label.contact_start_s - 0.6
    start = max(0.0, latest_end - duration - rng.uniform(0, 0.5))
    keep[(keys[:, 1] == track) & (times >= start) & (times < start + duration)] = False
    return keep


def _swap_identities_at_overlap(sim, table: pd.DataFrame) -> pd.DataFrame:
    """From the middle of the pass on, the two runners' ids are exchanged."""
    label = sim.labels.exchanges[0]
    a, b = label.incoming_track_id, label.outgoing_track_id
    swap_frame = label.transfer_frame or label.contact_start_frame
    out = table.copy()
    late = out.frame >= swap_frame
    ids = out.track_id.to_numpy().copy()
    mask = late.to_numpy()
    was_a, was_b = mask & (ids == a), mask & (ids == b)
    ids[was_a], ids[was_b] = b, a
    out["track_id"] = ids.astype(np.int32)
    return out.sort_values(["frame", "track_id", "landmark"], ignore_index=True)


def _coach(sim, strength: float, rng) -> pd.DataFrame:
    """A person walking slowly on the infield beside the lane for part of the clip."""
    n = len(sim.frame_times)
    span = int(n * (0.3 + 0.7 * strength))
    first = int(rng.integers(0, max(n - span, 1)))
    x0 = float(sim.labels.exchanges[0].baton_contact_position_m or 10.0) + rng.uniform(-8, 8)
    heading = rng.choice([-1.0, 1.0])
    poses = []
    for f in range(first, min(first + span, n)):
        t = sim.frame_times[f] - sim.frame_times[first]
        phase = 2 * np.pi * 0.9 * t
        legs = {s: skel.LegPose(0.25 * np.sin(phase + o), 0.2 + 0.25 * max(0, np.sin(phase + o)))
                for s, o in (("left", 0.0), ("right", np.pi))}  # fmt: skip
        arms = {
            s: skel.ArmPose(-0.25 * np.sin(phase + o), 0.3)
            for s, o in (("left", 0.0), ("right", np.pi))
        }
        drop = max(
            skel.lowest_foot_drop(legs["left"], 1.75), skel.lowest_foot_drop(legs["right"], 1.75)
        )
        pose3d = skel.BodyPose(np.array([x0 + heading * 1.2 * t, 2.8, drop]), 0.03, 0.0, 0.0,
                            arms["left"], arms["right"], legs["left"], legs["right"])  # fmt: skip
        points = skel.landmarks_3d(pose3d, 1.75)
        if heading < 0:  # walking the other way: mirror about the hips
            points[:, 0] = 2 * points[23:25, 0].mean() - points[:, 0]
        px, depth = sim.cameras[f].project(points)
        if np.any(depth < 0.5) or not (0 <= px[:, 0].mean() < sim.labels.width):
            continue
        pose = Pose(
            px, np.zeros(N_LANDMARKS), np.full(N_LANDMARKS, 0.9), np.full(N_LANDMARKS, 0.95)
        )
        poses.append(TrackedPose(f, float(sim.frame_times[f]), 90, pose))
    return lm.from_tracked_poses(poses)
