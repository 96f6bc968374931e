"""The pipeline, one direction: video -> frames -> poses -> tracks (-> later stages).

:func:`track_video` is what ``handoff-cv track`` runs and what notebooks call.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from handoff_cv import __version__
from handoff_cv import landmarks as lm
from handoff_cv.baton import BATON_TABLE, BatonFinder, write_baton_table
from handoff_cv.calibration import zone_region_px
from handoff_cv.camera_motion import MOTION_TABLE, CameraMotionEstimator, write_motion_table
from handoff_cv.errors import ConfigError, NoPersonError
from handoff_cv.geometry import Box
from handoff_cv.models import model_path, sha256_of
from handoff_cv.outputs import staged_output, write_json_atomic
from handoff_cv.pose import LandmarkerConfig, MediaPipeBackend, Pose, PoseBackend
from handoff_cv.runtime import limit_malloc_arenas
from handoff_cv.scan import LOOKAHEAD_S, ScanSchedule
from handoff_cv.settings import Settings
from handoff_cv.track import Track, Tracker
from handoff_cv.video import DecodeReport, Frame, VideoInfo, iter_frames, probe

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]
"""Called with (frames done, frames expected or None) after each frame."""


@dataclass
class TrackResult:
    """What the track stage produced for one video."""

    video: VideoInfo
    tracks: list[Track]
    landmarks: pd.DataFrame
    decode: DecodeReport
    baton: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Baton sightings (see :mod:`handoff_cv.baton`); empty when it was not searched for."""
    camera_motion: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per frame, the map into the first frame's view (see :mod:`handoff_cv.camera_motion`);
    empty when the camera's motion was not followed."""
    timings_s: dict[str, float] = field(default_factory=dict)
    frames_processed: int = 0
    detections_run: int = 0
    analysed_times_s: list[float] = field(default_factory=list)
    """Time of every frame that went through pose inference (all of them unless
    ``--video-scan-fps`` skipped some away from the exchange)."""

    def run_record(self, settings: Settings, model_file: Path) -> dict[str, Any]:
        """The ``run.json`` content: inputs, settings, versions, timings, counts."""
        return {
            "handoff_cv": __version__,
            "command": "track",
            "video": {
                "path": str(self.video.path),
                "width": self.video.width,
                "height": self.video.height,
                "fps": self.video.fps,
                "rotation": self.video.rotation,
                "codec": self.video.codec,
            },
            "decode": {
                "frames": self.decode.frames,
                "skipped": self.decode.skipped,
                "stopped_early": self.decode.stopped_early,
                "repaired_timestamps": self.decode.repaired_timestamps,
            },
            "model": {"path": str(model_file), "sha256": sha256_of(model_file)},
            "settings": settings.model_dump(mode="json"),
            "versions": package_versions(),
            "machine": machine_description(),
            "timings_s": self.timings_s,
            "frames_processed": self.frames_processed,
            "detections_run": self.detections_run,
            "tracks": [
                {"track_id": t.track_id, "frames": len(t.poses), "duration_s": t.duration_s}
                for t in self.tracks
            ],
        }


def make_backend(settings: Settings) -> MediaPipeBackend:
    """The default pose backend configured from ``settings``."""
    limit_malloc_arenas()
    return MediaPipeBackend(
        LandmarkerConfig(
            model_path=model_path(settings.pose.model),
            max_people=settings.tracking.max_people,
            min_detection_confidence=settings.pose.min_detection_score,
            min_tracking_confidence=settings.pose.min_tracking_score,
            min_presence_confidence=settings.pose.min_presence_score,
        )
    )


