"""Zone calibration: lens distortion, the baton's splits at marks, the calibrate helper."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import handoff_cv as hcv
from handoff_cv.analyze import calibration_from
from handoff_cv.calibrate import LANE_COLOUR
from handoff_cv.calibration import LensDistortion, ZoneCalibration, split_marks, zone_region_px
from handoff_cv.cli import app
from handoff_cv.errors import ConfigError
from handoff_cv.evaluate import settings_from_labels
from handoff_cv.exchange import baton_splits
from handoff_cv.settings import Settings
from handoff_cv.synth.camera import PinholeCamera
from handoff_cv.video import iter_frames

W, H = 1920, 1080


def wide_lens_camera(k1: float = -0.25, k2: float = 0.05) -> PinholeCamera:
    """A phone-like wide lens 12 m beside a 30 m zone, looking at its middle."""
    return PinholeCamera.look_at(
        np.array([15.0, -12.0, 2.0]), np.array([15.0, 0.0, 0.0]), 100.0, W, H, k1, k2
    )


def as_half_diagonal(camera: PinholeCamera) -> LensDistortion:
    """The simulator's coefficients (radius in focal lengths) in ours (in half diagonals)."""
    ratio = (np.hypot(W, H) / 2 / camera.focal_px) ** 2
    return LensDistortion(camera.k1 * ratio, camera.k2 * ratio**2, W, H)


def ground(points_m: np.ndarray) -> np.ndarray:
    return np.column_stack([points_m, np.zeros(len(points_m))])


CORNERS_M = np.array([[0.0, -0.61], [30.0, -0.61], [30.0, 0.61], [0.0, 0.61]])
INSIDE_M = np.array([[x, y] for x in np.linspace(-5, 35, 9) for y in (-0.5, 0.0, 0.5)])


def test_lens_distortion_round_trip_and_matches_the_simulators_camera():
    camera = wide_lens_camera()
    lens = as_half_diagonal(camera)
    seen, _ = camera.project(ground(INSIDE_M))
    ideal, _ = PinholeCamera(camera.position, camera.forward, camera.focal_px, W, H).project(
        ground(INSIDE_M)
    )
    assert np.abs(seen - ideal).max() > 20  # the lens bends the points a lot at the edges
    np.testing.assert_allclose(lens.undistort(seen), ideal, atol=0.05)
    np.testing.assert_allclose(lens.distort(ideal), seen, atol=1e-6)


def test_a_calibration_through_a_wide_lens_needs_its_coefficients():
    camera = wide_lens_camera()
    corners_px, _ = camera.project(ground(CORNERS_M))
    seen, _ = camera.project(ground(INSIDE_M))
    with_lens = ZoneCalibration.from_corners(corners_px, 30.0, lens=as_half_diagonal(camera))
    ignored = ZoneCalibration.from_corners(corners_px, 30.0)
    assert np.abs(with_lens.to_track(seen) - INSIDE_M).max() < 0.01
    assert np.abs(ignored.to_track(seen) - INSIDE_M).max() > 0.5
    np.testing.assert_allclose(with_lens.to_image(INSIDE_M), seen, atol=0.05)


def test_the_camera_is_recovered_from_the_zone_and_places_points_above_the_track():
    camera = wide_lens_camera()
    corners_px, _ = camera.project(ground(CORNERS_M))
    cal = ZoneCalibration.from_corners(
        corners_px, 30.0, lens=as_half_diagonal(camera), frame_size=(W, H)
    )
    assert cal.camera is not None
    assert cal.camera.intrinsics[0, 0] == pytest.approx(camera.focal_px, rel=0.01)
    np.testing.assert_allclose(cal.camera.centre_m, camera.position, atol=0.05)
    # hips 0.95 m and hands 1.1 m above the track, 0.3 m left of the lane's centre line
    for height in (0.95, 1.1):
        points = np.column_stack(
            [INSIDE_M[:, 0], np.full(len(INSIDE_M), 0.3), np.full(len(INSIDE_M), height)]
        )
        seen, _ = camera.project(points)
        np.testing.assert_allclose(cal.along_lane_at(seen, 0.3), INSIDE_M[:, 0], atol=0.02)
        # read as if on the ground, the same points land metres off at the frame's edges
        assert np.abs(cal.to_track(seen)[:, 0] - INSIDE_M[:, 0]).max() > 0.5


