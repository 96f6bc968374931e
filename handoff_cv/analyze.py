"""Analysis: a landmark table (from video or the simulator) in, exchange reports out.

``handoff-cv analyze`` and notebooks call :func:`analyze_landmarks` (or
:func:`analyze_video`, which runs the track stage first).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from handoff_cv import __version__
from handoff_cv import landmarks as lm
from handoff_cv.baton import SIGHTING_POINTS
from handoff_cv.calibration import LensDistortion, ZoneCalibration
from handoff_cv.camera_motion import camera_moved, reliable_between, stabilise
from handoff_cv.errors import ConfigError, InputError
from handoff_cv.exchange import (
    REPORT_SCHEMA_VERSION,
    BatonInput,
    ExchangeReport,
    find_exchanges,
)
from handoff_cv.exchange_rules import ZONE_LENGTH_M
from handoff_cv.kinematics import TrackKinematics, track_kinematics
from handoff_cv.outputs import staged_output, write_json_atomic
from handoff_cv.settings import Settings


@dataclass
class AnalysisResult:
    """Exchanges found in one clip, and the kinematics they were read from."""

    clip: str
    exchanges: list[ExchangeReport]
    kinematics: list[TrackKinematics]
    landmarks: pd.DataFrame
    timings_s: dict[str, float] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    baton: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The baton's sightings the analysis used (empty when it was not searched for)."""
    calibration: ZoneCalibration | None = None
    """The zone calibration the positions were measured with (None: scale estimated)."""
    camera_motion: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The camera's motion the positions were measured through (empty: a still camera)."""

    def exchanges_frame(self) -> pd.DataFrame:
        """One row per exchange, the report's fields as columns."""
        rows = [{"clip": self.clip, **e.model_dump(mode="json")} for e in self.exchanges]
        frame = pd.DataFrame(rows, columns=["clip", *ExchangeReport.model_fields])
        if "quality_flags" in frame:
            frame["quality_flags"] = frame.quality_flags.map(lambda f: ";".join(f))
        return _flatten_splits(frame)

    def holders_frame(self) -> pd.DataFrame:
        """Per exchange and frame: who held the baton, with which hand(s), how surely."""
        parts = [e.holders.to_frame(e.exchange_id) for e in self.exchanges if e.holders is not None]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def kinematics_frame(self) -> pd.DataFrame:
        """Per track and frame: hip position in pixels, body height, position and speed."""
        parts = [k.to_frame() for k in self.kinematics]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def report_json(self, settings: Settings) -> dict[str, Any]:
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "handoff_cv": __version__,
            "clip": self.clip,
            "source": self.source,
            "units": "estimated from stature"
            if settings.calibration.zone_corners is None
            else "calibrated zone",
            "message": None if self.exchanges else NO_EXCHANGE_MESSAGE,
            "exchanges": [e.model_dump(mode="json") for e in self.exchanges],
        }


def _flatten_splits(frame: pd.DataFrame) -> pd.DataFrame:
    """One column per mark for a table: ``baton_at_<mark>_s`` (crossing time) and
    ``split_to_<mark>_s`` (from the previous mark), in place of the list of splits."""
    if "baton_splits" not in frame:
        return frame
    columns: dict[str, list] = {}
    for i, splits in enumerate(frame.pop("baton_splits")):
        for split in splits or []:
            slug = "_".join(split["mark"].lower().replace(".", "_").split())
            columns.setdefault(f"baton_at_{slug}_s", [None] * len(frame))[i] = split["time_s"]
            columns.setdefault(f"split_to_{slug}_s", [None] * len(frame))[i] = split["split_s"]
    return pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)


NO_EXCHANGE_MESSAGE = (
    "No baton exchange found: no two runners moving the same way brought their hands "
    "together. Check that both runners are in view at the pass."
)


def calibration_from(
    settings: Settings, frame_size: tuple[int, int] | None = None
) -> ZoneCalibration | None:
    """The zone calibration the settings describe (None when no corners are given);
    ``frame_size`` (width, height) is needed to undo a lens distortion, and places points
    above the track (hips, hands) through the camera it recovers."""
    cal = settings.calibration
    if cal.zone_corners is None:
        return None
    lens = None
    if cal.lens_k1 or cal.lens_k2:
        if frame_size is None:
            raise ConfigError(
                "the lens distortion (calibration.lens_k1/lens_k2) needs the video's frame size, "
                "which this landmark table does not record",
                "Re-run 'handoff-cv track' on the video, or set the coefficients to 0",
            )
        lens = LensDistortion(cal.lens_k1, cal.lens_k2, *frame_size)
    points = [cal.zone_corners[i : i + 2] for i in range(0, 8, 2)]
    return ZoneCalibration.from_corners(
        points,
        ZONE_LENGTH_M[cal.relay],
        cal.lane_width_m,
        cal.corners_x_m,
        lens=lens,
        marks=cal.extra_marks(),
        frame_size=frame_size,
    )


def frame_size_of(table: pd.DataFrame) -> tuple[int, int] | None:
    """The video's (width, height) recorded with a landmark table, if any."""
    size = table.attrs.get("frame_size")
    return (int(size[0]), int(size[1])) if size else None


