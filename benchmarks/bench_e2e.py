"""End-to-end accuracy on rendered videos: video -> pose -> tracks -> exchanges -> report.

Renders (once, seeded) a suite of clips of anny bodies passing a baton across hands x camera
views x speeds, analyses every video with the full pipeline with the zone calibration given,
maps the pipeline's track ids to the true runners (nearest hips, majority vote), scores the
reports with ``handoff-cv evaluate``'s functions, checks for identity swaps around the pass,
and writes the tables to docs/results/. Run::

    .venv/bin/python benchmarks/bench_e2e.py --cases 40 --workers 2

Rendered cases are kept in benchmarks/data/rendered-SEED/ (not committed) and re-rendered
only when their scenario, look or the renderer's version changes. Each run also leaves the
pass over the video (landmarks, baton sightings, camera motion) in the clip's ``.cache/``;
``--reuse-video-pass`` re-runs only the analysis on it, for changes to the analysis alone.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from bench_baton import baton_lines, clip_overrides, suite_arguments, true_colour

from handoff_cv import load_landmarks
from handoff_cv.analyze import analyze_landmarks
from handoff_cv.batch import cached_video_pass, content_hash
from handoff_cv.errors import HandoffError
from handoff_cv.evaluate import (
    MATCH_TOLERANCE_S,
    baton_detection,
    breakdown_tables,
    compare_clip,
    compare_holders,
    compare_video_clip,
    format_table,
    identify_tracks,
    match_exchanges,
    settings_from_labels,
    summarise,
    tracking_figures,
)
from handoff_cv.exchange import speed_at
from handoff_cv.labels import ClipLabels
from handoff_cv.pipeline import RUNTIME_PACKAGES, machine_description, package_versions
from handoff_cv.settings import Settings
from handoff_cv.synth.rendered import (
    BATON_TRUTH_NAME,
    VIDEO_NAME,
    ensure_baton_truth,
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
    ensure_baton_truth(case, folder)
    return case.name


def score_case(args: tuple[Path, dict, bool]) -> tuple[list[dict], pd.DataFrame, dict]:
    """The clip's exchange rows, its per-frame holder rows and its baton detection figures."""
    folder, overrides, reuse = args
    labels = ClipLabels.load(folder / "labels.json")
    base = Settings().with_overrides(clip_overrides(folder, overrides))
    baton_truth = pd.read_parquet(folder / BATON_TRUTH_NAME)
    colour = true_colour(folder)
    settings = settings_from_labels(labels, base=base)
    video = folder / VIDEO_NAME
    started = time.perf_counter()
    try:
        table, baton, motion = cached_video_pass(
            video, content_hash(video), settings, folder, reuse=reuse
        )
        result = analyze_landmarks(table, settings, labels.clip, baton=baton, camera_motion=motion)
    except HandoffError as exc:  # e.g. nobody found: every exchange of the clip is missed
        rows = compare_clip([], labels)
        for row in rows:
            row.update(failure=exc.one_line(), analysis_s=np.nan, frames=labels.frame_count)
        holders = compare_holders([], pd.DataFrame(), baton_truth, pd.DataFrame(), labels)
        nobody = pd.DataFrame({"frame": [], "track_id": [], "true_track_id": []})
        truth = load_landmarks(folder / "truth.parquet")
        return (
            rows,
            holders,
            {
                "clip": labels.clip,
                "view": labels.camera.view,
                "true_colour": colour,
                **tracking_figures(nobody, truth),
            },
        )
    seconds = np.nan if reuse else time.perf_counter() - started
    truth = load_landmarks(folder / "truth.parquet")
    rows = compare_video_clip(result.exchanges, labels, result.landmarks, truth)
    for row in rows:
        row["analysis_s"] = seconds
        row["frames"] = labels.frame_count
        row["people_tracked"] = int(result.landmarks["track_id"].nunique())
    add_speeds_at_true_transfer(rows, result, labels)
    identities = identify_tracks(result.landmarks, truth)
    holders = compare_holders(
        result.exchanges, result.holders_frame(), baton_truth, identities, labels
    )
    detection = {
        "clip": labels.clip,
        "view": labels.camera.view,
        **tracking_figures(identities, truth),
        "true_colour": colour,
        "learned_colour": result.baton.attrs.get("baton_colour") if len(result.baton) else None,
        **(baton_detection(result.baton, baton_truth) if len(result.baton) else {}),
    }
    return rows, holders, detection


def add_speeds_at_true_transfer(rows: list[dict], result, labels: ClipLabels) -> None:
    """Each matched row's runners' speeds read at the *true* transfer off the predicted
    tracks, as signed errors (%): what the speeds would score with the transfer timed
    exactly, which splits a speed error into timing and measurement."""
    kinematics = {k.track_id: k for k in result.kinematics}
    row_of = {row["exchange_id"]: row for row in rows if row["matched"]}
    for li, pi in match_exchanges(result.exchanges, labels.exchanges, MATCH_TOLERANCE_S):
        if li is None or pi is None:
            continue
        label, pred = labels.exchanges[li], result.exchanges[pi]
        row = row_of[label.exchange_id]
        for role, track, truth, said in (
            ("incoming", pred.incoming_track_id, label.incoming_speed_mps, pred.incoming_speed_mps),
            ("outgoing", pred.outgoing_track_id, label.outgoing_speed_mps, pred.outgoing_speed_mps),
        ):
            if truth is None or label.transfer_s is None:
                continue
            at_true = speed_at(kinematics[track], label.transfer_s)
            row[f"{role}_speed_signed_error_pct"] = (
                np.nan if said is None else 100 * (said / truth - 1)
            )
            row[f"{role}_speed_at_true_transfer_error_pct"] = 100 * (at_true / truth - 1)


