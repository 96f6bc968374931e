"""Retarget the simulator's runners onto anny bodies (needs the ``[synth]`` extra).

The simulator poses a runner as 33 landmarks in world metres (see :mod:`.body`). Here each
bone of an anny rig gets the world orientation that carries its rest direction onto the
matching landmark segment, with a second axis fixing the twist (knee axis, palm, shoulder
line). anny's ``world-orient`` parameterisation then places every bone's head on its parent
with anny's own bone lengths, so the mesh stays whole; bones without a landmark segment
(fingers, toes, spine links) keep their rest pose relative to their parent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from handoff_cv.pose import LANDMARK_INDEX
from handoff_cv.synth import body as skel

ANNY_REQUIRED = (
    "Rendering needs the optional renderer: pip install 'handoff-cv[synth]' "
    "(torch==2.13.0 and anny)"
)

# Phenotype values are anny's 0-1 sliders.
Phenotype = dict[str, float]


def _anny():
    try:
        import anny
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(ANNY_REQUIRED) from exc
    return anny, torch


@cache
def anny_model():
    """The shared anny model (the first construction on a machine takes about a minute)."""
    anny, torch = _anny()
    torch.set_num_threads(1)
    with torch.no_grad():
        return anny.Anny(pose_parameterization="world-orient")


def _lm(points: np.ndarray, name: str) -> np.ndarray:
    return points[..., LANDMARK_INDEX[name], :]


def _mid(points: np.ndarray, a: str, b: str) -> np.ndarray:
    return (_lm(points, a) + _lm(points, b)) / 2


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _basis(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal frames (..., 3, 3) whose columns are primary, secondary (made orthogonal)
    and their cross product."""
    e1 = _unit(primary)
    e2 = _unit(secondary - np.sum(secondary * e1, axis=-1, keepdims=True) * e1)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=-1)


