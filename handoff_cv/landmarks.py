"""The landmark table: the serialised form of tracks, and the input of every later stage.

One row per (frame, track, landmark), tidy and long::

    frame  time_s  track_id  landmark       x_px    y_px    z      visibility  presence
    0      0.000   0         nose           812.4   301.9   -95.1  0.998       0.999

See ``docs/landmarks.md`` for the schema. Parquet keeps the video's metadata (size, frame
rate, source) in the file; CSV holds the same columns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from handoff_cv.errors import InputError
from handoff_cv.pose import LANDMARK_NAMES, N_LANDMARKS, Pose
from handoff_cv.track import Track, TrackedPose

SCHEMA_VERSION = 1
METADATA_KEY = b"handoff_cv"

COLUMNS: dict[str, str] = {
    "frame": "int32",
    "time_s": "float64",
    "track_id": "int32",
    "landmark": "category",
    "x_px": "float32",
    "y_px": "float32",
    "z": "float32",
    "visibility": "float32",
    "presence": "float32",
}
"""Column name -> pandas dtype of the landmark table."""

COLUMN_DOCS: dict[str, str] = {
    "frame": "Frame index in the video file (0 = first decoded frame).",
    "time_s": "Real time of the frame in seconds from the first frame, from the container's "
    "timestamps (divided by the slow-motion factor).",
    "track_id": "Identity of the person, stable over the clip (0, 1, ... in order of appearance).",
    "landmark": "One of MediaPipe Pose's 33 landmark names (nose, left_wrist, ...), in its order.",
    "x_px": "Horizontal position in pixels of the upright full frame (0 = left edge).",
    "y_px": "Vertical position in pixels of the upright full frame (0 = top edge).",
    "z": "Depth relative to the hips' midpoint, same pixel scale as x_px; smaller is nearer.",
    "visibility": "Likelihood in [0, 1] that the landmark is visible (not occluded).",
    "presence": "Likelihood in [0, 1] that the landmark is inside the image.",
}

LANDMARK_DTYPE = pd.CategoricalDtype(list(LANDMARK_NAMES), ordered=True)


def empty_table() -> pd.DataFrame:
    return _typed(pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS}))


def from_tracked_poses(items: Iterable[TrackedPose]) -> pd.DataFrame:
    """Build the tidy table from tracked poses (any order; rows come out sorted)."""
    items = list(items)
    if not items:
        return empty_table()
    n = len(items)
    xy = np.stack([p.pose.xy for p in items])  # (n, 33, 2)
    table = pd.DataFrame(
        {
            "frame": np.repeat([p.frame for p in items], N_LANDMARKS),
            "time_s": np.repeat([p.time_s for p in items], N_LANDMARKS),
            "track_id": np.repeat([p.track_id for p in items], N_LANDMARKS),
            "landmark": pd.Categorical.from_codes(
                np.tile(np.arange(N_LANDMARKS), n), dtype=LANDMARK_DTYPE
            ),
            "x_px": xy[:, :, 0].ravel(),
            "y_px": xy[:, :, 1].ravel(),
            "z": np.concatenate([p.pose.z for p in items]),
            "visibility": np.concatenate([p.pose.visibility for p in items]),
            "presence": np.concatenate([p.pose.presence for p in items]),
        }
    )
    table = _typed(table)
    return table.sort_values(["frame", "track_id", "landmark"], kind="stable", ignore_index=True)


def from_tracks(tracks: Iterable[Track]) -> pd.DataFrame:
    return from_tracked_poses(p for t in tracks for p in t.poses)


def poses_by_frame(table: pd.DataFrame) -> dict[int, list[Pose]]:
    """Everyone's :class:`Pose` in each frame of a landmark table."""
    frames: dict[int, list[Pose]] = {}
    for track in to_tracks(table):
        for tracked in track.poses:
            frames.setdefault(tracked.frame, []).append(tracked.pose)
    return frames


def to_tracks(table: pd.DataFrame) -> list[Track]:
    """Rebuild tracks (with :class:`Pose` values) from a landmark table."""
    validate(table)
    tracks = []
    for track_id, rows in table.groupby("track_id", sort=True, observed=True):
        rows = rows.sort_values(["frame", "landmark"])
        frames = rows["frame"].to_numpy().reshape(-1, N_LANDMARKS)[:, 0]
        times = rows["time_s"].to_numpy().reshape(-1, N_LANDMARKS)[:, 0]
        values = rows[["x_px", "y_px", "z", "visibility", "presence"]].to_numpy(np.float64)
        values = values.reshape(-1, N_LANDMARKS, 5)
        poses = [
            TrackedPose(
                int(f), float(t), int(track_id),
                Pose(v[:, :2].copy(), v[:, 2].copy(), v[:, 3].copy(), v[:, 4].copy()),
            )
            for f, t, v in zip(frames, times, values, strict=True)
        ]  # fmt: skip
        tracks.append(Track(int(track_id), poses))
    return tracks


def validate(table: pd.DataFrame) -> None:
    """Raise :class:`InputError` unless ``table`` has the landmark table's columns and shape."""
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"the landmark table lacks the column(s) {', '.join(missing)}",
            "Give a table written by 'handoff-cv track' (see docs/landmarks.md)",
        )
    counts = table.groupby(["frame", "track_id"], observed=True).size()
    if len(counts) and not (counts == N_LANDMARKS).all():
        raise InputError(
            "the landmark table does not have 33 landmarks for every (frame, track_id)",
            "Give a complete table written by 'handoff-cv track'",
        )


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for column, dtype in COLUMNS.items():
        out[column] = out[column].astype(LANDMARK_DTYPE if column == "landmark" else dtype)
    return out[list(COLUMNS)]


def write_parquet(table: pd.DataFrame, path: Path, metadata: dict[str, Any]) -> None:
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    meta = dict(arrow.schema.metadata or {})
    meta[METADATA_KEY] = json.dumps({"schema_version": SCHEMA_VERSION, **metadata}).encode()
    pq.write_table(arrow.replace_schema_metadata(meta), path, compression="zstd")


def write_csv(table: pd.DataFrame, path: Path) -> None:
    table.to_csv(path, index=False, float_format="%.3f")


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata handoff-cv stored in a landmark Parquet file (video size, fps, ...)."""
    raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def load_landmarks(path: str | Path) -> pd.DataFrame:
    """Load a landmark table written by ``handoff-cv track`` (Parquet, CSV, or their folder).

    >>> table = load_landmarks("out/landmarks.parquet")  # doctest: +SKIP
    >>> table[table.landmark == "right_wrist"].plot(x="time_s", y="x_px")  # doctest: +SKIP
    """
    path = Path(path)
    if path.is_dir():
        path = path / "landmarks.parquet"
    if not path.is_file():
        raise InputError(f"landmark table not found: {path}", "Run 'handoff-cv track' first")
    try:
        table = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # pyarrow and pandas raise many types for a bad file
        raise InputError(
            f"{path} is not a readable landmark table ({type(exc).__name__})",
            "Give the landmarks.parquet or landmarks.csv written by 'handoff-cv track'",
        ) from None
    validate(table)
    table = _typed(table)
    meta = read_metadata(path) if path.suffix != ".csv" else {}
    if meta.get("width") and meta.get("height"):
        table.attrs["frame_size"] = (int(meta["width"]), int(meta["height"]))
    return table
