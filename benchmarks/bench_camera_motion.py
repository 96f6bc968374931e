"""A panning camera: how well its motion is followed, and what that does to the speeds.

Renders (once, seeded) side-view clips whose camera turns to follow the runners (the
rendered suite's cases with panning forced on), runs the whole pipeline on each, and
compares:

- the estimated camera motion with the renderer's true one (where a point of each frame
  lands in the first frame's view: median and worst error in pixels, drift at the end);
- the speeds at transfer measured through the estimated motion, through the true motion, and
  with the camera's motion not followed (``video.camera_motion = off``: speeds withheld).

Run::

    .venv/bin/python benchmarks/bench_camera_motion.py --cases 6 --workers 2
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from handoff_cv.analyze import analyze_landmarks
from handoff_cv.camera_motion import homographies, to_reference
from handoff_cv.evaluate import compare_clip, settings_from_labels
from handoff_cv.labels import ClipLabels
from handoff_cv.pipeline import track_video
from handoff_cv.synth.rendered import VIDEO_NAME, is_rendered, rendered_cases, write_rendered_case
from handoff_cv.synth.scenario import simulate

HERE = Path(__file__).resolve().parent


def pan_cases(n: int, seed: int):
    """The rendered suite's side-view cases, each with its camera panning."""
    cases = []
    for case in rendered_cases(10 * n, seed):
        camera = case.scenario.camera
        if not camera.view.startswith("side"):
            continue
        scenario = case.scenario.model_copy(
            update={
                "name": case.name.replace("rendered", "panning"),
                "camera": camera.model_copy(update={"pan": True}),
                "tags": {**case.scenario.tags, "pan": True},
            }
        )
        cases.append(case.__class__(scenario.name, scenario, case.render))
        if len(cases) == n:
            break
    return cases


def render(args) -> Path:
    case, folder = args
    if not is_rendered(case, folder):
        write_rendered_case(case, folder)
    return folder


def motion_errors(estimated: pd.DataFrame, true: pd.DataFrame, size: tuple[int, int]) -> dict:
    """How far off the estimated map is, in each frame's own pixels: a 5x5 grid of the frame
    is taken into the first frame's view by the estimate and back by the truth (a camera
    that turned far maps points of the first view towards infinity, so the error is measured
    where the pixels are). ``pan_px`` is how far the centre of the view moved."""
    w, h = size
    grid = np.array([[x, y] for x in np.linspace(0, w, 5) for y in np.linspace(0, h, 5)])
    centre = np.array([[w / 2, h / 2]])
    est, tru = homographies(estimated), homographies(true)
    errors, travel = [], []
    for frame, truth in tru.items():
        if frame not in est:
            continue
        back = to_reference(to_reference(grid, est[frame]), np.linalg.inv(truth))
        errors.append(np.linalg.norm(back - grid, axis=1).max())
        travel.append(float(np.linalg.norm(to_reference(centre, truth) - centre)))
    errors = np.array(errors)
    return {
        "pan_px": float(np.max(travel)),
        "motion_error_px_median": float(np.median(errors)),
        "motion_error_px_max": float(errors.max()),
        "motion_error_px_last": float(errors[-1]),
        "lost_frames": int((~estimated.ok.astype(bool)).sum()),
    }


def score(args) -> list[dict]:
    case, folder = args
    labels = ClipLabels.load(folder / "labels.json")
    settings = settings_from_labels(labels)
    started = time.perf_counter()
    tracked = track_video(folder / VIDEO_NAME, settings)
    seconds = time.perf_counter() - started
    true_motion = simulate(case.scenario).camera_motion()
    size = (labels.width, labels.height)
    base = {
        "clip": labels.clip,
        "view": labels.camera.view,
        "frames": labels.frame_count,
        "motion_ms_per_frame": 1000 * tracked.timings_s["camera_motion"] / labels.frame_count,
        "track_s": seconds,
        **motion_errors(tracked.camera_motion, true_motion, size),
    }
    rows = []
    for name, motion in (
        ("estimated", tracked.camera_motion),
        ("true", true_motion),
        ("off", None),
    ):
        result = analyze_landmarks(
            tracked.landmarks, settings, labels.clip, tracked.baton, size, camera_motion=motion
        )
        for row in compare_clip(result.exchanges, labels):
            rows.append({**base, **row, "motion": name})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "results")
    args = parser.parse_args()
    cases = pan_cases(args.cases, args.seed)
    root = HERE / "data" / f"panning-{args.seed}"
    folders = [root / c.name for c in cases]
    with ProcessPoolExecutor(args.workers) as pool:
        list(pool.map(render, zip(cases, folders, strict=True)))
        parts = list(pool.map(score, zip(cases, folders, strict=True)))
    rows = pd.DataFrame([r for part in parts for r in part])
    text = report(rows, args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "camera_motion.md").write_text(text)
    rows.to_csv(args.out / "camera_motion_rows.csv", index=False)
    print(text)


def markdown(table: pd.DataFrame) -> str:
    """A plain Markdown table (numbers to 2 decimals)."""
    cells = table.map(lambda v: f"{v:.2f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(map(str, table.columns)) + " |"]
    lines.append("| " + " | ".join("---" for _ in table.columns) + " |")
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def report(rows: pd.DataFrame, args) -> str:
    clips = rows.drop_duplicates("clip")[
        ["clip", "view", "frames", "pan_px", "motion_error_px_median", "motion_error_px_max",
         "motion_error_px_last", "lost_frames", "motion_ms_per_frame"]
    ]  # fmt: skip
    found = rows[rows.matched.astype(bool)]
    speeds = []
    for motion, part in found.groupby("motion", sort=False):
        errors = part[["incoming_speed_error_pct", "outgoing_speed_error_pct"]].abs()
        measured = errors.notna().all(axis=1)
        within = int((errors[measured] <= 5).all(axis=1).sum())
        speeds.append(
            {
                "camera motion": motion,
                "exchanges found": len(part),
                "speeds measured": int(measured.sum()),
                "median error %": float(np.nanmedian(errors.to_numpy()))
                if measured.any()
                else float("nan"),
                "both within 5%": f"{within} of {int(measured.sum())}",
            }
        )
    lines = [
        f"## A panning camera ({args.cases} rendered side-view clips, seed {args.seed})",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_camera_motion.py --cases {args.cases}"
        f" --seed {args.seed}`",
        "",
        "Camera motion followed from the background against the renderer's true motion: a "
        "5x5 grid of each frame taken into the first frame's view by the estimate and back by "
        "the truth, error in that frame's pixels (median over frames, worst, last frame); "
        "`pan_px` is how far the centre of the view moved, `lost_frames` the frames whose "
        "step could not be followed:",
        "",
        markdown(clips),
        "",
        "Speeds at transfer, measured through the estimated motion, the true motion, or not "
        "followed at all (`off`: the report withholds a panning camera's speeds):",
        "",
        markdown(pd.DataFrame(speeds)),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
