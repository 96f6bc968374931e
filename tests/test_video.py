"""The video stage: timestamps, rotation, streaming and bad files."""

from __future__ import annotations

import numpy as np
import pytest

from handoff_cv.errors import InputError, VideoError
from handoff_cv.video import DecodeReport, iter_frames, probe
from tests.conftest import moving_square_frames


def test_probe_reports_size_rate_and_count(make_video):
    info = probe(make_video(fps=25))
    assert (info.width, info.height) == (96, 64)
    assert info.fps == pytest.approx(25)
    assert info.frame_count == 12
    assert info.rotation == 0


def test_frames_stream_in_order_with_container_times(make_video):
    frames = list(iter_frames(make_video(fps=25, frames=moving_square_frames(12, (100, 64)))))
    assert [f.index for f in frames] == list(range(12))
    assert [f.time_s for f in frames] == pytest.approx([i / 25 for i in range(12)], abs=1e-3)
    assert frames[0].image.shape == (64, 100, 3) and frames[0].image.dtype == np.uint8
    # FFmpeg pads rows; MediaPipe silently finds nobody in a strided array
    assert all(f.image.flags["C_CONTIGUOUS"] for f in frames)


def test_variable_frame_rate_uses_timestamps_not_index(make_video):
    times = [0.0, 0.030, 0.070, 0.080, 0.200, 0.210, 0.260, 0.300, 0.33, 0.40, 0.41, 0.5]
    frames = list(iter_frames(make_video(times_s=times)))
    assert [f.time_s for f in frames] == pytest.approx(times, abs=2e-3)


def test_slow_motion_factor_scales_time(make_video):
    frames = list(iter_frames(make_video(fps=30), slowmo_factor=8))
    assert frames[8].time_s == pytest.approx(8 / 30 / 8, abs=1e-3)


def test_start_and_end_select_a_window(make_video):
    frames = list(iter_frames(make_video(fps=10), start_s=0.3, end_s=0.7))
    assert [f.index for f in frames] == [3, 4, 5, 6, 7]


def test_portrait_rotation_metadata_is_applied(make_video):
    path = make_video(rotation=90)
    info = probe(path)
    assert info.rotation == 90 and (info.width, info.height) == (64, 96)
    image = next(iter_frames(path)).image
    assert image.shape == (96, 64, 3)
    # The square (rows 20-36, cols 0-16 of the stored frame) turns counter-clockwise
    # with the frame: it ends up in the bottom-left area of the upright image.
    ys, xs = np.nonzero(image[..., 0] > 128)
    assert ys.min() >= 96 - 20 and xs.min() >= 18 and xs.max() <= 46


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="video not found"):
        probe(tmp_path / "nope.mp4")


def test_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        probe(tmp_path)


def test_text_file_is_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are not the frames you are looking for\n" * 50)
    with pytest.raises(VideoError, match="not a video file"):
        probe(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(VideoError, match="empty"):
        list(iter_frames(path))


def test_truncated_file_yields_the_frames_before_the_damage(make_video, tmp_path):
    whole = make_video("whole.mkv", frames=moving_square_frames(40), codec="mpeg4")
    data = whole.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    report = DecodeReport()
    frames = list(iter_frames(cut, report=report))
    assert 5 <= len(frames) < 40
    assert report.frames == len(frames)


def test_header_only_file_has_no_decodable_frame(make_video, tmp_path):
    whole = make_video("whole.mkv", frames=moving_square_frames(40), codec="mpeg4")
    head = tmp_path / "head.mkv"
    head.write_bytes(whole.read_bytes()[:300])
    with pytest.raises(VideoError):
        list(iter_frames(head))
