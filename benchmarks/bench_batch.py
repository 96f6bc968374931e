"""Batch speed: 1 worker against 2, and end-to-end analyze against the raw landmarker.

Makes N distinct short clips from a source video (different start frames, so content hashes
and the landmark cache do not short-cut anything), then times ``run_batch`` with 1 and with 2
workers on fresh output folders, and reports the cores each run kept busy (CPU time over
wall time: a worker that already keeps more than one core busy with its own threads bounds
what more workers can gain on the same cores) and peak memory of the worker processes. Run::

    .venv/bin/python benchmarks/bench_batch.py ../shared/data/sports2d_demo.mp4
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from handoff_cv.batch import run_batch
from handoff_cv.video import iter_frames


def make_clips(source: str, folder: Path, n: int, frames_per_clip: int) -> list[Path]:
    """Write n clips from different start frames, streaming (no frame kept in memory)."""
    clips = []
    for i in range(n):
        start = i * 7
        path = folder / f"clip{i}.mp4"
        with av.open(str(path), "w") as container:
            stream = None
            for frame in iter_frames(source):
                if frame.index < start:
                    continue
                if frame.index >= start + frames_per_clip:
                    break
                image = frame.image
                if stream is None:
                    h, w = image.shape[:2]
                    stream = container.add_stream(
                        "libx264", rate=30, options={"preset": "veryfast"}
                    )
                    stream.width, stream.height, stream.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
                cropped = np.ascontiguousarray(image[: stream.height, : stream.width])
                for packet in stream.encode(av.VideoFrame.from_ndarray(cropped, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        clips.append(path)
    return clips


def cpu_seconds() -> float:
    """CPU time used so far by this process and its finished children (the workers)."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_batch(clips: list[Path], out: Path, workers: int) -> tuple[float, float]:
    """Wall time of the batch and the cores it kept busy on average (CPU time / wall time)."""
    shutil.rmtree(out, ignore_errors=True)
    started, cpu_before = time.perf_counter(), cpu_seconds()
    items = run_batch([str(c) for c in clips], out, workers=workers)
    elapsed = time.perf_counter() - started
    failed = [i for i in items if i.status != "done"]
    if failed:
        raise SystemExit(f"batch failed: {failed[0].reason}")
    return elapsed, (cpu_seconds() - cpu_before) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=90)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        clips = make_clips(args.video, work, args.clips, args.frames)
        one, busy_one = timed_batch(clips, work / "out1", 1)
        two, busy_two = timed_batch(clips, work / "out2", 2)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        frames = args.clips * args.frames
        print(f"{args.clips} clips x {args.frames} frames of {args.video}, {os.cpu_count()} cores")
        cores = len(os.sched_getaffinity(0))
        print("| run | wall time (s) | frames/s | speed-up | cores busy |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, wall, busy in (("1 worker", one, busy_one), ("2 workers", two, busy_two)):
            row = f"{wall:.1f} | {frames / wall:.1f} | {one / wall:.2f} | {busy:.2f}"
            print(f"| batch, {name} | {row} |")
        print(f"largest speed-up {cores} cores allow over 1 worker: {cores / busy_one:.2f}x")
        print(f"peak memory: worker process {peak_mb:.0f} MB, main process {own_mb:.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
