"""Peak memory of ``handoff-cv analyze`` on a long 1080p video (issue #8: under 1.5 GB for 10 min).

Makes (once) a 1920x1080 30 fps H.264 video of the given length by looping a bundled sample
clip, scaled up, then runs ``handoff-cv analyze`` on it in a child process, sampling its
resident memory every second (``/proc``) for its peak. ``--max-gb`` stops a child that
grows past it (the run is then reported as stopped, with the memory reached). Run::

    .venv/bin/python benchmarks/bench_memory.py --minutes 10 --max-gb 8
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import cv2

from handoff_cv.video import VideoWriter, iter_frames

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "sample_videos" / "blind_right_to_left"


def long_video(minutes: float, path: Path) -> Path:
    """The sample clip looped to ``minutes`` at 1920x1080, 30 fps (written once)."""
    if path.is_file():
        return path
    frames = [cv2.resize(f.image, (1920, 1080)) for f in iter_frames(f"{SAMPLE}.mp4")]
    total = int(minutes * 60 * 30)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    with VideoWriter(tmp, 30.0, crf=28, preset="ultrafast") as writer:
        for i in range(total):
            writer.write(frames[i % len(frames)])
    tmp.replace(path)
    return path


def rss_mb(pid: int) -> float:
    """Resident memory of a process (MB), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    line = next((ln for ln in status.splitlines() if ln.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--max-gb", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "results")
    args = parser.parse_args()
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    video = long_video(args.minutes, data / f"long_{args.minutes:g}min_1080p.mp4")
    output = data / f"memory-run-{args.minutes:g}min"
    command = [
        str(Path(sys.executable).with_name("handoff-cv")), "analyze", str(video),
        "-o", str(output), "--no-video",
    ]  # fmt: skip
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_mb, stopped = 0.0, False
    while child.poll() is None:
        peak_mb = max(peak_mb, rss_mb(child.pid))
        if peak_mb > args.max_gb * 1024:
            child.kill()
            stopped = True
        time.sleep(1.0)
    stdout, stderr = child.communicate()
    seconds = time.perf_counter() - started
    frames = int(args.minutes * 60 * 30)
    status = f"stopped at {args.max_gb:g} GB" if stopped else f"exit {child.returncode}"
    text = "\n".join(
        [
            f"## Peak memory: `handoff-cv analyze` on a {args.minutes:g}-minute 1080p30 video",
            "",
            f"Command: `.venv/bin/python benchmarks/bench_memory.py --minutes {args.minutes:g}`",
            "",
            "| video | frames | run | wall time (s) | frames/s | peak memory (MB) |",
            "| --- | ---: | --- | ---: | ---: | ---: |",
            f"| {video.name} | {frames} | {status} | {seconds:.0f} | "
            f"{frames / seconds:.1f} | {peak_mb:.0f} |",
            "",
            "Last line of the run: " + (stdout.strip().splitlines() or [""])[-1][:300],
            "",
        ]
    )
    if child.returncode and not stopped:
        text += "\nError: " + stderr.strip()[-500:] + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"memory_{args.minutes:g}min.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
