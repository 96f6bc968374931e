"""A panning camera: its motion followed from the background, and speeds measured through it."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import handoff_cv as hcv
from handoff_cv import landmarks as lm
from handoff_cv.camera_motion import (
    MOTION_TABLE,
    CameraMotionEstimator,
    camera_moved,
    homographies,
    stabilise,
    to_reference,
)
from handoff_cv.cli import app
from handoff_cv.evaluate import settings_from_labels
from handoff_cv.geometry import Box

W, H = 960, 540


def textured_world(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = (rng.random((700, 2600, 3)) * 255).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def panned_frames(shift_px: float, drop_px: float, n: int):
    """Frames of a camera panning over a textured world, a 'runner' kept mid-frame."""
    world, rng = textured_world(), np.random.default_rng(1)
    for i in range(n):
        view = np.array([[1.0, 0, -40 - shift_px * i], [0, 1.0, -30 - drop_px * i]])
        image = cv2.warpAffine(world, view, (W, H))
        image[150:450, 430:530] = (rng.random((300, 100, 3)) * 255).astype(np.uint8)
        yield image


def test_the_background_is_followed_and_the_runner_ignored():
    estimator = CameraMotionEstimator()
    for i, image in enumerate(panned_frames(9.7, 0.4, 40)):
        estimator.observe(i, i / 30, image, [Box(430, 150, 530, 450)])
    table = estimator.table()
    assert table.ok.all() and (table.inliers.iloc[1:] >= 50).all()
    maps = homographies(table)
    for i in (1, 20, 39):  # the view moved right by 9.7 px a frame: points land further right
        landed = to_reference(np.array([[480.0, 270.0], [50.0, 500.0]]), maps[i])
        np.testing.assert_allclose(
            landed - [[480, 270], [50, 500]], [[9.7 * i, 0.4 * i]] * 2, atol=0.5
        )
    assert camera_moved(table, (W, H))


def test_a_still_camera_is_not_taken_for_a_moving_one():
    estimator = CameraMotionEstimator()
    for i, image in enumerate(panned_frames(0.0, 0.0, 15)):
        estimator.observe(i, i / 30, image, [Box(430, 150, 530, 450)])
    assert not camera_moved(estimator.table(), (W, H))


def test_a_featureless_frame_is_marked_and_the_pan_carried_on():
    frames = list(panned_frames(6.0, 0.0, 6))
    frames[3] = np.full_like(frames[3], 128)  # a flash: nothing to follow
    estimator = CameraMotionEstimator()
    for i, image in enumerate(frames):
        estimator.observe(i, i / 30, image, [])
    table = estimator.table()
    assert list(table.ok) == [True, True, True, False, False, True]
    for i, h in homographies(table).items():  # the steady pan's last step stood in
        landed = to_reference(np.array([[480.0, 270.0]]), h)[0]
        np.testing.assert_allclose(landed - [480, 270], [6.0 * i, 0.0], atol=0.5)


def test_stabilise_maps_pixel_columns_frame_by_frame():
    motion = pd_motion({0: np.eye(3), 1: np.array([[1, 0, 10.0], [0, 1, -5.0], [0, 0, 1]])})
    table = pd.DataFrame(
        {"frame": [0, 1, 1, 2], "x_px": [1.0, 1.0, 2.0, 3.0], "y_px": [1.0, 1.0, 2.0, 3.0]}
    ).astype({"x_px": "float32", "y_px": "float32"})
    out = stabilise(table, motion, [("x_px", "y_px")])
    assert out.x_px.tolist() == [1.0, 11.0, 12.0, 3.0]  # frame 2 has no map: unchanged
    assert out.y_px.tolist() == [1.0, -4.0, -3.0, 3.0]
    assert out.x_px.dtype == np.float32 and table.x_px.tolist() == [1.0, 1.0, 2.0, 3.0]


def pd_motion(maps: dict[int, np.ndarray]):
    from handoff_cv.camera_motion import H_COLUMNS, MOTION_COLUMNS

    rows = [
        {
            "frame": f,
            "time_s": f / 30,
            "inliers": 100,
            "ok": True,
            **dict(zip(H_COLUMNS, h.ravel(), strict=True)),
        }
        for f, h in maps.items()
    ]
    return pd.DataFrame(rows, columns=MOTION_COLUMNS)


@pytest.fixture(scope="module")
def panning_sim():
    camera = hcv.CameraSpec(view="side_stands", distance_m=15.0, pan=True, fps=50.0)
    return hcv.simulate(hcv.Scenario(name="pan", exchanges=[hcv.ExchangeSpec()], camera=camera))


def test_speeds_of_a_panning_camera_are_measured_through_its_motion(panning_sim):
    sim = panning_sim
    settings, truth = settings_from_labels(sim.labels), sim.labels.exchanges[0]
    withheld = hcv.analyze_landmarks(sim.landmarks, settings).exchanges[0]
    assert withheld.incoming_speed_mps is None and "camera_moving" in withheld.quality_flags
    report = hcv.analyze_landmarks(
        sim.landmarks, settings, camera_motion=sim.camera_motion()
    ).exchanges[0]
    assert "camera_compensated" in report.quality_flags
    assert report.incoming_speed_mps == pytest.approx(truth.incoming_speed_mps, rel=0.04)
    assert report.outgoing_speed_mps == pytest.approx(truth.outgoing_speed_mps, rel=0.04)
    assert report.legal == truth.legal


def test_cli_from_landmarks_uses_the_camera_motion_beside_them(panning_sim, tmp_path):
    sim = panning_sim
    source = tmp_path / "tracked"
    source.mkdir()
    meta = {"video": "pan.mp4", "width": sim.labels.width, "height": sim.labels.height}
    lm.write_parquet(sim.landmarks, source / "landmarks.parquet", meta)
    sim.camera_motion().to_parquet(source / MOTION_TABLE, index=False)
    zone = ",".join(str(v) for c in sim.labels.zone.image_corners_px for v in c)
    stretch = ",".join(map(str, sim.labels.zone.corners_x_m))
    args = ["analyze", str(source), "--from-landmarks", "-o", str(tmp_path / "out"),
            "--calibration-zone-corners", zone, "--calibration-corners-x-m", stretch]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "exchanges.json").read_text())["exchanges"][0]
    assert "camera_compensated" in report["quality_flags"]
    assert report["incoming_speed_mps"] == pytest.approx(
        sim.labels.exchanges[0].incoming_speed_mps, rel=0.04
    )


def test_a_slow_pass_seen_obliquely_is_not_taken_for_a_panning_camera():
    """Runners slowed to 3.5 m/s, 43 m away at an angle to the lane, cross the image slowly;
    with the lane's foreshortening known from the calibration, they still cross it as fast
    as runners do, so their speeds are measured, not withheld."""
    from handoff_cv.synth.scenario import CameraSpec

    spec = hcv.ExchangeSpec(
        relay="4x400", pass_style="visual", passing_hand="right", receiving_hand="right",
        incoming_speed_mps=7.1, incoming_fade_mps2=0.56, outgoing_speed_mps=7.2,
        outgoing_tau_s=1.16, outgoing_start_m=0.36, go_mark_m=4.55, lead_s=2.85, tail_s=2.75,
    )  # fmt: skip
    camera = CameraSpec(
        view="oblique", distance_m=43.4, height_m=4.8, fov_deg=75.5, look_at_m=8.3,
        width=1920, height=1080,
    )  # fmt: skip
    sim = hcv.simulate(hcv.Scenario(name="jog", exchanges=[spec], camera=camera))
    labels = sim.labels
    result = hcv.analyze_landmarks(
        sim.landmarks, settings_from_labels(labels), frame_size=(labels.width, labels.height)
    )
    [report] = result.exchanges
    assert "camera_moving" not in report.quality_flags
    truth = labels.exchanges[0].incoming_speed_mps
    assert report.incoming_speed_mps == pytest.approx(truth, rel=0.05)