def speed_split_lines(rows: pd.DataFrame) -> list[str]:
    """The speeds' errors as said and as read at the true transfer, per role."""
    lines = []
    for role in ("incoming", "outgoing"):
        said = rows.get(f"{role}_speed_signed_error_pct", pd.Series(dtype=float)).dropna()
        at_true = rows.get(f"{role}_speed_at_true_transfer_error_pct", pd.Series(dtype=float))
        at_true = at_true.dropna()
        if not len(said) or not len(at_true):
            continue
        lines.append(
            f"- {role} speed: within 5% in {np.mean(said.abs() <= 5):.0%} as said (median "
            f"signed error {said.median():+.1f}%); read off the same track at the true "
            f"transfer, {np.mean(at_true.abs() <= 5):.0%} (median {at_true.median():+.1f}%)."
        )
    return ["Speeds at the pass, timing apart:", "", *lines] if lines else []


def tracker_lines(detection: pd.DataFrame) -> list[str]:
    """Runner-frames followed and identity switches, overall and by view (tracks paired
    with the true runners one to one per frame)."""
    if "runner_frames" not in detection:
        return ["- No clip tracked."]
    sums = detection.groupby("view")[["runner_frames", "runner_frames_tracked", "id_switches"]]
    lines = [
        f"- Runner-frames followed by a track paired with that runner: "
        f"{detection['runner_frames_tracked'].sum() / detection['runner_frames'].sum():.1%} "
        f"(of {int(detection['runner_frames'].sum())}); identity switches (a runner's track "
        f"changes between frames it is followed in): {int(detection['id_switches'].sum())}.",
        "",
        "| view | runner-frames followed | identity switches |",
        "| --- | ---: | ---: |",
    ]
    for view, row in sums.sum().iterrows():
        share = row["runner_frames_tracked"] / row["runner_frames"]
        lines.append(f"| {view} | {share:.1%} | {int(row['id_switches'])} |")
    return lines


def main() -> None:
    parser = suite_arguments(__doc__.splitlines()[0])
    parser.add_argument(
        "--reuse-video-pass",
        action="store_true",
        help="take each clip's landmarks, baton sightings and camera motion from the cache "
        "the last run left in its folder (analysis changes only; no speed figure)",
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
        if args.given_colour:
            overrides["baton.colour"] = "given"
        jobs = [(root / c.name, overrides, args.reuse_video_pass) for c in cases]
        parts = list(pool.map(score_case, jobs))
    rows = pd.DataFrame([row for part, _, _ in parts for row in part])
    tag = "".join(f"-{k.split('.')[-1]}={v}" for k, v in overrides.items())
    rows.to_csv(args.out / f"e2e_rendered{tag}_rows.csv", index=False)
    holders = pd.concat([h for _, h, _ in parts], ignore_index=True)
    holders.to_csv(args.out / f"e2e_rendered{tag}_holders.csv", index=False)
    detection = pd.DataFrame([d for _, _, d in parts])

    frames = rows.drop_duplicates("clip").dropna(subset=["analysis_s"])
    speed = (
        f"Analysis speed: {frames['frames'].sum() / frames['analysis_s'].sum():.1f} frames/s "
        "per worker (video decode + pose + analysis)."
        if not args.reuse_video_pass
        else "Pose and tracking reused from the cache (--reuse-video-pass): no speed measured."
    )
    # the figures move with these (the same code gave others on another install)
    installed = package_versions((*RUNTIME_PACKAGES, "warp-lang", "torch", "anny"))
    packages = "Packages: " + ", ".join(f"{k} {v}" for k, v in installed.items()) + "."
    packages += f" Machine: {machine_description()}."
    text = [
        f"## Rendered suite ({args.cases} clips, seed {args.seed}, zone calibration given"
        f"{''.join(', ' + item for item in args.set)})",
        "",
        "Command: `.venv/bin/python benchmarks/bench_e2e.py --cases "
        f"{args.cases} --seed {args.seed}{' --set ' + ' '.join(args.set) if args.set else ''}`",
        "",
        format_table(summarise(rows), HEADLINE),
        "",
        speed,
        "",
        packages,
        "",
    ]
    text += [*speed_split_lines(rows), ""]
    text += ["### The tracker", "", *tracker_lines(detection), ""]
    text += ["### The baton", "", *baton_lines(rows, holders, detection)]
    text += breakdown_tables(rows, HEADLINE, ["view", "hands", "relay"])
    (args.out / f"e2e_rendered{tag}.md").write_text("\n".join(text))
    print("\n".join(text))
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