def test_the_zone_region_holds_the_lane_runners_and_not_the_stands():
    """The part of the frame searched with video.roi_from_zone: runners of the zone's lane and
    the lanes beside it, 15 m before the zone to 8 m after it, head to foot, are inside
    wherever the lens sees them; a spectator high in the far stands is not."""
    camera = wide_lens_camera()
    corners_px, _ = camera.project(ground(CORNERS_M))
    cal = ZoneCalibration.from_corners(
        corners_px, 30.0, lens=as_half_diagonal(camera), frame_size=(W, H)
    )
    region = zone_region_px(cal)
    assert region is not None
    assert 0 <= region.x0 < region.x1 <= W and 0 <= region.y0 < region.y1 <= H
    assert region.area < 0.6 * W * H  # the sky and the stands are left out
    runners = np.array(
        [(x, y, z) for x in (-15, 0, 15, 30, 38) for y in (-1.5, 0, 1.5) for z in (0, 1, 1.8)]
    )
    seen, _ = camera.project(runners.astype(float))
    in_frame = (seen[:, 0] >= 0) & (seen[:, 0] < W) & (seen[:, 1] >= 0) & (seen[:, 1] < H)
    assert in_frame.sum() >= 20  # the others are out of the lens's view
    seen = seen[in_frame]
    inside = (
        (seen[:, 0] >= region.x0)
        & (seen[:, 0] <= region.x1)
        & (seen[:, 1] >= region.y0)
        & (seen[:, 1] <= region.y1)
    )
    assert inside.all()
    spectator, _ = camera.project(np.array([[15.0, 30.0, 8.0]]))
    assert spectator[0, 1] < region.y0
    no_camera = ZoneCalibration.from_corners(corners_px, 30.0, lens=as_half_diagonal(camera))
    assert zone_region_px(no_camera) is None  # without the frame size


def test_the_camera_is_recovered_when_the_zone_start_is_behind_it():
    # an oblique phone past the zone's start, the lane marked from 30 m to 71 m: the track's
    # origin lies behind the camera, the clicked stretch in front (clean_0209's setup)
    camera = PinholeCamera.look_at(
        np.array([24.8, -15.5, 5.65]), np.array([25.5, -14.8, 5.44]), 55.0, W, H
    )
    stretch = np.array([[30.0, -0.61], [71.0, -0.61], [71.0, 0.61], [30.0, 0.61]])
    corners_px, _ = camera.project(ground(stretch))
    cal = ZoneCalibration.from_corners(
        corners_px, 30.0, corners_x_m=(30.0, 71.0), frame_size=(W, H)
    )
    assert cal.camera is not None
    np.testing.assert_allclose(cal.camera.centre_m, camera.position, atol=0.05)


