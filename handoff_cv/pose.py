"""Pose stage: images in, people's 33 body landmarks in pixels out.

The backend is behind the small :class:`PoseBackend` protocol so a second one can replace
MediaPipe. :class:`MediaPipeBackend` keeps one landmarker per followed person (its crop), as
MediaPipe's multi-pose mode drops one of two people close together and gives no
identities; landmarkers are created and closed explicitly (garbage-collected ones can
deadlock, google-ai-edge/mediapipe#6233).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from handoff_cv.errors import ModelError
from handoff_cv.geometry import Box

log = logging.getLogger(__name__)

LANDMARK_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
"""MediaPipe Pose's 33 landmarks, in its order."""
N_LANDMARKS = len(LANDMARK_NAMES)
LANDMARK_INDEX = {name: i for i, name in enumerate(LANDMARK_NAMES)}

# Landmarks of the body proper (no face details, fingers or toes): their box is the person's.
_BODY = [LANDMARK_INDEX[n] for n in (
    "nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel",
)]  # fmt: skip


_ENOUGH_SEEN = 6  # body landmarks both poses must see for a comparison of those alone


@dataclass(frozen=True)
class Pose:
    """One person's landmarks in full-frame pixels.

    ``z`` is MediaPipe's depth relative to the hips, in the same pixel scale as ``x``
    (smaller is nearer the camera). ``visibility`` and ``presence`` are in [0, 1].
    """

    xy: np.ndarray
    """(33, 2) pixel coordinates."""
    z: np.ndarray
    """(33,) relative depth, pixels."""
    visibility: np.ndarray
    """(33,) likelihood the landmark is visible (not occluded)."""
    presence: np.ndarray
    """(33,) likelihood the landmark is in the image."""

    def box(self) -> Box:
        """The box around the body landmarks (face details, fingers and toes left out)."""
        return Box.from_points(self.xy[_BODY])

    @property
    def score(self) -> float:
        return float(np.mean(self.visibility[_BODY]))

    def distance(self, other: Pose) -> float:
        """Mean distance between corresponding body landmarks, in this pose's box heights.

        Only landmarks both poses see count (visibility >= 0.5), when there are enough of
        them: two landmarkers on one person cut by the frame's edge agree on what is in
        view and guess the rest differently."""
        d = np.linalg.norm(self.xy[_BODY] - other.xy[_BODY], axis=1)
        seen = (self.visibility[_BODY] >= 0.5) & (other.visibility[_BODY] >= 0.5)
        if seen.sum() >= _ENOUGH_SEEN:
            d = d[seen]
        return float(np.mean(d) / max(self.box().height, 1.0))

    def shifted(self, dx: float, dy: float) -> Pose:
        return Pose(self.xy + np.array([dx, dy]), self.z, self.visibility, self.presence)


FollowRequest = tuple[int, np.ndarray, int]
"""One person to follow in one frame: their key, the crop around them, the time in ms."""


class PoseBackend(Protocol):
    """What the tracker needs from a pose estimator.

    ``detect`` finds every person in an image; ``follow`` estimates one person in an image
    (a crop around them), keeping temporal state under ``key``; ``reset`` clears that state
    (the next ``follow`` searches the crop afresh) and ``release`` frees it for good. Both
    return landmarks in the pixel coordinates of the image they were given.
    """

    def detect(self, image: np.ndarray) -> list[Pose]: ...

    def detect_many(self, images: Sequence[np.ndarray]) -> list[list[Pose]]:
        """``detect`` on each image, in order; a backend may run them at once."""
        ...

    def follow(self, key: int, image: np.ndarray, time_ms: int) -> Pose | None: ...

    def follow_many(self, requests: Sequence[FollowRequest]) -> list[Pose | None]:
        """``follow`` for each (key, image, time_ms) of one frame, in order; a backend may
        run them at once (each key's state is its own)."""
        ...

    def reset(self, key: int) -> None: ...

    def release(self, key: int) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class LandmarkerConfig:
    """The options handed to every MediaPipe landmarker."""

    model_path: Path
    max_people: int = 4
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    min_presence_confidence: float = 0.5


