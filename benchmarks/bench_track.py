"""Frames per second of ``handoff-cv track`` against the raw MediaPipe landmarker.

Both read the same frames with the same decoder and the same model file; the raw run is
MediaPipe's own multi-person mode on the whole frame (``num_poses`` = people expected),
which is what a plain MediaPipe script does. Run::

    .venv/bin/python benchmarks/bench_track.py ../shared/data/sports2d_demo.mp4

and copy the printed table into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time

from handoff_cv import track_video
from handoff_cv.models import model_path
from handoff_cv.pipeline import machine_description
from handoff_cv.pose import _native_stderr_silenced
from handoff_cv.settings import Settings
from handoff_cv.video import iter_frames


def raw_landmarker(
    video: str, num_poses: int, model: str, times_s: set[float] | None = None
) -> tuple[int, float, list[int]]:
    """MediaPipe's own multi-person VIDEO mode over every frame (or only the frames at
    ``times_s``, rounded to 0.1 ms; the others are decoded, not converted): frames run,
    wall seconds, people found per frame."""
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
        wanted = None if times_s is None else (lambda t: round(t, 4) in times_s)
        for frame in iter_frames(video, wanted=wanted):
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
    parser.add_argument("--scan-fps", type=float, default=10.0)
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="settings for every handoff-cv run (e.g. tracking.search_behind=false)",
    )
    args = parser.parse_args()

    overrides = dict(item.split("=", 1) for item in args.set)
    settings = Settings().with_overrides({"pose.model": args.model, **overrides})
    bare = settings.with_overrides({"video.camera_motion": "off", "baton.colour": "off"})
    scan = settings.with_overrides({"video.scan_fps": args.scan_fps})
    raw_times, track_times, bare_times, scan_times, raw_scan_times = [], [], [], [], []
    for _ in range(args.repeat):
        n_raw, t_raw, found = raw_landmarker(args.video, args.people, args.model)
        raw_times.append(t_raw)
        started = time.perf_counter()
        result = track_video(args.video, settings)
        track_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        track_video(args.video, bare)
        bare_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        scanned = track_video(args.video, scan)
        scan_times.append(time.perf_counter() - started)
        analysed = {round(t, 4) for t in scanned.analysed_times_s}
        n_scan, t_raw_scan, _ = raw_landmarker(args.video, args.people, args.model, analysed)
        raw_scan_times.append(t_raw_scan)
    n = result.frames_processed
    t_raw, t_track, t_bare = min(raw_times), min(track_times), min(bare_times)
    t_scan, t_raw_scan = min(scan_times), min(raw_scan_times)
    both = sum(1 for c in found if c >= args.people)
    machine = machine_description()
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
    print(f"| raw landmarker, only the {n_scan} frames the scan analysed | "
          f"{n_scan / t_raw_scan:.1f} | {t_raw_scan:.2f} | "
          f"{t_raw_scan / t_raw:.2f} | |")  # fmt: skip
    print(f"| handoff-cv track --video-scan-fps {args.scan_fps:g} ({n_scan} frames analysed) | "
          f"{n / t_scan:.1f} | {t_scan:.2f} | {t_scan / t_raw:.2f} "
          f"({t_scan / t_raw_scan:.2f} to raw on the same frames) | |")  # fmt: skip
    print(f"identities: {len(result.tracks)}; whole-region searches: {result.detections_run}; "
          f"stage seconds in the default run: {result.timings_s}")  # fmt: skip


if __name__ == "__main__":
    main()
