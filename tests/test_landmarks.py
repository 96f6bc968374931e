"""The landmark table: schema, round trips and validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from handoff_cv import landmarks as lm
from handoff_cv.errors import InputError
from handoff_cv.pose import LANDMARK_NAMES
from handoff_cv.track import Track, TrackedPose
from tests.fakes import pose_in_box


def _tracks() -> list[Track]:
    return [
        Track(tid, [TrackedPose(f, f / 30, tid, pose_in_box(10 * f + 100 * tid, 50, 30, 80))
                    for f in range(start, start + 5)])
        for tid, start in ((0, 0), (1, 2))
    ]  # fmt: skip


def test_table_is_tidy_with_documented_columns():
    table = lm.from_tracks(_tracks())
    assert list(table.columns) == list(lm.COLUMNS) == list(lm.COLUMN_DOCS)
    assert len(table) == 10 * 33
    assert list(table.landmark.cat.categories) == list(LANDMARK_NAMES)
    nose = table[(table.track_id == 1) & (table.frame == 3) & (table.landmark == "nose")]
    assert nose.x_px.item() == pytest.approx(10 * 3 + 100 + 0.5 * 30)
    assert table.frame.is_monotonic_increasing


def test_parquet_round_trip_keeps_values_and_metadata(tmp_path):
    table = lm.from_tracks(_tracks())
    path = tmp_path / "landmarks.parquet"
    lm.write_parquet(table, path, {"fps": 30.0, "width": 640})
    loaded = lm.load_landmarks(tmp_path)  # the folder works too
    pd.testing.assert_frame_equal(loaded, table)
    assert lm.read_metadata(path)["fps"] == 30.0
    assert lm.read_metadata(path)["schema_version"] == lm.SCHEMA_VERSION


def test_csv_round_trip(tmp_path):
    table = lm.from_tracks(_tracks())
    lm.write_csv(table, tmp_path / "landmarks.csv")
    loaded = lm.load_landmarks(tmp_path / "landmarks.csv")
    assert loaded.landmark.dtype == table.landmark.dtype
    np.testing.assert_allclose(loaded.x_px, table.x_px, atol=1e-3)


def test_tracks_rebuild_from_the_table():
    tracks = lm.to_tracks(lm.from_tracks(_tracks()))
    assert [t.track_id for t in tracks] == [0, 1]
    assert list(tracks[1].frames) == [2, 3, 4, 5, 6]
    np.testing.assert_allclose(tracks[1].poses[0].pose.xy, _tracks()[1].poses[0].pose.xy, atol=1e-3)


def test_incomplete_tables_are_rejected(tmp_path):
    table = lm.from_tracks(_tracks())
    with pytest.raises(InputError, match="column"):
        lm.validate(table.drop(columns=["presence"]))
    with pytest.raises(InputError, match="33 landmarks"):
        lm.validate(table.iloc[:-1])
    bad = tmp_path / "x.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InputError, match="not a readable landmark table"):
        lm.load_landmarks(bad)
    with pytest.raises(InputError, match="not found"):
        lm.load_landmarks(tmp_path / "missing.parquet")
