"""The video renderer: anny bodies follow the simulator, frames show them where the camera
sees them, MediaPipe finds them, and the sample videos cover the cases the README promises.

Needs the [synth] extra (installed by `make test`); the first anny model on a machine takes
about a minute to build its kernels.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from handoff_cv.cli import app
from handoff_cv.errors import ConfigError
from handoff_cv.geometry import Crop
from handoff_cv.labels import ClipLabels
from handoff_cv.models import model_path
from handoff_cv.pose import LANDMARK_INDEX, LandmarkerConfig, MediaPipeBackend
from handoff_cv.synth.render import (
    RenderSpec,
    baton_truth,
    pose_bodies,
    render_background,
    render_frame,
)
from handoff_cv.synth.scenario import CameraSpec, ExchangeSpec, Scenario, simulate
from handoff_cv.track import paint_out
from handoff_cv.video import iter_frames, probe

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_videos"


def short_scenario(**camera) -> Scenario:
    exchange = ExchangeSpec(lead_s=0.3, tail_s=0.3)
    cam = CameraSpec(distance_m=9.0, height_m=1.6, fov_deg=60.0, width=640, height=360, fps=25.0)
    return Scenario(name="short", exchanges=[exchange], camera=cam.model_copy(update=camera))


@pytest.fixture(scope="module")
def posed():
    sim = simulate(short_scenario())
    return pose_bodies(sim, RenderSpec())


def test_anny_wrists_land_on_the_simulated_wrists(posed):
    """Arms are refitted by IK, so the hands meet at the pass as in the simulation."""
    sim = posed.sim
    for role in ("incoming", "outgoing"):
        body = posed.bodies[role]
        truth = np.stack([getattr(sim.world_at(f)[1], role) for f in range(len(sim.frame_times))])
        for side, s in (("left", "L"), ("right", "R")):
            wrist = body.heads[:, body.runner.index[f"wrist.{s}"]]
            error = np.linalg.norm(wrist - truth[:, LANDMARK_INDEX[f"{side}_wrist"]], axis=1)
            assert np.median(error) < 0.03, (role, side, np.median(error))
        hips = truth[:, [LANDMARK_INDEX["left_hip"], LANDMARK_INDEX["right_hip"]]].mean(axis=1)
        body_centre = body.vertices.mean(axis=1)
        assert np.all(np.abs(body_centre[:, 0] - hips[:, 0]) < 0.35)  # runs with its landmarks
        assert body.vertices[..., 2].min() > -0.08  # feet do not sink into the track


def test_frame_shows_both_runners_and_the_baton_where_the_camera_sees_them(posed):
    sim = posed.sim
    ex = sim.labels.exchanges[0]
    frame = ex.transfer_frame
    spec = RenderSpec(noise=0.0, blur_px=0.0)
    background = render_background(sim.cameras[frame], 30.0, sim.scenario.exchanges[0].go_mark_m, 0)
    image = render_frame(posed, frame, spec, background)
    changed = np.any(np.abs(image.astype(int) - background.astype(int)) > 30, axis=2)
    ys, xs = np.nonzero(changed)
    bodies = sim.world_at(frame)[1]
    for points in (bodies.incoming, bodies.outgoing):
        px, _ = sim.cameras[frame].project(points[[LANDMARK_INDEX["left_hip"]]])
        x, y = px[0]
        assert xs.min() <= x <= xs.max() and ys.min() <= y <= ys.max()
    baton_px, _ = sim.cameras[frame].project(bodies.baton.mean(axis=0)[None])
    bx, by = baton_px[0].round().astype(int)
    patch = image[by - 8 : by + 9, bx - 8 : bx + 9].reshape(-1, 3).astype(int)
    yellow = np.abs(patch - np.array(spec.baton)).sum(axis=1) < 120
    assert yellow.sum() >= 3, "the baton is drawn in the hands at the transfer"


def test_baton_truth_follows_the_simulated_holder_and_sees_occlusion(posed):
    """Per frame: the holder and hands the simulator decided, the baton's ends where the
    camera projects them, and how much of it the bodies leave in view."""
    sim = posed.sim
    truth = baton_truth(posed)
    expected = sim.baton_table()
    both = truth.merge(expected, on="frame", suffixes=("", "_sim"))
    assert len(both) == len(truth) == len(sim.frame_times)
    assert (both.holder == both.holder_sim).all()
    assert (both.incoming_hand.fillna("-") == both.incoming_hand_sim.fillna("-")).all()
    assert (both.outgoing_hand.fillna("-") == both.outgoing_hand_sim.fillna("-")).all()
    ends = both[["x0_px", "y0_px", "x1_px", "y1_px"]].to_numpy().reshape(-1, 2, 2)
    ends_sim = both[["x0_px_sim", "y0_px_sim", "x1_px_sim", "y1_px_sim"]].to_numpy()
    centre_gap = np.linalg.norm(ends.mean(axis=1) - ends_sim.reshape(-1, 2, 2).mean(axis=1), axis=1)
    assert np.median(centre_gap) < 10  # anny's hands hold it where the simulator's do
    visible = truth.visible_fraction
    assert visible.between(0, 1).all()
    in_frame = (ends > 0) & (ends < [sim.labels.width, sim.labels.height])
    inside, outside = np.all(in_frame, axis=(1, 2)), ~np.any(np.all(in_frame, axis=2), axis=1)
    assert (visible[outside] == 0).all()  # out of the frame is out of view
    assert (visible[inside] > 0.7).mean() > 0.5  # mostly seen while in the frame...
    assert (visible[inside] < 0.5).any()  # ...but at times behind a body


def test_mediapipe_finds_both_rendered_runners(posed):
    """As the tracker searches: a square tile of the frame's height that holds both runners,
    then the same tile again with the people found painted out (MediaPipe's detector may
    take two runners side by side for one, real or rendered)."""
    sim = posed.sim
    frame = _frame_with_runners_apart(sim, min_px=60)
    image = render_frame(posed, frame, RenderSpec())
    x0 = int(np.clip(_runners_centre_x(sim, frame) - 180, 0, sim.labels.width - 360))
    tile = Crop(x0, 0, 360)
    with MediaPipeBackend(LandmarkerConfig(model_path("full"), max_people=4)) as backend:
        pixels = tile.cut(image)
        found = [p.shifted(x0, 0) for p in backend.detect(pixels)]
        behind = paint_out(pixels, tile, found)
        found += [p.shifted(x0, 0) for p in backend.detect(behind)]
    assert len(found) == 2
    truth = [sim.world_at(frame)[1].incoming, sim.world_at(frame)[1].outgoing]
    for points in truth:
        px, _ = sim.cameras[frame].project(points)
        nose = px[LANDMARK_INDEX["left_hip"]]
        nearest = min(np.linalg.norm(p.xy[LANDMARK_INDEX["left_hip"]] - nose) for p in found)
        assert nearest < 25, "each detected runner sits on a rendered body"


def _runners_centre_x(sim, frame: int) -> float:
    bodies = sim.world_at(frame)[1]
    hip = LANDMARK_INDEX["left_hip"]
    px, _ = sim.cameras[frame].project(np.stack([bodies.incoming[hip], bodies.outgoing[hip]]))
    return float(px[:, 0].mean())


def _frame_with_runners_apart(sim, min_px: float) -> int:
    """The last frame before the pass where both runners are in view and apart."""
    hip = LANDMARK_INDEX["left_hip"]
    for frame in range(sim.labels.exchanges[0].contact_start_frame, 0, -1):
        bodies = sim.world_at(frame)[1]
        px, _ = sim.cameras[frame].project(np.stack([bodies.incoming[hip], bodies.outgoing[hip]]))
        in_view = np.all((px > 30) & (px < [sim.labels.width - 30, sim.labels.height]))
        if in_view and abs(px[0, 0] - px[1, 0]) > min_px:
            return frame
    raise AssertionError("the runners are never apart in view")


def test_synth_clip_render_writes_video_labels_and_truth(tmp_path: Path):
    scenario = tmp_path / "scenario.json"
    scenario.write_text(short_scenario().model_dump_json())
    out = tmp_path / "case"
    result = CliRunner().invoke(
        app, ["synth", "clip", "--render", "--scenario", str(scenario), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    labels = ClipLabels.load(out / "labels.json")
    info = probe(out / "video.mp4")
    assert (info.width, info.height) == (640, 360)
    times = [f.time_s for f in iter_frames(out / "video.mp4")]
    assert len(times) == labels.frame_count
    assert np.allclose(np.diff(times), 1 / 25, atol=1e-3)
    record = json.loads((out / "case.json").read_text())
    assert record["scenario"]["camera"]["fps"] == 25.0
    assert (out / "truth.parquet").is_file() and (out / "baton_truth.parquet").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no staging left"


def test_missing_renderer_is_a_one_line_error(monkeypatch):
    import handoff_cv.synth
    from handoff_cv import cli

    # as if anny/torch were not installed: the module cannot be imported
    monkeypatch.setitem(sys.modules, "handoff_cv.synth.rendered", None)
    monkeypatch.delattr(handoff_cv.synth, "rendered", raising=False)
    with pytest.raises(ConfigError, match="renderer is not installed"):
        cli._renderer()


def test_sample_videos_cover_the_promised_passes():
    """README promise: a right-to-left blind pass, a left-to-right pass, a same-hand pass and
    a 4x400 visual pass, each clip at most 2 MB with its labels and settings."""
    seen = set()
    for video in sorted(SAMPLES.glob("*.mp4")):
        assert video.stat().st_size <= 2_000_000, video
        labels = ClipLabels.load(video.with_suffix(".labels.json"))
        assert video.with_suffix(".toml").is_file()
        assert probe(video).frame_count == labels.frame_count
        for ex in labels.exchanges:
            seen.add((ex.passing_hand, ex.receiving_hand, ex.pass_style, labels.zone.relay))
    assert ("right", "left", "blind", "4x100") in seen
    assert any(p == "left" and r == "right" for p, r, *_ in seen)
    assert any(p == r == "right" for p, r, *_ in seen)
    assert any(style == "visual" and relay == "4x400" for *_, style, relay in seen)


def test_samples_into_an_unwritable_place_is_a_one_line_error(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(app, ["synth", "samples", "-o", str(blocker / "samples")])
    assert result.exit_code != 0
    assert result.output.strip().startswith("error:") and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
