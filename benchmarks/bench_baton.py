"""The baton stage alone, on the rendered suite: finder and holder with the true poses.

The end-to-end benchmark (bench_e2e.py) mixes the baton's errors with the pose and tracking
stages'. Here the finder searches around the runners' *true* hands (the renderer's
landmarks) and the holder model reads the true landmark tables, so what is measured is the
baton stage itself: colour learned, frames where the baton is found (recall, precision),
holder correct per frame, hands decided and transfer time. Run::

    .venv/bin/python benchmarks/bench_baton.py --cases 40 --workers 2

Needs the rendered suite of bench_e2e.py (rendered on first use, ~20 min).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from handoff_cv import load_landmarks
from handoff_cv.analyze import analyze_landmarks
from handoff_cv.baton import BatonFinder, nearest_colour_name
from handoff_cv.evaluate import (
    HOLDER_OUTCOMES,
    baton_detection,
    compare_clip,
    compare_holders,
    format_table,
    identify_tracks,
    settings_from_labels,
    summarise,
)
from handoff_cv.labels import ClipLabels
from handoff_cv.landmarks import poses_by_frame
from handoff_cv.settings import Settings
from handoff_cv.synth.rendered import BATON_TRUTH_NAME, VIDEO_NAME, rendered_cases
from handoff_cv.video import iter_frames

HERE = Path(__file__).resolve().parent
HEADLINE = [
    "exchanges",
    "hands_correct",
    "transfer_within_1_frame",
    "transfer_error_ms_median",
    "baton_hands",
    "baton_hands_correct",
    "baton_timed",
    "baton_timed_within_1_frame",
]


def true_colour(folder: Path) -> tuple[int, int, int]:
    return tuple(json.loads((folder / "case.json").read_text())["render"]["baton"])


def clip_overrides(folder: Path, overrides: dict) -> dict:
    """``overrides`` with ``baton.colour=given`` replaced by the clip's baton colour name."""
    if overrides.get("baton.colour") == "given":
        return {**overrides, "baton.colour": nearest_colour_name(true_colour(folder))}
    return overrides


def score_case(args: tuple[Path, dict]) -> tuple[list[dict], pd.DataFrame, dict]:
    folder, overrides = args
    labels = ClipLabels.load(folder / "labels.json")
    base = Settings().with_overrides(clip_overrides(folder, overrides))
    settings = settings_from_labels(labels, base=base)
    truth = load_landmarks(folder / "truth.parquet")
    baton_truth = pd.read_parquet(folder / BATON_TRUTH_NAME)
    poses = poses_by_frame(truth)
    finder = BatonFinder(settings.baton)
    started = time.perf_counter()
    for frame in iter_frames(folder / VIDEO_NAME):
        finder.observe(frame.index, frame.time_s, frame.image, poses.get(frame.index, []))
    sightings = finder.table()
    seconds = time.perf_counter() - started
    result = analyze_landmarks(truth, settings, clip=labels.clip, baton=sightings)
    rows = compare_clip(result.exchanges, labels)
    for row, report in zip(rows, result.exchanges, strict=False):
        truth_ex = labels.exchanges[0]
        row["contact_bias_ms"] = 1000 * (report.contact_start_s - truth_ex.contact_start_s)
        row["release_bias_ms"] = 1000 * (report.release_s - truth_ex.release_s)
        row["transfer_bias_ms"] = 1000 * (report.transfer_s - truth_ex.transfer_s)
        row["fps"] = labels.fps
    identities = identify_tracks(truth, truth)
    holders = compare_holders(
        result.exchanges, result.holders_frame(), baton_truth, identities, labels
    )
    detection = {
        "clip": labels.clip,
        "view": labels.camera.view,
        "true_colour": true_colour(folder),
        "learned_colour": sightings.attrs.get("baton_colour"),
        "finder_s": seconds,
        "frames": labels.frame_count,
        **baton_detection(sightings, baton_truth),
    }
    return rows, holders, detection


def colour_right(row: pd.Series) -> bool:
    learned = row.get("learned_colour")
    return isinstance(learned, str) and learned.startswith(
        nearest_colour_name(tuple(row["true_colour"]))
    )