def track_video(
    video: str | Path,
    settings: Settings | None = None,
    *,
    backend: PoseBackend | None = None,
    progress: ProgressCallback | None = None,
) -> TrackResult:
    """Follow every person in ``video`` and return their tracks and the landmark table.

    Raises :class:`~handoff_cv.errors.NoPersonError` when nobody is found.
    """
    settings = settings or Settings()
    info = probe(video)
    roi = _roi_box(settings, info)
    own_backend = backend is None
    backend = backend or make_backend(settings)
    decode = DecodeReport()
    tracker = Tracker(
        backend,
        settings.tracking,
        frame_size=info.size,
        roi=roi,
        crop_scale=settings.pose.crop_scale,
    )
    finder = BatonFinder(settings.baton)
    motion = CameraMotionEstimator() if settings.video.camera_motion == "follow" else None
    side = SideStages(finder if finder.enabled else None, motion)
    schedule = ScanSchedule(settings.video.scan_fps, settings.video.window_gap)
    expected = _expected_frames(info, settings)
    started = time.perf_counter()
    analysed: list[float] = []
    try:
        frames = iter_frames(
            info.path,
            start_s=settings.video.start_s,
            end_s=settings.video.end_s,
            slowmo_factor=settings.video.slowmo_factor,
            report=decode,
            wanted=schedule.wants,
        )
        for frame in frames:
            tracker.step(frame)
            analysed.append(frame.time_s)
            schedule.observe(
                frame.time_s,
                tracker.followed_boxes(frame.time_s),
                tracker.followed_boxes(frame.time_s + LOOKAHEAD_S),
                tracker.confirming,
            )
            side.observe(frame, tracker.current_poses)
            if progress:
                progress(decode.read, expected)
        side.finish()
    finally:
        side.close()
        tracker.close()
        if own_backend:
            backend.close()
    elapsed = time.perf_counter() - started
    tracks = tracker.tracks()
    if not tracks:
        raise NoPersonError(
            f"no person was found in {info.path} ({decode.read} frames read)",
            "Check the clip shows the runners; for small runners in a wide shot set "
            "--video-roi around the exchange zone or a smaller --tracking-detect-tile-px",
        )
    landmarks = lm.from_tracks(tracks)
    landmarks.attrs["frame_size"] = (info.width, info.height)
    return TrackResult(
        video=info,
        tracks=tracks,
        landmarks=landmarks,
        decode=decode,
        baton=finder.table(),
        camera_motion=motion.table() if motion is not None else pd.DataFrame(),
        timings_s={
            "track": round(elapsed, 3),
            "baton": round(side.seconds["baton"], 3),
            "camera_motion": round(side.seconds["camera_motion"], 3),
        },
        frames_processed=decode.frames,
        detections_run=tracker.detections_run,
        analysed_times_s=analysed,
    )


