"""Render simulated exchanges as video: anny bodies on a track, a baton, a camera.

The renderer paints each frame back to front (painter's algorithm, Lambert shading) with
OpenCV, on a procedural track scene: lanes, the zone lines and go mark, infield grass and
stands. The motion, the camera and the ground-truth labels are the simulator's own
(:func:`handoff_cv.synth.scenario.simulate`), so the video's answers are known exactly.
Needs the ``[synth]`` extra (torch and anny).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from handoff_cv.outputs import atomic_path
from handoff_cv.pose import LANDMARK_INDEX
from handoff_cv.synth.camera import PinholeCamera
from handoff_cv.synth.rig import AnnyRunner
from handoff_cv.synth.scenario import Bodies, Scenario, Simulation, simulate
from handoff_cv.video import VideoWriter

RGB = tuple[int, int, int]
LANE_WIDTH_M = 1.22
LINE_WIDTH_M = 0.05
TRACK_LANES_INSIDE, TRACK_LANES_OUTSIDE = 4, 4  # lanes beside the runners' lane
TRACK, LINE, GRASS, APRON = (178, 74, 52), (240, 240, 236), (70, 128, 58), (150, 146, 140)
ZONE_MARK = (245, 215, 40)


class Look(BaseModel):
    """How one runner looks: anny phenotype sliders and clothing colours (RGB)."""

    model_config = ConfigDict(extra="forbid")

    gender: float = Field(0.0, ge=0, le=1, description="anny slider: 0 male, 1 female")
    muscle: float = Field(0.7, ge=0, le=1)
    weight: float = Field(0.4, ge=0, le=1)
    skin: RGB = (190, 140, 110)
    shirt: RGB = (200, 30, 40)
    shorts: RGB = (30, 30, 60)
    shoes: RGB = (240, 240, 240)
    hair: RGB = (40, 30, 25)


class RenderSpec(BaseModel):
    """Everything about a rendered clip beyond the simulated scenario."""

    model_config = ConfigDict(extra="forbid")

    incoming: Look = Field(default_factory=Look)
    outgoing: Look = Field(
        default_factory=lambda: Look(
            gender=1.0, shirt=(30, 90, 200), shorts=(20, 20, 20), skin=(120, 80, 60)
        )
    )
    baton: RGB = (250, 200, 0)
    light_azimuth_deg: float = 30.0
    light_elevation_deg: float = 50.0
    ambient: float = Field(0.45, ge=0, le=1)
    exposure: float = Field(1.0, gt=0.2, lt=2.0)
    blur_px: float = Field(0.6, ge=0, le=5, description="Gaussian blur of the whole frame.")
    motion_blur_px: int = Field(0, ge=0, le=15, description="Horizontal streak length.")
    noise: float = Field(2.0, ge=0, le=20, description="Sensor noise, grey levels (s.d.).")
    crf: int = Field(23, ge=0, le=51, description="H.264 quality (lower is better).")
    seed: int = 0


# ---------------------------------------------------------------------- regions
def _vertex_regions(runner: AnnyRunner) -> np.ndarray:
    """Clothing region per vertex: 0 skin, 1 shirt, 2 shorts, 3 shoes, 4 hair."""
    bone_names = np.array(runner.labels)[runner.vertex_bone]

    def bone_is(*prefixes: str) -> np.ndarray:
        return np.array([name.startswith(prefixes) for name in bone_names])

    z = runner.rest_vertices[:, 2]
    y = runner.rest_vertices[:, 1]
    heads = runner.rest_poses[:, :3, 3]
    hip_z = heads[runner.index["upperleg01.L"], 2]
    knee_z = heads[runner.index["lowerleg01.L"], 2]
    head_z = heads[runner.index["head"], 2]
    waist_z = hip_z + 0.55 * (heads[runner.index["spine02"], 2] - hip_z)
    torso = bone_is("spine", "clavicle", "shoulder01", "pelvis", "root")
    legs = bone_is("upperleg")
    region = np.zeros(len(z), np.int8)
    region[torso & (z >= waist_z)] = 1
    region[(torso | legs) & (z < waist_z) & (z > hip_z - 0.45 * (hip_z - knee_z))] = 2
    region[bone_is("foot", "toe")] = 3
    region[bone_is("head") & (z > head_z + 0.07) & (y > -0.07)] = 4
    return region


def _palette(look: Look) -> np.ndarray:
    return np.array([look.skin, look.shirt, look.shorts, look.shoes, look.hair], float)


@dataclass
class _Body:
    runner: AnnyRunner
    face_colour: np.ndarray  # (F, 3) base colour of each face
    vertices: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3)))  # (T, V, 3)
    heads: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3)))  # (T, J, 3)


def _body(look: Look, stature_m: float) -> _Body:
    runner = AnnyRunner(look.model_dump(include={"gender", "muscle", "weight"}), stature_m)
    region = _vertex_regions(runner)
    # a face takes the region most of its corners have (ties go to clothing)
    face_region = np.max(region[runner.faces], axis=1)
    return _Body(runner, _palette(look)[face_region])


# ---------------------------------------------------------------------- scene
def _undistort(xn: np.ndarray, k1: float, k2: float) -> np.ndarray:
    if not (k1 or k2):
        return xn
    out = xn.copy()
    for _ in range(8):
        r2 = np.sum(out**2, axis=-1, keepdims=True)
        out = xn / (1 + k1 * r2 + k2 * r2**2)
    return out


def _rays(camera: PinholeCamera) -> np.ndarray:
    """World direction (H, W, 3) of each pixel's ray."""
    ys, xs = np.mgrid[0 : camera.height, 0 : camera.width].astype(float)
    xn = np.stack([(xs + 0.5 - camera.width / 2), (ys + 0.5 - camera.height / 2)], -1)
    xn = _undistort(xn / camera.focal_px, camera.k1, camera.k2)
    right, down, fwd = camera.axes
    return xn[..., :1] * right + xn[..., 1:] * down + fwd


