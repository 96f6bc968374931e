"""Memory and time of the analysis stage alone on a long landmark table.

Tiles the landmark table of a tracked video (default: the 2-minute run of
bench_memory.py) end to end, each copy with its own track ids, as a long video with many
people coming and going gives, and runs ``analyze_landmarks`` on it, reporting the peak
resident memory of this process. Run::

    .venv/bin/python benchmarks/bench_memory.py --minutes 2
    .venv/bin/python benchmarks/bench_analysis_memory.py --copies 5
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import pandas as pd

from handoff_cv.analyze import analyze_landmarks
from handoff_cv.landmarks import load_landmarks

HERE = Path(__file__).resolve().parent


def tiled(table: pd.DataFrame, copies: int) -> pd.DataFrame:
    frames = int(table.frame.max()) + 1
    span = float(table.time_s.max()) + 1 / 30
    parts, next_id = [], 0
    for i in range(copies):
        part = table.copy()
        part["frame"] = part.frame + i * frames
        part["time_s"] = part.time_s + i * span
        part["track_id"] = part.track_id.astype(int) + next_id
        next_id = int(part.track_id.max()) + 1
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landmarks", type=Path, default=HERE / "data" / "memory-run-2min")
    parser.add_argument("--copies", type=int, default=5)
    args = parser.parse_args()
    table = tiled(load_landmarks(args.landmarks), args.copies)
    started = time.perf_counter()
    result = analyze_landmarks(table)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| {len(table)} rows | {table.track_id.nunique()} tracks | "
          f"{table.frame.nunique()} frames with people | {len(result.exchanges)} exchanges | "
          f"{seconds:.1f} s | {peak:.0f} MB |")  # fmt: skip


if __name__ == "__main__":
    main()
