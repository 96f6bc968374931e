"""Accuracy of the exchange analysis on the simulator's benchmark suites.

Generates (once, seeded) the clean and the corrupted suite, analyses every case from its
landmark table with the zone calibration given (the true scale), scores the reports with
``handoff-cv evaluate``'s functions and writes the tables to docs/results/. Run::

    .venv/bin/python benchmarks/bench_analysis.py --cases 240

Cases are cached in benchmarks/data/ (not committed); --workers runs cases in parallel.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from handoff_cv import load_landmarks
from handoff_cv.analyze import analyze_landmarks
from handoff_cv.camera_motion import load_motion_table
from handoff_cv.evaluate import (
    breakdown_tables,
    compare_clip,
    format_table,
    settings_from_labels,
    summarise,
)
from handoff_cv.labels import ClipLabels
from handoff_cv.synth.suites import suite_cases, write_case
from handoff_cv.synth.version import simulator_version

HERE = Path(__file__).resolve().parent
HEADLINE = [
    "exchanges", "missed", "spurious", "hands_correct", "same_hand_precision",
    "same_hand_recall", "transfer_within_2_frames", "incoming_speed_within_5pct",
    "outgoing_speed_within_5pct", "roles_correct", "speed_match_correct", "legal_correct",
]  # fmt: skip


def score_case(args: tuple[Path, bool]) -> list[dict]:
    folder, calibrated = args
    labels = ClipLabels.load(folder / "labels.json")
    result = analyze_landmarks(
        load_landmarks(folder),
        settings_from_labels(labels, calibrated),
        labels.clip,
        camera_motion=load_motion_table(folder),  # panning cases: the true camera motion
    )
    return compare_clip(result.exchanges, labels)


def run_suite(suite: str, cases: int, seed: int, workers: int, calibrated: bool) -> pd.DataFrame:
    folder = HERE / "data" / f"{suite}-{seed}-{simulator_version()}"
    folder.mkdir(parents=True, exist_ok=True)
    every = suite_cases(suite, cases, seed)  # ~0.6 s a case: the go marks are searched for
    todo = [c for c in every if not (folder / c.name / "labels.json").is_file()]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(write_case, todo, [folder / c.name for c in todo], chunksize=2))
        case_dirs = [folder / c.name for c in every]
        parts = list(pool.map(score_case, [(c, calibrated) for c in case_dirs], chunksize=4))
    return pd.DataFrame([row for part in parts for row in part])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=240)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--suites", nargs="+", default=["clean", "corrupted"])
    parser.add_argument("--uncalibrated", action="store_true", help="do not give the zone")
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for suite in args.suites:
        started = time.perf_counter()
        rows = run_suite(suite, args.cases, args.seed, args.workers, not args.uncalibrated)
        tag = f"{suite}{'-uncalibrated' if args.uncalibrated else ''}"
        rows.to_csv(args.out / f"analysis_{tag}_rows.csv", index=False)
        text = [f"## {suite} suite ({args.cases} cases, seed {args.seed}, "
                f"{'zone not given' if args.uncalibrated else 'zone calibration given'})", "",
                "Command: `.venv/bin/python benchmarks/bench_analysis.py --cases "
                f"{args.cases} --seed {args.seed}{' --uncalibrated' if args.uncalibrated else ''}`",
                "", format_table(summarise(rows), HEADLINE), ""]  # fmt: skip
        by = ["view", "pan"] + (["noise"] if suite == "corrupted" else []) + ["hands"]
        text += breakdown_tables(rows, HEADLINE, by)
        (args.out / f"analysis_{tag}.md").write_text("\n".join(text))
        print("\n".join(text))
        print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