def test_no_camera_without_the_frame_size_or_from_a_homography_no_camera_makes():
    camera = PinholeCamera.look_at(
        np.array([15.0, -20.0, 5.0]), np.array([15.0, 0.0, 0.0]), 60.0, W, H
    )
    corners_px, _ = camera.project(ground(CORNERS_M))
    assert ZoneCalibration.from_corners(corners_px, 30.0).camera is None
    assert ZoneCalibration.from_corners(corners_px, 30.0, frame_size=(W, H)).camera is not None
    # the zone's far end moved 40 px: a quadrilateral no pinhole camera sees the zone as
    skewed = corners_px + np.array([[0.0, 0.0], [40.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    cal = ZoneCalibration.from_corners(skewed, 30.0, frame_size=(W, H))
    assert cal.camera is None
    assert cal.along_lane_at(corners_px, 0.0) is None
    # a zone seen as a true rectangle (straight from above): the focal length is free
    above = 200 + 40 * (CORNERS_M + np.array([0.0, 1.0]))
    assert ZoneCalibration.from_corners(above, 30.0, frame_size=(W, H)).camera is None


def test_lens_coefficients_need_the_frame_size(tmp_path):
    sim = hcv.simulate(hcv.Scenario(name="lens", exchanges=[hcv.ExchangeSpec()]))
    settings = settings_from_labels(sim.labels).with_overrides({"calibration.lens_k1": -0.1})
    table = sim.landmarks.copy()
    table.attrs.pop("frame_size", None)
    with pytest.raises(ConfigError, match="frame size"):
        hcv.analyze_landmarks(table, settings)
    result = hcv.analyze_landmarks(table, settings, frame_size=(1280, 720))
    assert result.calibration is not None and result.calibration.lens is not None


def test_split_marks_are_ordered_and_take_the_users_marks():
    marks = split_marks(20.0, {"go mark": -7.5})
    assert [m for m, _ in marks] == ["go mark", "zone start", "zone end", "10 m after the zone"]
    assert [x for _, x in marks] == [-7.5, 0.0, 20.0, 30.0]
    settings = Settings().with_overrides(
        {"calibration.go_mark_m": -8, "calibration.marks_m": "20 m before=-20, finish=70"}
    )
    assert settings.calibration.extra_marks() == {
        "20 m before": -20.0,
        "finish": 70.0,
        "go mark": -8.0,
    }


def test_baton_splits_interpolate_crossings_and_leave_unseen_marks_empty():
    t = np.arange(0, 4.0, 1 / 30)
    x = -12.0 + 10.0 * t  # 10 m/s: crosses -8 m at 0.4 s, 0 at 1.2 s, 30 m at 4.2 s (unseen)
    x[t < 0.2] = np.nan  # first frames: runner out of view
    swing = (t > 2.0) & (t < 2.1)
    x[swing] -= 0.5  # the hand swinging back does not cross a line twice
    splits = baton_splits(t, x, split_marks(30.0, {"go mark": -8.0}))
    by = {s.mark: s for s in splits}
    assert by["go mark"].time_s == pytest.approx(0.4, abs=1e-6)
    assert by["zone start"].time_s == pytest.approx(1.2, abs=1e-6)
    assert by["zone start"].split_s == pytest.approx(0.8, abs=1e-6)
    assert by["zone end"].time_s is None and by["zone end"].split_s is None
    assert by["10 m after the zone"].split_s is None


def test_a_mark_passed_before_the_first_frame_has_no_time():
    t = np.arange(0, 3.0, 1 / 30)
    splits = baton_splits(t, 2.0 + 10.0 * t, split_marks(30.0))
    assert splits[0].mark == "zone start" and splits[0].time_s is None
    assert splits[1].time_s == pytest.approx(2.8, abs=1e-6)
    assert splits[1].split_s is None  # from an unseen mark: no split


def test_reports_carry_splits_and_tables_flatten_them():
    spec = hcv.ExchangeSpec(lead_s=3.0, tail_s=2.0)
    camera = hcv.CameraSpec(view="side_stands", distance_m=40.0, fov_deg=80.0, look_at_m=15.0)
    sim = hcv.simulate(hcv.Scenario(name="wide", exchanges=[spec], camera=camera))
    settings = settings_from_labels(sim.labels).with_overrides({"calibration.go_mark_m": -5.0})
    result = hcv.analyze_landmarks(sim.landmarks, settings)
    ex, truth = result.exchanges[0], sim.labels.exchanges[0]
    by = {s.mark: s for s in ex.baton_splits}
    assert by["zone end"].split_s == pytest.approx(ex.baton_zone_time_s, abs=1e-9)
    assert ex.baton_zone_time_s == pytest.approx(truth.baton_zone_time_s, abs=2 / sim.labels.fps)
    row = result.exchanges_frame().iloc[0]
    assert row["split_to_zone_end_s"] == pytest.approx(ex.baton_zone_time_s)
    assert row["baton_at_go_mark_s"] == pytest.approx(by["go mark"].time_s)
    assert "baton_splits" not in row.index


@pytest.mark.parametrize("hand", ["right", "left"])
def test_a_same_hand_pass_times_the_baton_through_the_zone_to_a_frame(hand):
    # both runners on one side of the lane: the baton is a hand's reach to that hand's side
    # of them, not midway between them (that read it 2-3 frames off at 120 fps)
    spec = hcv.ExchangeSpec(passing_hand=hand, receiving_hand=hand, lead_s=3.0, tail_s=2.5)
    camera = hcv.CameraSpec(
        view="side_stands", distance_m=40.0, height_m=8.0, fov_deg=80.0, look_at_m=15.0, fps=120.0
    )
    sim = hcv.simulate(hcv.Scenario(name="same_hand", exchanges=[spec], camera=camera))
    result = hcv.analyze_landmarks(sim.landmarks, settings_from_labels(sim.labels))
    ex, truth = result.exchanges[0], sim.labels.exchanges[0]
    assert (ex.passing_hand, ex.receiving_hand) == (hand, hand)
    assert ex.baton_zone_time_s == pytest.approx(truth.baton_zone_time_s, abs=1 / camera.fps)


# ------------------------------------------------------------------ calibrate helper
SAMPLE = Path(__file__).resolve().parents[1] / "sample_videos" / "blind_right_to_left"


def calibrate(*args: str):
    return CliRunner().invoke(app, ["calibrate", f"{SAMPLE}.mp4", *args], env={"COLUMNS": "400"})


def test_without_a_screen_calibrate_writes_a_grid_to_read_the_corners_off(tmp_path):
    result = calibrate("-o", str(tmp_path / "cam.toml"), "--no-interactive", "--at", "0.5")
    assert result.exit_code == 0, result.output
    assert "--calibration-zone-corners" in result.output
    assert not (tmp_path / "cam.toml").exists()
    grid = cv2.imread(str(tmp_path / "cam.grid.png"))
    frame = next(iter_frames(f"{SAMPLE}.mp4"))
    assert grid.shape == frame.image.shape
    # a grid line every 50 px: column 100 differs from the frame, column 125 mostly not
    changed = np.abs(grid[:, :, ::-1].astype(int) - frame.image.astype(int)).sum(axis=2) > 30
    assert changed[:, 100].mean() > 0.9 and changed[:, 125].mean() < 0.5


def test_calibrate_with_corners_writes_a_reusable_file_and_a_check_picture(tmp_path):
    out = tmp_path / "cam.toml"
    result = calibrate("-c", f"{SAMPLE}.toml", "-o", str(out), "--calibration-go-mark-m", "-8")
    assert result.exit_code == 0, result.output
    written, given = Settings.from_toml(out), Settings.from_toml(Path(f"{SAMPLE}.toml"))
    assert written.calibration.zone_corners == given.calibration.zone_corners
    assert written.calibration.corners_x_m == given.calibration.corners_x_m
    assert written.calibration.go_mark_m == -8
    check = cv2.imread(str(tmp_path / "cam.check.png"))[:, :, ::-1]
    calibration = calibration_from(written)
    for y in (-0.61, 0.61):  # the lane lines are drawn where the calibration puts them
        x, y_px = calibration.to_image(np.array([[8.0, y]]))[0]
        patch = check[round(y_px) - 1 : round(y_px) + 2, round(x) - 1 : round(x) + 2]
        assert (np.abs(patch.astype(int) - LANE_COLOUR).sum(axis=2) < 90).any()


def test_calibrate_refuses_crossed_corners_and_an_existing_file(tmp_path):
    crossed = "59,352,812,338,855,352,107,338"  # end-left and end-right swapped
    result = calibrate("-o", str(tmp_path / "a.toml"), "--calibration-zone-corners", crossed)
    assert result.exit_code != 0 and "cross" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "a.toml").exists()
    (tmp_path / "b.toml").write_text("# mine\n")
    result = calibrate("-o", str(tmp_path / "b.toml"), "-c", f"{SAMPLE}.toml")
    assert result.exit_code != 0 and "--force" in result.output
    assert (tmp_path / "b.toml").read_text() == "# mine\n"


def test_hips_are_placed_through_the_camera_not_read_as_if_on_the_track():
    """A camera high above and close to the lane: the hips, a metre above the track, are
    where their line of sight meets the runner's upright plane."""
    from handoff_cv.synth.scenario import CameraSpec

    camera = CameraSpec(view="side_stands", distance_m=14.0, height_m=8.0, fov_deg=90.0)
    sim = hcv.simulate(hcv.Scenario(name="high", camera=camera))
    settings = settings_from_labels(sim.labels)
    episode = sim.episodes[0]

    def incoming_error(frame_size) -> float:
        table = sim.landmarks.copy()
        table.attrs.pop("frame_size")  # the simulator records it, as a tracked video does
        result = hcv.analyze_landmarks(table, settings, frame_size=frame_size)
        assert (result.calibration.camera is not None) == (frame_size is not None)
        runner = next(k for k in result.kinematics if k.track_id == episode.incoming_id)
        truth = episode.motion.at(runner.times - episode.offset)["x_in"]
        seen = np.isfinite(runner.position_m)
        return float(np.median(np.abs(runner.position_m[seen] - truth[seen])))

    assert incoming_error((sim.labels.width, sim.labels.height)) < 0.06
    assert incoming_error(None) > 0.1  # without the frame size: no camera, the older reading