class SideStages:
    """The baton finder and the camera-motion estimator, fed each analysed frame and its
    poses in order, in a thread of their own: they need the tracker's poses of a frame but
    nothing of theirs goes back to it, so they work on one frame while MediaPipe works on
    the next (most of their time is in OpenCV and numpy, which release the GIL). At most
    ``MAX_BEHIND`` frames wait for them, so memory stays bounded."""

    MAX_BEHIND = 4

    def __init__(self, finder: BatonFinder | None, motion: CameraMotionEstimator | None) -> None:
        self.finder, self.motion = finder, motion
        self.seconds = {"baton": 0.0, "camera_motion": 0.0}
        active = finder is not None or motion is not None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="handoff-cv-side") if active else None
        self._waiting: deque[Future] = deque()

    def observe(self, frame: Frame, poses: list[Pose]) -> None:
        if self._pool is None:
            return
        while len(self._waiting) >= self.MAX_BEHIND:
            self._waiting.popleft().result()  # raises what the stages raised
        self._waiting.append(self._pool.submit(self._run, frame, poses))

    def _run(self, frame: Frame, poses: list[Pose]) -> None:
        if self.finder is not None:
            tick = time.perf_counter()
            self.finder.observe(frame.index, frame.time_s, frame.image, poses)
            self.seconds["baton"] += time.perf_counter() - tick
        if self.motion is not None:
            tick = time.perf_counter()
            people = [Box.from_points(p.xy) for p in poses]
            self.motion.observe(frame.index, frame.time_s, frame.image, people)
            self.seconds["camera_motion"] += time.perf_counter() - tick

    def finish(self) -> None:
        """Wait for every frame handed over."""
        while self._waiting:
            self._waiting.popleft().result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def write_track_outputs(result: TrackResult, settings: Settings, out: Path) -> Path:
    """Write ``landmarks.parquet`` (+ CSV), ``baton.parquet`` (the baton's sightings, when
    it was seen) and ``run.json`` atomically into ``out``."""
    model_file = model_path(settings.pose.model)
    meta = {
        "video": str(result.video.path),
        "width": result.video.width,
        "height": result.video.height,
        "fps": result.video.fps,
        "slowmo_factor": settings.video.slowmo_factor,
    }
    with staged_output(out) as staging:
        lm.write_parquet(result.landmarks, staging / "landmarks.parquet", meta)
        if settings.output.csv:
            lm.write_csv(result.landmarks, staging / "landmarks.csv")
        if not result.baton.empty:
            write_baton_table(result.baton, staging / BATON_TABLE)
        if not result.camera_motion.empty:
            write_motion_table(result.camera_motion, staging / MOTION_TABLE)
        write_json_atomic(staging / "run.json", result.run_record(settings, model_file))
    return out


def _roi_box(settings: Settings, info: VideoInfo) -> Box | None:
    if settings.video.roi is None:
        return _zone_roi(settings, info) if settings.video.roi_from_zone else None
    x, y, w, h = settings.video.roi
    box = Box(x, y, x + w, y + h).clip(info.width, info.height)
    if box.area <= 0:
        raise ConfigError(
            f"--video-roi {x},{y},{w},{h} lies outside the {info.width}x{info.height} frame",
            "Give x,y,width,height inside the upright frame",
        )
    return box


def _zone_roi(settings: Settings, info: VideoInfo) -> Box:
    from handoff_cv.analyze import calibration_from  # analyze builds on this module

    calibration = calibration_from(settings, info.size)
    if calibration is None:
        raise ConfigError(
            "--video-roi-from-zone needs the exchange zone's corners in the image",
            "Give --calibration-zone-corners (or 'handoff-cv calibrate'), or a --video-roi",
        )
    region = zone_region_px(calibration)
    if region is None or region.area <= 0:
        raise ConfigError(
            "no camera fits the zone's corners, so the region the runners can be in is unknown",
            "Check the corners' order (start-right, end-right, end-left, start-left) or give "
            "a --video-roi x,y,width,height",
        )
    log.info("searching only the zone's region %s", region)
    return region


def _expected_frames(info: VideoInfo, settings: Settings) -> int | None:
    if info.frame_count is None:
        return None
    fps_real = info.fps * settings.video.slowmo_factor
    start = int(settings.video.start_s * fps_real)
    end = info.frame_count if settings.video.end_s is None else int(settings.video.end_s * fps_real)
    return max(min(end, info.frame_count) - start, 0)


RUNTIME_PACKAGES = ("mediapipe", "opencv-contrib-python", "av", "numpy", "pandas")


def package_versions(dists: tuple[str, ...] = RUNTIME_PACKAGES) -> dict[str, str]:
    """Python's version and each of ``dists``' installed one (``run.json`` records them:
    MediaPipe's landmarks, and so every figure after them, can change between releases)."""
    versions = {"python": platform.python_version()}
    for dist in dists:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def machine_description() -> str:
    """The processor's model name, its architecture and the cores Python sees: MediaPipe's
    landmarks differ a little between kinds of processor (its kernels take the instruction
    sets they find), so figures from two machines differ, and ``run.json`` records it."""
    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{name} ({platform.machine()}, {os.cpu_count()} cores)"
