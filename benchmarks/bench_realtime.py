"""A 10 s 1080p30 clip with one exchange: `analyze` against real time and the raw landmarker.

Renders (once, kept in benchmarks/data/) a 10-second 1920x1080 30 fps clip of one sprint
exchange filmed from the stands, the way a coach's phone records a practice pass: the
outgoing runner waits in view for seconds, the incoming runner arrives, they pass, they
run out of the frame. Then, side by side in one run:

- the raw MediaPipe landmarker (VIDEO mode, ``num_poses=2``, whole frame) over every frame,
  and over only the frames ``analyze`` analysed with the exchange window first;
- ``analyze`` (video -> report, no annotated video) with the defaults, and with
  ``--video-scan-fps 10`` (the exchange window first);

each with its wall time, real-time factor and the report's error against the labels. Run::

    .venv/bin/python benchmarks/bench_realtime.py

and copy the printed table into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from bench_track import raw_landmarker

from handoff_cv.analyze import analyze_video
from handoff_cv.evaluate import compare_clip, settings_from_labels
from handoff_cv.labels import ClipLabels
from handoff_cv.settings import Settings
from handoff_cv.synth.rendered import (
    VIDEO_NAME,
    RenderCase,
    is_rendered,
    sample_render,
    write_rendered_case,
)
from handoff_cv.synth.scenario import CameraSpec, ExchangeSpec, Scenario, go_mark_for

HERE = Path(__file__).resolve().parent


def ten_second_case(width: int = 1920, height: int = 1080) -> RenderCase:
    """One blind 4x100 pass (right hand into left), 10 s of 1080p30 from the stands."""
    exchange = ExchangeSpec(
        relay="4x100",
        passing_hand="right",
        receiving_hand="left",
        pass_style="blind",
        incoming_speed_mps=10.0,
        outgoing_speed_mps=10.2,
        incoming_fade_mps2=0.2,
        lead_s=5.5,
        tail_s=2.5,
    )
    exchange = exchange.model_copy(update={"go_mark_m": go_mark_for(exchange, 0.88)})
    camera = CameraSpec(
        view="side_stands", distance_m=12.0, height_m=1.8, fov_deg=65.0, fps=30.0,
        width=width, height=height,
    )  # fmt: skip
    scenario = Scenario(name="realtime_10s", exchanges=[exchange], camera=camera, seed=10)
    look = sample_render(np.random.default_rng(10)).model_copy(update={"crf": 20})
    return RenderCase("realtime_10s", scenario, look)


def timed_analysis(video: Path, settings: Settings) -> tuple[float, object]:
    started = time.perf_counter()
    tracked, result = analyze_video(video, settings)
    return time.perf_counter() - started, (tracked, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scan-fps", type=float, default=10.0)
    args = parser.parse_args()
    folder = HERE / "data" / "realtime_10s"
    case = ten_second_case()
    if not is_rendered(case, folder):
        print("rendering the 10 s 1080p clip (a few minutes, once)...", flush=True)
        write_rendered_case(case, folder)
    video = folder / VIDEO_NAME
    labels = ClipLabels.load(folder / "labels.json")
    duration = labels.frame_count / labels.fps
    base = settings_from_labels(labels, base=Settings())
    scan = base.with_overrides({"video.scan_fps": args.scan_fps})

    n_all, t_raw_all, _ = raw_landmarker(str(video), 2, "full")
    t_full, (tracked_full, full) = timed_analysis(video, base)
    t_scan, (tracked_scan, scanned) = timed_analysis(video, scan)
    analysed = {round(t, 4) for t in tracked_scan.analysed_times_s}
    n_some, t_raw_some, _ = raw_landmarker(str(video), 2, "full", times_s=analysed)

    def row(name: str, seconds: float, frames: int, raw: float, result=None) -> str:
        error = "–"
        if result is not None:
            scored = compare_clip(result.exchanges, labels)
            found = [r for r in scored if r["matched"]]
            spurious = sum(r["spurious"] for r in scored)
            if found:
                r = found[0]
                hands = r["passing_hand_correct"] and r["receiving_hand_correct"]
                error = (
                    f"hands {'right' if hands else 'wrong'}, transfer "
                    f"{r['transfer_error_frames']:.1f} frames off, speeds "
                    f"{r['incoming_speed_error_pct']:.1f}% / "
                    f"{r['outgoing_speed_error_pct']:.1f}% off"
                )
            else:
                error = "exchange missed"
            if spurious:
                error += f", {spurious} spurious"
        return (
            f"| {name} | {frames} | {seconds:.1f} | {duration / seconds:.2f}x | "
            f"{seconds / raw:.2f} | {error} |"
        )

    print(f"video: {video} ({labels.frame_count} frames, {duration:.1f} s, "
          f"{labels.width}x{labels.height} at {labels.fps:g} fps)")  # fmt: skip
    print("| run | frames analysed | wall time (s) | real time | ratio to raw (same frames) "
          "| report |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    print(row("raw landmarker, every frame", t_raw_all, n_all, t_raw_all))
    print(row(f"raw landmarker, the {len(analysed)} frames analysed with scan", t_raw_some,
              n_some, t_raw_some))  # fmt: skip
    print(row("handoff-cv analyze (defaults)", t_full, tracked_full.frames_processed,
              t_raw_all, full))  # fmt: skip
    print(row(f"handoff-cv analyze --video-scan-fps {args.scan_fps:g}", t_scan,
              tracked_scan.frames_processed, t_raw_some, scanned))  # fmt: skip
    print(f"stage seconds (defaults): {tracked_full.timings_s}; "
          f"(scan): {tracked_scan.timings_s}")  # fmt: skip


if __name__ == "__main__":
    main()