def analyze_landmarks(
    table: pd.DataFrame,
    settings: Settings | None = None,
    clip: str = "clip",
    baton: pd.DataFrame | None = None,
    frame_size: tuple[int, int] | None = None,
    camera_motion: pd.DataFrame | None = None,
) -> AnalysisResult:
    """Find and measure every exchange in a landmark table; ``baton`` sightings (from the
    track stage) let the baton decide the hands and refine the times. ``frame_size``
    (width, height; default: the size recorded with the table) is needed only for a lens
    distortion. ``camera_motion`` (from the track stage) maps a moving camera's frames into
    the first frame's view before anything is measured."""
    settings = settings or Settings()
    lm.validate(table)
    started = time.perf_counter()
    size = frame_size or frame_size_of(table)
    calibration = calibration_from(settings, size)
    moved = camera_moved(camera_motion, size)
    measured, sightings_px = table, baton
    if moved:
        measured = stabilise(table, camera_motion, [("x_px", "y_px")])
        if baton is not None and not baton.empty:
            sightings_px = stabilise(baton, camera_motion, SIGHTING_POINTS)
    kins = track_kinematics(measured, settings.filtering, settings.exchange, calibration)
    sightings = None
    if sightings_px is not None and not sightings_px.empty and settings.baton.colour != "off":
        sightings = BatonInput(sightings_px, settings.baton)
    picture = None if moved else size  # stabilised, positions leave the picture's frame
    exchanges = (
        find_exchanges(kins, settings.exchange, calibration, sightings, picture) if kins else []
    )
    if moved:
        _flag_camera_motion(exchanges, camera_motion)
    elapsed = time.perf_counter() - started
    result = AnalysisResult(clip, exchanges, kins, table, {"analyze": round(elapsed, 3)})
    result.baton = baton if baton is not None else pd.DataFrame()
    result.calibration = calibration
    if moved:
        result.camera_motion = camera_motion
    return result


def _flag_camera_motion(exchanges: list[ExchangeReport], motion: pd.DataFrame) -> None:
    """Mark the reports measured through the camera's motion; where the background was lost
    around the pass, the positions and speeds may carry a jump."""
    for report in exchanges:
        report.quality_flags.append("camera_compensated")
        start, end = report.contact_start_s - 1.5, report.release_s + 0.5
        if not reliable_between(motion, start, end):
            report.quality_flags.append("camera_motion_uncertain")


def analyze_video(video: str | Path, settings: Settings | None = None, progress=None):
    """Track ``video`` and analyse it; returns (TrackResult, AnalysisResult)."""
    from handoff_cv.pipeline import track_video

    settings = settings or Settings()
    tracked = track_video(video, settings, progress=progress)
    result = analyze_landmarks(
        tracked.landmarks,
        settings,
        clip=Path(video).stem,
        baton=tracked.baton,
        frame_size=(tracked.video.width, tracked.video.height),
        camera_motion=tracked.camera_motion,
    )
    result.timings_s.update(tracked.timings_s)
    result.source = {"video": str(video)}
    return tracked, result


def write_analysis_outputs(
    result: AnalysisResult,
    settings: Settings,
    out: Path,
    extra_files: dict[str, Any] | None = None,
    run_extra: dict[str, Any] | None = None,
    video: Path | None = None,
) -> Path:
    """Write exchanges.json/.csv, kinematics.parquet, report.html, plots/ (+ extra files)
    atomically; ``video`` adds key frames to the report."""
    from handoff_cv.outputs import write_text_atomic
    from handoff_cv.report import render_charts, render_html, write_charts

    with staged_output(out) as staging:
        annotated = "annotated.mp4" if "annotated.mp4" in (extra_files or {}) else None
        charts = render_charts(result)
        page = render_html(result, settings, video, annotated_video=annotated, charts=charts)
        write_text_atomic(staging / "report.html", page)
        write_charts(charts, staging / "plots")
        write_json_atomic(staging / "exchanges.json", result.report_json(settings))
        frame = result.exchanges_frame()
        frame.to_csv(staging / "exchanges.csv", index=False)
        kin = result.kinematics_frame()
        if not kin.empty:
            kin.to_parquet(staging / "kinematics.parquet", index=False)
        holders = result.holders_frame()
        if not holders.empty:
            holders.to_parquet(staging / "baton_holders.parquet", index=False)
        for name, writer in (extra_files or {}).items():
            writer(staging / name)
        write_json_atomic(
            staging / "run.json",
            {
                "handoff_cv": __version__,
                "command": "analyze",
                "clip": result.clip,
                "source": result.source,
                "settings": settings.model_dump(mode="json"),
                "timings_s": result.timings_s,
                "exchanges": len(result.exchanges),
                **(run_extra or {}),
            },
        )
    return out


def _outputs(path: str | Path, name: str) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    files = sorted(path.rglob(name))
    if not files:
        raise InputError(f"no {name} found at {path}", "Give an analyze or batch output folder")
    return files


def load_exchanges(path: str | Path) -> pd.DataFrame:
    """Every exchange report under ``path`` (an ``exchanges.json``, an analyze output folder,
    or a batch folder of them) as one DataFrame, one row per exchange, with its clip."""
    frames = []
    for file in _outputs(path, "exchanges.json"):
        data = json.loads(file.read_text(encoding="utf-8"))
        rows = [{"clip": data.get("clip") or file.parent.name, **e} for e in data["exchanges"]]
        frames.append(pd.DataFrame(rows, columns=["clip", *ExchangeReport.model_fields]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_kinematics(path: str | Path) -> pd.DataFrame:
    """Runners' positions and speeds per frame (``kinematics.parquet`` files under
    ``path``), with the clip each row comes from."""
    frames = []
    for file in _outputs(path, "kinematics.parquet"):
        clip = (
            json.loads((file.parent / "exchanges.json").read_text()).get("clip")
            if (file.parent / "exchanges.json").is_file()
            else file.parent.name
        )
        frames.append(pd.read_parquet(file).assign(clip=clip))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
