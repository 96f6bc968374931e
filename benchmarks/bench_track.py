"""Frames per second of ``handoff-cv track`` against the raw MediaPipe landmarker.

Both read the same frames with the same decoder and the same model file; the raw run is
MediaPipe's own multi-person mode on the whole frame (``num_poses`` = people expected),
which is what a plain MediaPipe script does. Run::

    .venv/bin/python benchmarks/bench_track.py ../shared/data/sports2d_demo.mp4

and copy the printed table into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from handoff_cv import track_video
from handoff_cv.models import model_path
from handoff_cv.pose import _native_stderr_silenced
from handoff_cv.settings import Settings
from handoff_cv.video import iter_frames


def raw_landmarker(video: str, num_poses: int, model: str) -> tuple[int, float, list[int]]:
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path(model))),
        running_mode=vision.RunningMode.VIDEO,
        num_poses=num_poses,
    )
    with _native_stderr_silenced():
        landmarker = vision.PoseLandmarker.create_from_options(options)
    found = []
    started = time.perf_counter()
    try:
        for frame in iter_frames(video):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame.image)
            result = landmarker.detect_for_video(image, int(frame.time_s * 1000))
            found.append(len(result.pose_landmarks))
    finally:
        landmarker.close()
    return len(found), time.perf_counter() - started, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("--people", type=int, default=2)
    parser.add_argument("--model", default="full")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    settings = Settings().with_overrides({"pose.model": args.model})
    bare = settings.with_overrides({"video.camera_motion": "off", "baton.colour": "off"})
    raw_times, track_times, bare_times = [], [], []
    for _ in range(args.repeat):
        n_raw, t_raw, found = raw_landmarker(args.video, args.people, args.model)
        raw_times.append(t_raw)
        started = time.perf_counter()
        result = track_video(args.video, settings)
        track_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        track_video(args.video, bare)
        bare_times.append(time.perf_counter() - started)
    n = result.frames_processed
    t_raw, t_track, t_bare = min(raw_times), min(track_times), min(bare_times)
    both = sum(1 for c in found if c >= args.people)
    machine = f"{platform.machine()} x{os.cpu_count()} cores"
    print(
        f"video: {args.video} ({n} frames), model: {args.model}, {machine}, best of {args.repeat}"
    )
    print("| run | frames/s | wall time (s) | ratio to raw | frames with all people |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| raw landmarker, num_poses={args.people}, whole frame | {n_raw / t_raw:.1f} | "
          f"{t_raw:.2f} | 1.00 | {both}/{n_raw} |")  # fmt: skip
    counts = result.landmarks.groupby("frame", observed=True).track_id.nunique()
    per_frame = int((counts >= args.people).sum())
    print(f"| handoff-cv track | {n / t_track:.1f} | {t_track:.2f} | {t_track / t_raw:.2f} | "
          f"{per_frame}/{n} |")  # fmt: skip
    print(f"| handoff-cv track, camera motion and baton off | {n / t_bare:.1f} | {t_bare:.2f} | "
          f"{t_bare / t_raw:.2f} | |")  # fmt: skip
    print(f"identities: {len(result.tracks)}; whole-region searches: {result.detections_run}; "
          f"stage seconds in the default run: {result.timings_s}")  # fmt: skip


if __name__ == "__main__":
    main()
