"""Video stage: a video file in, a stream of upright RGB frames with real timestamps out.

Frames are decoded with PyAV (FFmpeg) and streamed one at a time, never all held in memory.
Time comes from each frame's container timestamp, not from ``index / fps``, because phones
record variable frame rate; rotation metadata of portrait phone clips is applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from handoff_cv.errors import InputError, VideoError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video, before decoding it."""

    path: Path
    width: int
    """Width of the upright frame (after rotation), pixels."""
    height: int
    """Height of the upright frame (after rotation), pixels."""
    fps: float
    """Average frame rate the container declares (frames per second of file time)."""
    frame_count: int | None
    """Frames the container declares; None when it does not say."""
    duration_s: float | None
    """Duration in file time; None when the container does not say."""
    rotation: int
    """Degrees counter-clockwise applied to decoded frames to make them upright."""
    codec: str

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index in the file, its real time and the upright RGB image."""

    index: int
    time_s: float
    image: np.ndarray = field(repr=False)


@dataclass
class DecodeReport:
    """What happened while decoding: how many frames, and why decoding stopped early."""

    frames: int = 0
    skipped: int = 0
    """Frames decoded but not wanted (see ``iter_frames``'s ``wanted``)."""
    stopped_early: str | None = None
    repaired_timestamps: int = 0

    @property
    def read(self) -> int:
        """Every frame decoded in the time range, analysed or skipped."""
        return self.frames + self.skipped


def probe(path: str | Path) -> VideoInfo:
    """Read a video's header and its first frame's rotation, with one-line errors."""
    path = _check_path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        rotation = _first_rotation(container, stream)
        width, height = stream.codec_context.width, stream.codec_context.height
        if rotation % 180:
            width, height = height, width
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        duration = (
            float(stream.duration * stream.time_base)
            if stream.duration and stream.time_base
            else (container.duration / av.time_base if container.duration else None)
        )
        return VideoInfo(
            path=path,
            width=int(width),
            height=int(height),
            fps=float(rate),
            frame_count=int(stream.frames) or None,
            duration_s=duration,
            rotation=rotation,
            codec=stream.codec_context.name,
        )


def iter_frames(
    path: str | Path,
    *,
    start_s: float = 0.0,
    end_s: float | None = None,
    slowmo_factor: float = 1.0,
    report: DecodeReport | None = None,
    wanted: Callable[[float], bool] | None = None,
) -> Iterator[Frame]:
    """Yield upright RGB frames of ``path`` from ``start_s`` to ``end_s`` (real seconds).

    ``time_s`` is the frame's presentation time relative to the first frame, divided by
    ``slowmo_factor``. Timestamps that are missing or go backwards are repaired (and
    counted in ``report``). Corrupt data after at least one good frame ends the stream
    early with the reason in ``report.stopped_early``; a file with no decodable frame
    raises :class:`VideoError`. ``wanted(time_s)``, when given, is asked for each frame just
    before it is yielded: a frame it declines is decoded but never converted to an image.
    """
    path = _check_path(path)
    report = report if report is not None else DecodeReport()
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fallback_dt = 1.0 / float(stream.average_rate or stream.guessed_rate or 30)
        first_time: float | None = None
        last_time = -fallback_dt
        index = -1
        for frame in _decode(container, stream, report):
            index += 1
            if first_time is None and frame.time is not None:
                first_time = frame.time
            file_time = None if frame.time is None else frame.time - (first_time or 0.0)
            if file_time is None or file_time <= last_time:
                report.repaired_timestamps += 1
                file_time = last_time + fallback_dt
            last_time = file_time
            time_s = file_time / slowmo_factor
            if time_s < start_s:
                continue
            if end_s is not None and time_s > end_s:
                break
            if wanted is not None and not wanted(time_s):
                report.skipped += 1
                continue
            report.frames += 1
            yield Frame(index=index, time_s=time_s, image=_upright(frame))
    if report.frames == 0 and report.skipped == 0:
        reason = f" ({report.stopped_early})" if report.stopped_early else ""
        if index < 0:
            raise VideoError(
                f"no decodable frame in {path}{reason}",
                "The file is empty or corrupt; re-export or re-copy it from the camera",
            )
        raise VideoError(
            f"no frame of {path} lies between {start_s:g} s and {end_s} s",
            "Check --video-start-s and --video-end-s against the clip's length",
        )


def _decode(container, stream, report: DecodeReport) -> Iterator[av.VideoFrame]:
    try:
        for packet in container.demux(stream):
            try:
                yield from packet.decode()
            except av.error.InvalidDataError as exc:
                # A damaged packet in the middle: skip it like a player would.
                log.warning("skipped a damaged packet in %s: %s", container.name, exc)
        yield from _flush(stream)
    except (av.error.FFmpegError, OSError) as exc:
        report.stopped_early = f"unreadable data after frame {report.frames}: {exc}"
        log.warning("%s: %s", container.name, report.stopped_early)


def _flush(stream) -> Iterator[av.VideoFrame]:
    try:
        yield from stream.codec_context.decode(None)
    except av.error.EOFError:
        return


def _upright(frame: av.VideoFrame) -> np.ndarray:
    # FFmpeg pads rows, so the array is strided; MediaPipe and OpenCV want it contiguous.
    image = frame.to_ndarray(format="rgb24")
    quarter_turns = round(getattr(frame, "rotation", 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(image, quarter_turns) if quarter_turns else image)


def _first_rotation(container, stream) -> int:
    try:
        for frame in container.decode(stream):
            return int(getattr(frame, "rotation", 0) or 0)
    except av.error.FFmpegError:
        return 0
    return 0


def _check_path(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"video not found: {path}", "Check the path and the file name")
    if path.is_dir():
        raise InputError(
            f"{path} is a folder, not a video", "Give a video file, or use 'handoff-cv batch'"
        )
    if path.stat().st_size == 0:
        raise VideoError(f"{path} is empty (0 bytes)", "Copy the video again from the camera")
    return path


def _open(path: Path):
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise VideoError(
            f"{path} is not a video file that can be read ({_short(exc)})",
            "Give an MP4, MOV, AVI, MKV or WebM file; convert others with a video editor",
        ) from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path} has no video stream", "Give a file with video in it")
    return container


def _short(exc: Exception) -> str:
    return str(exc).split(":")[0] if ":" in str(exc) else str(exc)


class VideoWriter:
    """Encode RGB frames to an H.264 MP4 that browsers play (PyAV's libx264, yuv420p,
    faststart). Odd frame sizes are cropped by one pixel, as yuv420p needs even sizes."""

    def __init__(self, path: str | Path, fps: float, crf: int = 23, preset: str = "veryfast"):
        self._container = av.open(str(path), "w", options={"movflags": "+faststart"})
        self._fps, self._options = fps, {"preset": preset, "crf": str(crf)}
        self._stream = None

    def write(self, image: np.ndarray) -> None:
        image = even_sized(image)
        if self._stream is None:
            rate = Fraction(fps_fraction(self._fps))
            self._stream = self._container.add_stream("libx264", rate=rate, options=self._options)
            self._stream.height, self._stream.width = image.shape[:2]
            self._stream.pix_fmt = "yuv420p"
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def even_sized(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return np.ascontiguousarray(image[: h - h % 2, : w - w % 2])


def fps_fraction(fps: float) -> Fraction:
    """A frame rate as a fraction (29.97 -> 30000/1001)."""
    for den in (1, 1001):
        num = fps * den
        if abs(num - round(num)) < 1e-3 * den:
            return Fraction(round(num), den)
    return Fraction(fps).limit_denominator(1001)
