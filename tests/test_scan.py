"""Exchange window first: frames away from the pass are scanned, the pass is analysed whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handoff_cv.camera_motion import scaled_step
from handoff_cv.errors import ConfigError
from handoff_cv.geometry import Box
from handoff_cv.labels import ClipLabels
from handoff_cv.pipeline import track_video
from handoff_cv.scan import HOLD_S, ScanSchedule, closest_gap
from handoff_cv.settings import Settings
from handoff_cv.video import DecodeReport, iter_frames
from tests.conftest import moving_square_frames

FPS = 30
SAMPLE = Path(__file__).resolve().parents[1] / "sample_videos" / "blind_right_to_left"


def person(x: float, height: float = 100) -> Box:
    return Box.from_center(x, 200, 0.4 * height, height)


def run_schedule(schedule: ScanSchedule, gaps_px: dict[int, float], n: int = 90) -> list[int]:
    """Frame indices a schedule analyses when two people stand ``gaps_px[i]`` apart from
    frame ``i`` on (the last gap given holds until the next)."""
    analysed, gap = [], np.inf
    for i in range(n):
        t = i / FPS
        gap = gaps_px.get(i, gap)
        if not schedule.wants(t):
            continue
        analysed.append(i)
        boxes = [person(0), person(gap)] if np.isfinite(gap) else [person(0)]
        schedule.observe(t, boxes, boxes)
    return analysed


def test_closest_gap_is_in_body_heights_and_infinite_alone():
    assert closest_gap([person(0), person(250), person(1000)]) == pytest.approx(2.5)
    assert closest_gap([person(0)]) == np.inf
    assert closest_gap([]) == np.inf


def test_off_analyses_every_frame():
    schedule = ScanSchedule(scan_fps=0)
    assert run_schedule(schedule, {0: 1000}) == list(range(90))


def test_people_far_apart_are_scanned_at_the_scan_rate():
    schedule = ScanSchedule(scan_fps=10, window_gap=2.5)
    analysed = run_schedule(schedule, {0: 1000})
    assert np.diff(analysed).tolist() == [3] * (len(analysed) - 1)
    assert len(analysed) == 30  # and the other 60 of the 90 frames skipped


def test_people_coming_close_open_the_full_rate_window_and_it_is_held():
    schedule = ScanSchedule(scan_fps=10, window_gap=2.5)
    # far apart until frame 30, side by side from 30 to 45, far apart again after
    analysed = run_schedule(schedule, {0: 1000, 30: 100, 46: 1000})
    first_near = min(i for i in analysed if i >= 30)
    assert first_near <= 32  # seen at the next scan frame at the latest
    hold = int(HOLD_S * FPS)
    window = range(first_near, 45 + hold)
    assert set(window) <= set(analysed)  # every frame of the pass and the hold after it
    after = [i for i in analysed if i > 45 + hold + 3]
    assert np.diff(after).tolist() == [3] * (len(after) - 1)  # scanning again


def test_people_predicted_to_come_close_open_the_window_early():
    schedule = ScanSchedule(scan_fps=10, window_gap=2.5)
    far, near = [person(0), person(1000)], [person(0), person(100)]
    assert schedule.wants(0.0)
    schedule.observe(0.0, far, near)  # apart now, together half a second later
    assert all(schedule.wants(i / FPS) for i in range(1, 10))


def test_declined_frames_are_decoded_but_not_yielded(make_video):
    path = make_video(fps=25, frames=moving_square_frames(12))
    report = DecodeReport()
    frames = list(iter_frames(path, report=report, wanted=lambda t: round(t * 25) % 4 == 0))
    assert [f.index for f in frames] == [0, 4, 8]
    assert (report.frames, report.skipped) == (3, 9)


def test_a_camera_step_scales_with_its_duration():
    step = np.array([[1.0, 0, 2.0], [0, 1.0, -1.0], [0, 0, 1.0]])
    assert scaled_step(step, 3.0)[:2, 2] == pytest.approx([6.0, -3.0])
    assert scaled_step(step, 1.0) == pytest.approx(step)


def test_a_sample_clip_is_scanned_and_its_pass_analysed_at_every_frame():
    settings = Settings().with_overrides({"video.scan_fps": "10"})
    result = track_video(SAMPLE.with_suffix(".mp4"), settings)
    labels = ClipLabels.load(SAMPLE.with_suffix(".labels.json"))
    assert result.decode.skipped > 0
    assert result.decode.read == labels.frame_count
    # the camera's motion is followed on every analysed frame, people or not
    analysed = set(result.camera_motion["frame"].astype(int))
    assert len(analysed) == result.decode.frames == len(result.analysed_times_s)
    assert sorted(result.camera_motion["time_s"]) == pytest.approx(result.analysed_times_s)
    ex = labels.exchanges[0]
    assert set(range(ex.contact_start_frame - 5, ex.release_frame + 6)) <= analysed
    # nobody is in view during the first second: scanned at 10 frames a second
    early = sorted(f for f in analysed if f < FPS)
    assert len(early) <= 11
    # both runners are followed through the pass
    seen = result.landmarks.groupby("frame", observed=True)["track_id"].nunique()
    assert (seen.reindex(range(ex.transfer_frame - 3, ex.transfer_frame + 4)) >= 2).all()


def test_a_scan_rate_whose_gaps_the_gap_policy_cannot_fill_is_refused():
    with pytest.raises(ConfigError, match=r"scan_fps 4 leaves 0\.25 s .* at least 5"):
        Settings().with_overrides({"video.scan_fps": 4})
    ok = Settings().with_overrides({"video.scan_fps": 4, "filtering.max_gap_s": 0.3})
    assert ok.video.scan_fps == 4


def test_someone_just_found_is_followed_at_full_rate_until_confirmed():
    schedule = ScanSchedule(scan_fps=10, window_gap=2.5)
    far = [person(0)]
    schedule.wants(0.0)
    schedule.observe(0.0, far, far, confirming=True)
    assert schedule.wants(1 / FPS)
    schedule.observe(1 / FPS, far, far, confirming=False)
    assert not schedule.wants(2 / FPS)


def test_a_scanned_analysis_is_measured_and_drawn_without_gaps():
    from handoff_cv.analyze import analyze_landmarks
    from handoff_cv.annotate import Annotator
    from handoff_cv.synth.scenario import Scenario, simulate

    sim = simulate(Scenario(name="scan"))
    transfer = sim.labels.exchanges[0].transfer_frame
    # what a scan at a third of the frame rate keeps: every third frame away from the pass
    table = sim.landmarks
    keep = (table["frame"] % 3 == 0) | ((table["frame"] - transfer).abs() <= 20)
    settings = Settings().with_overrides({"video.scan_fps": 10})
    result = analyze_landmarks(table[keep].reset_index(drop=True), settings)
    assert len(result.exchanges) == 1
    for k in result.kinematics:  # the scan's gaps are filled: speeds everywhere
        seen = k.frames[np.isfinite(k.speed_mps)]
        assert np.all(np.diff(seen) == 1)
    first = int(table["frame"].min())
    annotator = Annotator(result, settings)
    fps = sim.labels.fps
    assert annotator._shown_frame(first + 1, (first + 1) / fps) == first  # held, no flicker
    assert annotator._shown_frame(first + 3, (first + 3) / fps) == first + 3
    unheld = Annotator(result, Settings())
    assert unheld._shown_frame(first + 1, (first + 1) / fps) == first + 1