def _perp(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    axis = _unit(axis)
    return v - np.sum(v * axis, axis=-1, keepdims=True) * axis


@dataclass(frozen=True)
class Frames:
    """The axes a group of bones is aligned by: primary and secondary direction vectors."""

    primary: np.ndarray
    secondary: np.ndarray


Joints = Callable[[str], np.ndarray]
"""Joint position by name, for the rest rig or for the simulator's landmarks."""


def _groups(j: Joints, forward: np.ndarray) -> dict[str, Frames]:
    """The same construction on the rest rig and on the target landmarks, so that
    identical shapes give identity rotations."""
    hip_mid = (j("left_hip") + j("right_hip")) / 2
    shoulder_mid = (j("left_shoulder") + j("right_shoulder")) / 2
    up = shoulder_mid - hip_mid
    pelvis_left = j("left_hip") - j("right_hip")
    groups = {
        "pelvis": Frames(up, pelvis_left),
        "chest": Frames(up, j("left_shoulder") - j("right_shoulder")),
        "head": Frames(
            j("nose") - (j("left_ear") + j("right_ear")) / 2, j("left_ear") - j("right_ear")
        ),
    }
    for side in ("left", "right"):
        shoulder, elbow, wrist = j(f"{side}_shoulder"), j(f"{side}_elbow"), j(f"{side}_wrist")
        knuckles = (j(f"{side}_index") + j(f"{side}_pinky")) / 2
        across_palm = j(f"{side}_index") - j(f"{side}_pinky")
        upper, fore = elbow - shoulder, wrist - elbow
        bend = _perp(_unit(fore), upper) + 0.2 * _perp(forward, upper)
        groups[f"{side}_upperarm"] = Frames(upper, bend)
        groups[f"{side}_forearm"] = Frames(fore, across_palm)
        groups[f"{side}_hand"] = Frames(knuckles - wrist, across_palm)
        hip, knee, ankle = j(f"{side}_hip"), j(f"{side}_knee"), j(f"{side}_ankle")
        groups[f"{side}_thigh"] = Frames(knee - hip, pelvis_left)
        groups[f"{side}_shank"] = Frames(ankle - knee, pelvis_left)
        groups[f"{side}_foot"] = Frames(j(f"{side}_foot_index") - ankle, pelvis_left)
    return groups


def _bone_groups(labels: list[str]) -> dict[int, str]:
    """Which landmark group drives each bone (others follow their parent)."""
    side = {"L": "left", "R": "right"}
    rules = [
        (("root", "pelvis.", "spine05", "spine04"), "pelvis"),
        (("spine03", "spine02", "spine01", "clavicle.", "shoulder01.", "neck01"), "chest"),
        (("neck02", "neck03", "head"), "head"),
        (("upperarm0",), "upperarm"),
        (("lowerarm0",), "forearm"),
        (("wrist.",), "hand"),
        (("upperleg0",), "thigh"),
        (("lowerleg0",), "shank"),
        (("foot.",), "foot"),
    ]
    out = {}
    for i, label in enumerate(labels):
        for prefixes, group in rules:
            if label.startswith(prefixes):
                sided = label[-2:-1] == "." and label[-1] in side
                out[i] = (
                    f"{side[label[-1]]}_{group}"
                    if sided and group not in ("pelvis", "chest")
                    else group
                )
                break
    return out


_REST_JOINTS = {
    "left_hip": "upperleg01.L",
    "right_hip": "upperleg01.R",
    "left_knee": "lowerleg01.L",
    "right_knee": "lowerleg01.R",
    "left_ankle": "foot.L",
    "right_ankle": "foot.R",
    "left_shoulder": "upperarm01.L",
    "right_shoulder": "upperarm01.R",
    "left_elbow": "lowerarm01.L",
    "right_elbow": "lowerarm01.R",
    "left_wrist": "wrist.L",
    "right_wrist": "wrist.R",
    "left_index": "finger2-1.L",
    "right_index": "finger2-1.R",
    "left_pinky": "finger5-1.L",
    "right_pinky": "finger5-1.R",
    "left_foot_index": "toe3-1.L",
    "right_foot_index": "toe3-1.R",
}
ANNY_FORWARD = np.array([0.0, -1.0, 0.0])  # anny's rest body faces -y, left is +x, up +z
ANNY_LEFT = np.array([1.0, 0.0, 0.0])


class AnnyRunner:
    """One anny body of a given phenotype, posed from the simulator's landmarks.

    ``stature_m`` scales the body so its hip height matches the simulator's runner of
    that stature (feet then meet the ground as in the simulation).
    """

    def __init__(self, phenotype: Phenotype, stature_m: float) -> None:
        _, torch = _anny()
        self.model = anny_model()
        self._torch = torch
        self.phenotype = dict(phenotype)
        labels = list(self.model.bone_labels)
        self.labels = labels
        self.parents = np.asarray(self.model.bone_parents)
        with torch.no_grad():
            rest = self.model(phenotype_kwargs=self._phenotype_tensor(1))
        self.rest_poses = rest["rest_bone_poses"][0].double().numpy()
        rest_vertices = rest["rest_vertices"][0].double().numpy()
        heads = self.rest_poses[:, :3, 3]
        index = {name: i for i, name in enumerate(labels)}
        self.index = index
        self.faces = self.model.get_triangular_faces().numpy().astype(np.int32)
        self.vertex_bone = _dominant_bone(self.model, len(rest_vertices))
        self.rest_vertices = rest_vertices

        def rest_joint(name: str) -> np.ndarray:
            if name in _REST_JOINTS:
                return heads[index[_REST_JOINTS[name]]]
            if name == "nose":
                return heads[index["head"]] + ANNY_FORWARD * 0.1 + [0, 0, 0.06]
            if name in ("left_ear", "right_ear"):
                sign = 1 if name.startswith("left") else -1
                return heads[index["head"]] + ANNY_LEFT * 0.07 * sign + [0, 0, 0.06]
            raise KeyError(name)

        self.rest_groups = _groups(rest_joint, ANNY_FORWARD)
        self.bone_group = _bone_groups(labels)
        sole = rest_vertices[:, 2].min()
        hip_mid = (heads[index["upperleg01.L"]] + heads[index["upperleg01.R"]]) / 2
        self.rest_hip_mid = hip_mid
        self.scale = skel.HIP_HEIGHT * stature_m / (hip_mid[2] - sole)
        self.stature_m = float((rest_vertices[:, 2].max() - sole) * self.scale)

    def _phenotype_tensor(self, n: int):
        torch = self._torch
        return {
            k: torch.full((n,), float(v), dtype=torch.float32) for k, v in self.phenotype.items()
        }

    def bone_orientations(
        self, landmarks: np.ndarray, arms: np.ndarray | None = None
    ) -> np.ndarray:
        """World orientation (T, J, 3, 3) of every bone for landmarks (T, 33, 3); the arm
        bones follow ``arms`` (landmarks refitted to anny's arms) when given."""
        forward = np.array([1.0, 0.0, 0.0])
        target = _groups(lambda name: _lm(landmarks, name), forward)
        if arms is not None:
            refit = _groups(lambda name: _lm(arms, name), forward)
            target.update({k: v for k, v in refit.items() if k.endswith(("upperarm", "forearm"))})
        rotations = {}
        for name, frames in target.items():
            rest = self.rest_groups[name]
            b_rest = _basis(rest.primary, rest.secondary)
            b_tgt = _basis(frames.primary, frames.secondary)
            rotations[name] = b_tgt @ b_rest.T
        n = len(landmarks)
        delta = np.zeros((n, len(self.labels), 3, 3))
        for i in range(len(self.labels)):
            group = self.bone_group.get(i)
            delta[:, i] = rotations[group] if group else delta[:, self.parents[i]]
        return delta @ self.rest_poses[None, :, :3, :3]

    def _forward(self, orient: np.ndarray, hip_mid: np.ndarray):
        torch = self._torch
        n = len(orient)
        root_offset = self.rest_hip_mid - self.rest_poses[0, :3, 3]
        root_delta = orient[:, 0] @ self.rest_poses[0, :3, :3].T
        deltas = np.zeros((n, len(self.labels), 4, 4))
        deltas[..., :3, :3] = orient
        deltas[..., 3, 3] = 1.0
        deltas[:, 0, :3, 3] = hip_mid / self.scale - root_delta @ root_offset
        with torch.no_grad():
            out = self.model(
                pose_parameters=torch.as_tensor(deltas, dtype=torch.float32),
                phenotype_kwargs=self._phenotype_tensor(n),
            )
        vertices = out["vertices"].double().numpy() * self.scale
        heads = out["bone_poses"][..., :3, 3].double().numpy() * self.scale
        return vertices, heads

    def pose(self, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vertices (T, V, 3) in world metres and bone heads (T, J, 3) for landmarks
        (T, 33, 3).

        Two passes: the body posed by segment directions, then the arms refitted by
        two-bone IK so anny's wrists land on the simulator's wrists (anny's arms and
        shoulders differ from the simulator's, and at the pass the hands must meet).
        """
        landmarks = np.asarray(landmarks, float)
        hip_mid = _mid(landmarks, "left_hip", "right_hip")
        _, heads = self._forward(self.bone_orientations(landmarks), hip_mid)
        arms = landmarks.copy()
        for side, s in (("left", "L"), ("right", "R")):
            shoulder = heads[:, self.index[f"upperarm01.{s}"]]
            elbow = two_bone_ik(
                shoulder,
                _lm(landmarks, f"{side}_wrist"),
                _lm(landmarks, f"{side}_elbow") - _lm(landmarks, f"{side}_shoulder"),
                self._segment(f"upperarm01.{s}", f"lowerarm01.{s}"),
                self._segment(f"lowerarm01.{s}", f"wrist.{s}"),
            )
            arms[:, LANDMARK_INDEX[f"{side}_shoulder"]] = shoulder
            arms[:, LANDMARK_INDEX[f"{side}_elbow"]] = elbow
        return self._forward(self.bone_orientations(landmarks, arms), hip_mid)

    def _segment(self, a: str, b: str) -> float:
        heads = self.rest_poses[:, :3, 3]
        return float(np.linalg.norm(heads[self.index[b]] - heads[self.index[a]]) * self.scale)

    def hand_points(self, heads: np.ndarray, side: str) -> np.ndarray:
        """The middle of the palm (T, 3) where a baton sits, from posed bone heads."""
        s = "L" if side == "left" else "R"
        knuckles = heads[:, self.index[f"finger2-1.{s}"]] + heads[:, self.index[f"finger5-1.{s}"]]
        return (heads[:, self.index[f"wrist.{s}"]] + knuckles / 2) / 2


def _dominant_bone(model, n_vertices: int) -> np.ndarray:
    weights = model.vertex_bone_weights.numpy()
    indices = model.vertex_bone_indices.numpy()
    best = indices[np.arange(n_vertices), np.argmax(weights, axis=1)]
    return best.astype(np.int32)


def two_bone_ik(
    root: np.ndarray, target: np.ndarray, pole: np.ndarray, upper: float, lower: float
) -> np.ndarray:
    """Middle joint (T, 3) of a two-bone chain from ``root`` reaching for ``target``,
    bent towards ``pole`` (a direction); out-of-reach targets are approached along the
    straight line."""
    d = target - root
    dist = np.clip(
        np.linalg.norm(d, axis=-1, keepdims=True),
        abs(upper - lower) + 1e-4,
        (upper + lower) * 0.999,
    )
    axis = _unit(d)
    bend = _unit(_perp(pole, axis) + 1e-6 * np.array([0.0, 0.0, -1.0]))
    cos_a = (upper**2 + dist**2 - lower**2) / (2 * upper * dist)
    sin_a = np.sqrt(np.clip(1 - cos_a**2, 0, 1))
    return root + upper * (cos_a * axis + sin_a * bend)
