"""End-to-end accuracy on rendered videos: video -> pose -> tracks -> exchanges -> report.

Renders (once, seeded) a suite of clips of anny bodies passing a baton across hands x camera
views x speeds, analyses every video with the full pipeline with the zone calibration given,
maps the pipeline's track ids to the true runners (nearest hips, majority vote), scores the
reports with ``handoff-cv evaluate``'s functions, checks for identity swaps around the pass,
and writes the tables to docs/results/. Run::

    .venv/bin/python benchmarks/bench_e2e.py --cases 40 --workers 2

Rendered cases are kept in benchmarks/data/rendered-SEED/ (not committed) and re-rendered
only when their scenario, look or the renderer's version changes.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from handoff_cv import load_landmarks
from handoff_cv.analyze import analyze_video
from handoff_cv.errors import HandoffError
from handoff_cv.evaluate import (
    breakdown_tables,
    compare_clip,
    compare_video_clip,
    format_table,
    settings_from_labels,
    summarise,
)
from handoff_cv.labels import ClipLabels
from handoff_cv.settings import Settings
from handoff_cv.synth.rendered import (
    VIDEO_NAME,
    is_rendered,
    rendered_cases,
    write_rendered_case,
)

HERE = Path(__file__).resolve().parent
HEADLINE = [
    "exchanges",
    "missed",
    "spurious",
    "hands_correct",
    "passing_hand_correct",
    "receiving_hand_correct",
    "same_hand_precision",
    "same_hand_recall",
    "transfer_within_3_frames",
    "transfer_error_ms_median",
    "incoming_speed_within_5pct",
    "outgoing_speed_within_5pct",
    "roles_correct",
    "identity_swaps",
]


def render_case(args) -> str:
    case, folder = args
    if not is_rendered(case, folder):
        write_rendered_case(case, folder)
    return case.name


def score_case(args: tuple[Path, dict]) -> list[dict]:
    folder, overrides = args
    labels = ClipLabels.load(folder / "labels.json")
    base = Settings().with_overrides(overrides)
    started = time.perf_counter()
    try:
        _, result = analyze_video(folder / VIDEO_NAME, settings_from_labels(labels, base=base))
    except HandoffError as exc:  # e.g. nobody found: every exchange of the clip is missed
        rows = compare_clip([], labels)
        for row in rows:
            row.update(failure=exc.one_line(), analysis_s=np.nan, frames=labels.frame_count)
        return rows
    seconds = time.perf_counter() - started
    truth = load_landmarks(folder / "truth.parquet")
    rows = compare_video_clip(result.exchanges, labels, result.landmarks, truth)
    for row in rows:
        row["analysis_s"] = seconds
        row["frames"] = labels.frame_count
        row["people_tracked"] = int(result.landmarks["track_id"].nunique())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "results")
    parser.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="settings to try (the tables get a suffix)",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    root = HERE / "data" / f"rendered-{args.seed}"
    cases = rendered_cases(args.cases, args.seed)
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        for name in pool.map(render_case, [(c, root / c.name) for c in cases]):
            print(f"rendered {name} ({time.perf_counter() - started:.0f} s)", flush=True)
        overrides = dict(item.split("=", 1) for item in args.set)
        parts = list(pool.map(score_case, [(root / c.name, overrides) for c in cases]))
    rows = pd.DataFrame([row for part in parts for row in part])
    tag = "".join(f"-{k.split('.')[-1]}={v}" for k, v in overrides.items())
    rows.to_csv(args.out / f"e2e_rendered{tag}_rows.csv", index=False)

    frames = rows.drop_duplicates("clip").dropna(subset=["analysis_s"])
    speed = frames["frames"].sum() / frames["analysis_s"].sum()
    text = [
        f"## Rendered suite ({args.cases} clips, seed {args.seed}, zone calibration given"
        f"{''.join(', ' + item for item in args.set)})",
        "",
        "Command: `.venv/bin/python benchmarks/bench_e2e.py --cases "
        f"{args.cases} --seed {args.seed}{' --set ' + ' '.join(args.set) if args.set else ''}`",
        "",
        format_table(summarise(rows), HEADLINE),
        "",
        f"Analysis speed: {speed:.1f} frames/s per worker (video decode + pose + analysis).",
        "",
    ]
    text += breakdown_tables(rows, HEADLINE, ["view", "hands", "relay"])
    (args.out / f"e2e_rendered{tag}.md").write_text("\n".join(text))
    print("\n".join(text))
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