def holder_outcome_line(visible: pd.DataFrame) -> str:
    """The shares of the frames (baton at least half in view) by what the holder got wrong."""
    if "outcome" not in visible or visible.empty:
        return "- No frame with the baton in view."
    shares = visible.outcome.value_counts(normalize=True)
    parts = [
        f"{text} {shares[key]:.1%}"
        for key, text in HOLDER_OUTCOMES.items()
        if key != "correct" and key in shares
    ]
    return "- Where the holder is not right: " + "; ".join(parts) + "."


def baton_lines(rows: pd.DataFrame, holders: pd.DataFrame, detection: pd.DataFrame) -> list[str]:
    if "recall" not in detection:
        return ["- The baton was not looked for (baton.colour = off).", ""]
    visible = holders[holders.visible]
    covered = visible.dropna(subset=["correct"])
    right = detection.apply(colour_right, axis=1)
    per_view = (
        detection.assign(colour_right=right)
        .groupby("view")[["colour_right", "recall", "precision"]]
        .mean()
    )
    lines = [
        f"- Colour learned right in {int(right.sum())} of {len(detection)} clips (none found "
        f"in {int(detection.learned_colour.isna().sum())}).",
        f"- Finder: recall {detection.recall.mean():.1%} of the frames where the baton is at "
        f"least half in view, precision {detection.precision.mean():.1%} (means over clips).",
        f"- Holder (runner and hand) correct in {visible.correct.fillna(0).mean():.1%} of the "
        f"{len(visible)} frames where the baton is at least half in view (no holder given "
        f"counts as wrong); {covered.correct.mean():.1%} of the {len(covered)} of them inside "
        "a found exchange's window.",
        holder_outcome_line(visible),
        "",
        "| view | colour right | finder recall | finder precision |",
        "| --- | ---: | ---: | ---: |",
        *[
            f"| {view} | {r.colour_right:.0%} | {r.recall:.1%} | {r.precision:.1%} |"
            for view, r in per_view.iterrows()
        ],
        "",
        format_table(summarise(rows), HEADLINE),
        "",
        format_table(summarise(rows, "view"), HEADLINE),
        "",
    ]
    return lines


def suite_arguments(description: str) -> argparse.ArgumentParser:
    """The options both rendered-suite benchmarks take."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "results")
    parser.add_argument(
        "--given-colour",
        action="store_true",
        help="give each clip its baton's colour name, as a coach would (default: learn it)",
    )
    parser.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="settings to try (the tables get a suffix)",
    )
    return parser


def main() -> None:
    parser = suite_arguments(__doc__.splitlines()[0])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    root = HERE / "data" / f"rendered-{args.seed}"
    cases = rendered_cases(args.cases, args.seed)
    missing = [c.name for c in cases if not (root / c.name / BATON_TRUTH_NAME).is_file()]
    if missing:
        raise SystemExit(f"{len(missing)} rendered cases missing: run bench_e2e.py first")
    overrides = dict(item.split("=", 1) for item in args.set)
    if args.given_colour:
        overrides["baton.colour"] = "given"
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        parts = list(pool.map(score_case, [(root / c.name, overrides) for c in cases]))
    rows = pd.DataFrame([row for part, _, _ in parts for row in part])
    holders = pd.concat([h for _, h, _ in parts], ignore_index=True)
    detection = pd.DataFrame([d for _, _, d in parts])
    tag = "".join(f"-{k.split('.')[-1]}={v}" for k, v in overrides.items())
    detection.to_csv(args.out / f"baton_stage{tag}_clips.csv", index=False)
    rows.to_csv(args.out / f"baton_stage{tag}_rows.csv", index=False)
    holders.to_csv(args.out / f"baton_stage{tag}_frames.csv", index=False)
    speed = detection.frames.sum() / detection.finder_s.sum()
    text = [
        f"## The baton stage alone ({args.cases} rendered clips, true poses"
        f"{''.join(', ' + item for item in args.set)})",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_baton.py --cases {args.cases}"
        f"{' --set ' + ' '.join(args.set) if args.set else ''}`",
        "",
        *baton_lines(rows, holders, detection),
        f"Finder speed: {speed:.0f} frames/s per worker (decode included).",
        "",
    ]
    (args.out / f"baton_stage{tag}.md").write_text("\n".join(text))
    print("\n".join(text))
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