class MediaPipeBackend:
    """MediaPipe Pose Landmarker (Tasks API): IMAGE-mode detectors (a second one per extra
    thread, made when tiles are searched at once), one VIDEO-mode landmarker per followed
    person. Use as a context manager, or call :meth:`close`."""

    def __init__(self, config: LandmarkerConfig) -> None:
        _quiet_mediapipe_logs()
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        self._vision = vision
        self._base = BaseOptions
        self.config = config
        self._followers: dict[int, object] = {}
        self._spare: list[object] = []
        self._pending_reset: set[int] = set()
        self._last_ms: dict[int, int] = {}
        self._warmed: set[int] = set()
        self._threads = max(1, min(len(os.sched_getaffinity(0)), config.max_people))
        self._pool: ThreadPoolExecutor | None = None
        with _native_stderr_silenced():
            self._detectors = [self._create(vision.RunningMode.IMAGE, config.max_people)]

    def _create(self, mode, num_poses: int):
        options = self._vision.PoseLandmarkerOptions(
            base_options=self._base(model_asset_path=str(self.config.model_path)),
            running_mode=mode,
            num_poses=num_poses,
            min_pose_detection_confidence=self.config.min_detection_confidence,
            min_pose_presence_confidence=self.config.min_presence_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
        )
        try:
            return self._vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(
                f"MediaPipe cannot load the pose model {self.config.model_path} "
                f"({str(exc).splitlines()[0]})",
                "Use a pose_landmarker .task bundle, e.g. --pose-model full",
            ) from None

    def _image(self, rgb: np.ndarray):
        return self._mp.Image(
            image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)
        )

    def detect(self, image: np.ndarray) -> list[Pose]:
        return self._detect_with(self._detectors[0], image)

    def detect_many(self, images: Sequence[np.ndarray]) -> list[list[Pose]]:
        """The images shared among one detector per thread (an IMAGE-mode landmarker takes
        one call at a time); a detector that has not found anyone yet (it prints to stderr
        on its first person) works alone first."""
        if self._threads < 2 or len(images) < 2:
            return [self.detect(image) for image in images]
        while len(self._detectors) < self._threads:
            with _native_stderr_silenced():
                mode = self._vision.RunningMode.IMAGE
                self._detectors.append(self._create(mode, self.config.max_people))
        shares = [list(range(i, len(images), self._threads)) for i in range(self._threads)]
        out: list[list[Pose]] = [[] for _ in images]

        def run(detector, share: list[int]) -> None:
            for i in share:
                out[i] = self._detect_with(detector, images[i])

        parallel = []
        for detector, share in zip(self._detectors, shares, strict=True):
            if id(detector) in self._warmed:
                parallel.append((detector, share))
            else:
                run(detector, share)
        for job in [self._executor().submit(run, *args) for args in parallel]:
            job.result()
        return out

    def _detect_with(self, detector, image: np.ndarray) -> list[Pose]:
        with _native_stderr_silenced(id(detector) not in self._warmed):
            result = detector.detect(self._image(image))
        if result.pose_landmarks:
            self._warmed.add(id(detector))
        return [_to_pose(lms, image.shape) for lms in result.pose_landmarks]

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="handoff-cv-pose")
        return self._pool

    def follow(self, key: int, image: np.ndarray, time_ms: int) -> Pose | None:
        return self._follow_with(self._follower(key), key, image, time_ms)

    def follow_many(self, requests: Sequence[FollowRequest]) -> list[Pose | None]:
        """Each person's landmarker runs in a thread of its own: MediaPipe's inference of one
        landmarker keeps about one core busy, so two people take the time of one on two
        cores. Landmarkers on their first frames, which silence stderr (process-wide), run
        one by one first."""
        if self._threads < 2 or len(requests) < 2:
            return [self.follow(*request) for request in requests]
        landmarkers = [self._follower(key) for key, _, _ in requests]
        out: list[Pose | None] = [None] * len(requests)
        parallel = []
        for i, (landmarker, request) in enumerate(zip(landmarkers, requests, strict=True)):
            if id(landmarker) in self._warmed:
                parallel.append(i)
            else:
                out[i] = self._follow_with(landmarker, *request)
        jobs = {
            i: self._executor().submit(self._follow_with, landmarkers[i], *requests[i])
            for i in parallel
        }
        for i, job in jobs.items():
            out[i] = job.result()
        return out

    def _follower(self, key: int):
        landmarker = self._followers.get(key)
        if landmarker is None:
            # Creating a landmarker costs ~0.2 s: reuse one freed by an ended identity.
            landmarker = self._spare.pop() if self._spare else self._create_follower()
            self._followers[key] = landmarker
            self._pending_reset.add(key)
        return landmarker

    def _follow_with(self, landmarker, key: int, image: np.ndarray, time_ms: int) -> Pose | None:
        if key in self._pending_reset:
            self._pending_reset.discard(key)
            # An empty frame makes the landmarker drop what it was tracking, so the next
            # call runs its person detector on the new crop.
            self._detect_for_video(landmarker, _BLANK, time_ms - 1)
        result = self._detect_for_video(landmarker, image, time_ms)
        if not result.pose_landmarks:
            return None
        return _to_pose(result.pose_landmarks[0], image.shape)

    def _detect_for_video(self, landmarker, image: np.ndarray, time_ms: int):
        # Timestamps must strictly increase per landmarker (which outlives its key).
        time_ms = max(int(time_ms), self._last_ms.get(id(landmarker), -1) + 1)
        self._last_ms[id(landmarker)] = time_ms
        # MediaPipe warns once per landmarker, on its first frame with a person in it
        with _native_stderr_silenced(id(landmarker) not in self._warmed):
            result = landmarker.detect_for_video(self._image(image), time_ms)
        if result.pose_landmarks:
            self._warmed.add(id(landmarker))
        return result

    def _create_follower(self):
        with _native_stderr_silenced():
            return self._create(self._vision.RunningMode.VIDEO, 1)

    def reset(self, key: int) -> None:
        if key in self._followers:
            self._pending_reset.add(key)

    def release(self, key: int) -> None:
        landmarker = self._followers.pop(key, None)
        if landmarker is not None:
            self._spare.append(landmarker)
            self._pending_reset.discard(key)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        for landmarker in [*self._followers.values(), *self._spare]:
            landmarker.close()
        self._followers.clear()
        self._spare.clear()
        for detector in self._detectors:
            detector.close()
        self._detectors.clear()

    def __enter__(self) -> MediaPipeBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _to_pose(landmarks, shape: tuple[int, ...]) -> Pose:
    h, w = shape[:2]
    arr = np.array(
        [(lm.x, lm.y, lm.z, lm.visibility or 0.0, lm.presence or 0.0) for lm in landmarks],
        dtype=np.float64,
    )
    return Pose(
        xy=arr[:, :2] * np.array([w, h]),
        z=arr[:, 2] * w,
        visibility=arr[:, 3],
        presence=arr[:, 4],
    )


_BLANK = np.zeros((64, 64, 3), dtype=np.uint8)


@contextlib.contextmanager
def _native_stderr_silenced(active: bool = True) -> Iterator[None]:
    """Hide what MediaPipe's C++ code prints to stderr when a landmarker starts.

    Its warnings there (``Feedback manager requires a model with a single signature``,
    ``Using NORM_RECT without IMAGE_DIMENSIONS``) are about the model format, not the
    user's input. Errors still raise in Python.
    """
    if not active or os.environ.get("HANDOFF_CV_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _quiet_mediapipe_logs() -> None:
    # MediaPipe's C++ side logs through glog/absl to stderr; keep the CLI's output readable.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