@cache
def _stands_texture(seed: int) -> np.ndarray:
    """A panorama (azimuth x elevation) of stands with spectators, sky above."""
    rng = np.random.default_rng(seed)
    tex = np.zeros((400, 3600, 3), np.uint8)
    tex[:] = (150, 185, 225)  # sky
    rows = 200
    seats = rng.integers(60, 200, (rows // 4, 3600 // 4, 3)).astype(np.uint8)
    people = rng.random((rows // 4, 3600 // 4)) < 0.35
    seats[~people] = (95, 100, 110)
    tex[200:400] = cv2.resize(seats, (3600, rows), interpolation=cv2.INTER_NEAREST)
    tex[390:400] = (60, 60, 70)  # barrier
    return tex


def _ground_colour(x: np.ndarray, y: np.ndarray, zone_m: float, go_mark_m: float) -> np.ndarray:
    inner = 0.61 + LANE_WIDTH_M * TRACK_LANES_INSIDE
    outer = -0.61 - LANE_WIDTH_M * TRACK_LANES_OUTSIDE
    colour = np.empty((*x.shape, 3), float)
    colour[:] = TRACK
    colour[y > inner + 0.3] = GRASS
    colour[y < outer - 1.0] = APRON
    on_track = (y <= inner) & (y >= outer)
    lane_pos = (y - 0.61) / LANE_WIDTH_M
    near_line = np.abs(lane_pos - np.round(lane_pos)) * LANE_WIDTH_M < LINE_WIDTH_M / 2
    colour[on_track & near_line] = LINE
    colour[(y > inner) & (y < inner + 0.3)] = LINE  # kerb
    in_lane = np.abs(y) < 0.61
    for mark in (0.0, zone_m):
        colour[in_lane & (np.abs(x - mark) < LINE_WIDTH_M / 2)] = ZONE_MARK
    go = -go_mark_m
    colour[(np.abs(y + 0.45) < 0.1) & (np.abs(x - go) < 0.025)] = (250, 250, 250)
    return colour


def render_background(
    camera: PinholeCamera, zone_m: float, go_mark_m: float, seed: int
) -> np.ndarray:
    """The empty scene (H, W, 3) uint8 RGB seen by ``camera``."""
    rays = _rays(camera)
    image = np.zeros(rays.shape, float)
    hits = rays[..., 2] < -1e-6
    t = np.where(hits, -camera.position[2] / np.where(hits, rays[..., 2], -1), np.inf)
    ground = camera.position + rays * t[..., None]
    dist = np.hypot(ground[..., 0] - camera.position[0], ground[..., 1] - camera.position[1])
    on_ground = hits & (dist < 150)
    gx, gy = ground[..., 0][on_ground], ground[..., 1][on_ground]
    image[on_ground] = _ground_colour(gx, gy, zone_m, go_mark_m)
    tex = _stands_texture(seed)
    azimuth = np.degrees(np.arctan2(rays[..., 1], rays[..., 0])) % 360
    elev = np.degrees(np.arctan2(rays[..., 2], np.hypot(rays[..., 0], rays[..., 1])))
    u = (azimuth * 10).astype(int) % tex.shape[1]
    v = np.clip((30 - elev) / 40 * tex.shape[0], 0, tex.shape[0] - 1).astype(int)
    image[~on_ground] = tex[v[~on_ground], u[~on_ground]]
    rng = np.random.default_rng(seed)
    grain = rng.normal(0, 6, image.shape[:2])[..., None]
    return np.clip(image + grain * on_ground[..., None], 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------- drawing
def _light(spec: RenderSpec) -> np.ndarray:
    az, el = np.radians(spec.light_azimuth_deg), np.radians(spec.light_elevation_deg)
    return np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


def _shaded_faces(body: _Body, vertices: np.ndarray, camera: PinholeCamera, spec: RenderSpec):
    """Visible faces of one body: pixel corners (n, 3, 2), depth (n,), colour (n, 3)."""
    faces = body.runner.faces
    px, depth = camera.project(vertices)
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    to_camera = camera.position - tri.mean(axis=1)
    facing = np.sum(normal * to_camera, axis=1) > 0
    in_front = np.all(depth[faces] > 0.3, axis=1)
    keep = facing & in_front
    shade = spec.ambient + (1 - spec.ambient) * np.clip(normal[keep] @ _light(spec), 0, 1)
    colour = body.face_colour[keep] * shade[:, None] * spec.exposure
    return px[faces[keep]], depth[faces[keep]].mean(axis=1), colour


@dataclass(frozen=True)
class _BatonSegment:
    ends_px: np.ndarray  # (2, 2)
    depth: float
    width_px: float
    colour: RGB


def _paint(image: np.ndarray, faces: list[tuple], baton: _BatonSegment | None) -> None:
    """Paint the faces of all bodies and the baton back to front."""
    px = np.concatenate([f[0] for f in faces])
    depth = np.concatenate([f[1] for f in faces])
    colour = np.concatenate([f[2] for f in faces])
    order = np.argsort(-depth)
    corners = np.round(px[order] * 16).astype(np.int32)
    colours = np.clip(colour[order], 0, 255).astype(int).tolist()
    at = len(order) if baton is None else int(np.searchsorted(-depth[order], -baton.depth))
    for k in range(len(order)):
        if k == at:
            _draw_baton(image, baton)
        cv2.fillConvexPoly(image, corners[k], colours[k], cv2.LINE_8, 4)
    if baton is not None and at == len(order):
        _draw_baton(image, baton)


def _draw_baton(image: np.ndarray, baton: _BatonSegment) -> None:
    (x0, y0), (x1, y1) = np.round(baton.ends_px * 16).astype(int).tolist()
    thickness = max(1, round(baton.width_px))
    cv2.line(image, (x0, y0), (x1, y1), baton.colour, thickness, cv2.LINE_AA, 4)


BATON_DIAMETER_M = 0.04  # its length is the simulator's (29 cm)


def _baton_item(ends: np.ndarray, camera: PinholeCamera, colour: RGB):
    px, depth = camera.project(ends)
    if np.any(depth < 0.3):
        return None
    width = BATON_DIAMETER_M * camera.focal_px / float(depth.mean())
    return _BatonSegment(px, float(depth.mean()) - 0.05, width, colour)


# ---------------------------------------------------------------------- baton in anny hands
def _baton_ends(bodies: Bodies, hands: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, str]]:
    """Move the simulator's baton into the rendered hands: the anny hand nearest to where
    the simulator's baton is held, along the simulator's baton axis. Also returns which hand
    of which runner holds it (``{"incoming": "right"}``; empty when it is loose)."""
    centre = bodies.baton.mean(axis=0)
    axis = bodies.baton[1] - bodies.baton[0]
    if bodies.holder == "none":
        return bodies.baton, {}
    sim_hands = {
        (role, side): (pts[LANDMARK_INDEX[f"{side}_wrist"]] + pts[LANDMARK_INDEX[f"{side}_index"]])
        / 2
        for role, pts in (("incoming", bodies.incoming), ("outgoing", bodies.outgoing))
        for side in ("left", "right")
    }
    roles = ("incoming", "outgoing") if bodies.holder == "both" else (bodies.holder,)
    held = {
        role: min(("left", "right"), key=lambda s: np.linalg.norm(sim_hands[role, s] - centre))
        for role in roles
    }
    new_centre = np.mean([hands[f"{role}_{side}"] for role, side in held.items()], axis=0)
    return np.stack([new_centre - axis / 2, new_centre + axis / 2]), held


# ---------------------------------------------------------------------- clip
@dataclass
class RenderedFrames:
    """Posed bodies, the baton's ends (world metres) and who holds it, for every frame."""

    sim: Simulation
    bodies: dict[str, _Body]
    batons: list[np.ndarray]
    holders: list[dict[str, str]]


def pose_bodies(sim: Simulation, spec: RenderSpec) -> RenderedFrames:
    """Retarget both runners of every frame onto anny bodies (batched per runner) and put
    the baton in their rendered hands."""
    worlds = [sim.world_at(f)[1] for f in range(len(sim.frame_times))]
    ex = sim.scenario.exchanges[0]
    bodies = {
        "incoming": _body(spec.incoming, ex.incoming_height_m),
        "outgoing": _body(spec.outgoing, ex.outgoing_height_m),
    }
    hands = {}
    for role, body in bodies.items():
        body.vertices, body.heads = body.runner.pose(np.stack([getattr(w, role) for w in worlds]))
        for side in ("left", "right"):
            hands[f"{role}_{side}"] = body.runner.hand_points(body.heads, side)
    placed = [
        _baton_ends(w, {key: points[f] for key, points in hands.items()})
        for f, w in enumerate(worlds)
    ]
    return RenderedFrames(sim, bodies, [p[0] for p in placed], [p[1] for p in placed])


def baton_truth(posed: RenderedFrames) -> pd.DataFrame:
    """Per frame: who holds the baton with which hand, its ends in the image, and the
    fraction of it in view (not hidden by a body or out of the frame)."""
    rows = []
    sim = posed.sim
    for f, (ends, held) in enumerate(zip(posed.batons, posed.holders, strict=True)):
        camera = sim.cameras[f]
        px, _ = camera.project(ends)
        holder = "both" if len(held) == 2 else next(iter(held), "none")
        rows.append(
            {
                "frame": f,
                "time_s": float(sim.frame_times[f]),
                "holder": holder,
                "incoming_hand": held.get("incoming"),
                "outgoing_hand": held.get("outgoing"),
                "x0_px": px[0, 0],
                "y0_px": px[0, 1],
                "x1_px": px[1, 0],
                "y1_px": px[1, 1],
                "visible_fraction": _visible_fraction(posed, f),
            }
        )
    return pd.DataFrame(rows)


def _visible_fraction(posed: RenderedFrames, frame: int) -> float:
    """The baton's drawn pixels left uncovered by the body faces painted over it."""
    camera = posed.sim.cameras[frame]
    item = _baton_item(posed.batons[frame], camera, (255, 255, 255))
    if item is None:
        return 0.0
    lo = np.floor(item.ends_px.min(axis=0) - item.width_px - 2).astype(int)
    hi = np.ceil(item.ends_px.max(axis=0) + item.width_px + 2).astype(int)
    size = hi - lo
    mask = np.zeros((size[1], size[0]), np.uint8)
    _draw_baton(mask, _BatonSegment(item.ends_px - lo, item.depth, item.width_px, 255))
    drawn = cv2.countNonZero(mask)
    if drawn == 0:
        return 0.0
    for body in posed.bodies.values():
        faces = body.runner.faces
        px, depth = camera.project(body.vertices[frame])
        corners = px[faces]
        near = depth[faces].mean(axis=1) < item.depth
        inside = np.all(corners.max(axis=1) >= lo, axis=1) & np.all(
            corners.min(axis=1) <= hi, axis=1
        )
        for tri in corners[near & inside]:
            cv2.fillConvexPoly(mask, np.round((tri - lo) * 16).astype(np.int32), 0, cv2.LINE_8, 4)
    in_frame = np.zeros_like(mask)
    x0, y0 = max(-lo[0], 0), max(-lo[1], 0)
    x1, y1 = min(camera.width - lo[0], size[0]), min(camera.height - lo[1], size[1])
    if x1 > x0 and y1 > y0:
        in_frame[y0:y1, x0:x1] = 1
    return float(cv2.countNonZero(mask * in_frame)) / drawn


def render_frame(
    posed: RenderedFrames, frame: int, spec: RenderSpec, background: np.ndarray | None = None
) -> np.ndarray:
    """One RGB frame of the clip."""
    sim = posed.sim
    camera = sim.cameras[frame]
    ex = sim.scenario.exchanges[0]
    if background is None:
        background = render_background(camera, ex.zone_length_m, ex.go_mark_m, spec.seed)
    image = background.copy()
    items = [_shaded_faces(b, b.vertices[frame], camera, spec) for b in posed.bodies.values()]
    _paint(image, items, _baton_item(posed.batons[frame], camera, spec.baton))
    return _finish(image, spec, frame)


def _finish(image: np.ndarray, spec: RenderSpec, frame: int) -> np.ndarray:
    out = image.astype(np.float32)
    if spec.motion_blur_px > 1:
        kernel = np.full((1, spec.motion_blur_px), 1.0 / spec.motion_blur_px, np.float32)
        out = cv2.filter2D(out, -1, kernel)
    if spec.blur_px > 0:
        out = cv2.GaussianBlur(out, (0, 0), spec.blur_px)
    if spec.noise > 0:
        rng = np.random.default_rng(spec.seed * 100003 + frame)
        out += rng.normal(0, spec.noise, out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def render_clip(scenario: Scenario, spec: RenderSpec, path: Path) -> RenderedFrames:
    """Render ``scenario`` to an H.264 MP4 at ``path``; return the posed frames (their
    simulation holds the labels)."""
    sim = simulate(scenario)
    posed = pose_bodies(sim, spec)
    ex = scenario.exchanges[0]
    fixed = (
        None
        if scenario.camera.pan
        else render_background(sim.cameras[0], ex.zone_length_m, ex.go_mark_m, spec.seed)
    )
    with atomic_path(path) as tmp, VideoWriter(tmp, scenario.camera.fps, crf=spec.crf) as out:
        for f in range(len(sim.frame_times)):
            out.write(render_frame(posed, f, spec, fixed))
    return posed
