"""Real footage (../shared/data/sports2d_demo.mp4): two people, occlusion, backlight.

One walks across the frame (visible from about frame 40 to 199); the other stands on a
box, jumps and flips down, and walks off (visible nearly throughout). Each must keep one
identity for the frames they are visible.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import handoff_cv as hcv
from handoff_cv.cli import app

pytestmark = [pytest.mark.shared, pytest.mark.slow]


@pytest.fixture(scope="module")
def tracked(demo_video, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["track", str(demo_video), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _per_track(table):
    return {tid: rows for tid, rows in table.groupby("track_id", observed=True)}


def test_two_people_two_stable_ids(tracked):
    table = hcv.load_landmarks(tracked)
    tracks = _per_track(table)
    assert sorted(tracks) == [0, 1]
    spans = {tid: (rows.frame.min(), rows.frame.max(), rows.frame.nunique())
             for tid, rows in tracks.items()}  # fmt: skip
    jumper, walker = spans[0], spans[1]
    # the jumper is in view from the first frame to the last few
    assert jumper[0] <= 2 and jumper[1] >= 220 and jumper[2] >= 0.9 * (jumper[1] - jumper[0])
    # the walker enters around frame 40 and leaves behind the tree around frame 200
    assert 30 <= walker[0] <= 50 and 190 <= walker[1] <= 215 and walker[2] >= 150


def test_identities_never_jump_between_people(tracked):
    table = hcv.load_landmarks(tracked)
    hips = table[table.landmark.isin(["left_hip", "right_hip"])]
    centre = hips.groupby(["track_id", "frame"], observed=True)[["x_px", "y_px"]].mean()
    for tid, rows in centre.groupby(level=0):
        frames = rows.index.get_level_values(1).to_numpy()
        xy = rows.to_numpy()
        step = np.linalg.norm(np.diff(xy, axis=0), axis=1) / np.diff(frames)
        # a person moves well under 60 px per frame here; the two are 300+ px apart
        assert step.max() < 60, (tid, frames[np.argmax(step)], step.max())


def test_landmarks_are_in_full_frame_pixels(tracked):
    table = hcv.load_landmarks(tracked)
    meta = hcv.read_metadata(tracked / "landmarks.parquet")
    assert (meta["width"], meta["height"]) == (1768, 994)
    visible = table[table.visibility > 0.8]
    # MediaPipe may place a landmark of someone leaving the frame a few pixels past its edge
    assert visible.x_px.between(-20, 1788).all() and visible.y_px.between(-20, 1014).all()
    assert visible.x_px.between(0, 1768).mean() > 0.99
    run = json.loads((tracked / "run.json").read_text())
    assert run["decode"]["frames"] == 230 and run["video"]["fps"] == 30
    assert run["machine"].endswith(" cores)")  # landmarks differ between processors


def test_truncated_real_clip_keeps_the_frames_before_the_damage(demo_video, tmp_path):
    cut = tmp_path / "cut.mp4"
    data = demo_video.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    result = CliRunner().invoke(app, ["track", str(cut), "-o", str(tmp_path / "o")])
    table = hcv.load_landmarks(tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert 20 < table.frame.max() < 229
