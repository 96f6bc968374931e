"""Draw the frames around the pass of rendered cases where the pipeline failed, with what the
tracker saw: each track's skeleton in its own colour, the true wrists as white dots. Run::

    .venv/bin/python benchmarks/e2e_failures.py rendered_0038 rendered_0001 \
        -o docs/figures/e2e_failures.png

Cases come from benchmarks/data/rendered-0/ (render them with bench_e2e.py first).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from handoff_cv import load_landmarks
from handoff_cv.analyze import analyze_video
from handoff_cv.evaluate import settings_from_labels
from handoff_cv.labels import ClipLabels
from handoff_cv.synth.rendered import VIDEO_NAME
from handoff_cv.video import iter_frames

HERE = Path(__file__).resolve().parent
COLOURS = [(230, 60, 50), (40, 120, 230), (40, 200, 60), (230, 200, 40)]
BONES = [
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
    ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"),
    ("left_hip", "left_knee"),
    ("right_hip", "right_knee"),
]


def strip(folder: Path, offsets=(-0.3, 0.0, 0.3)) -> np.ndarray:
    labels = ClipLabels.load(folder / "labels.json")
    _, result = analyze_video(folder / VIDEO_NAME, settings_from_labels(labels))
    pred, truth = result.landmarks, load_landmarks(folder / "truth.parquet")
    ex = labels.exchanges[0]
    frames = [ex.transfer_frame + round(o * labels.fps) for o in offsets]
    tiles = []
    for frame in iter_frames(folder / VIDEO_NAME):
        if frame.index not in frames:
            continue
        image = frame.image.copy()
        here = pred[pred.frame == frame.index]
        for tid, person in here.groupby("track_id"):
            xy = person.set_index("landmark")[["x_px", "y_px"]]
            colour = COLOURS[int(tid) % len(COLOURS)]
            for a, b in BONES:
                pa, pb = xy.loc[a].to_numpy(int), xy.loc[b].to_numpy(int)
                cv2.line(image, tuple(pa), tuple(pb), colour, 2, cv2.LINE_AA)
        gt = truth[
            (truth.frame == frame.index) & truth.landmark.isin(["left_wrist", "right_wrist"])
        ]
        for x, y in gt[["x_px", "y_px"]].to_numpy(int):
            cv2.circle(image, (x, y), 3, (255, 255, 255), -1)
        hips = truth[(truth.frame == frame.index) & (truth.landmark == "left_hip")]
        cx, cy = hips.x_px.mean(), hips.y_px.mean()
        half = 200
        x0 = int(np.clip(cx - half, 0, image.shape[1] - 2 * half))
        y0 = int(np.clip(cy - half, 0, image.shape[0] - 2 * half))
        tile = image[y0 : y0 + 2 * half, x0 : x0 + 2 * half]
        cv2.putText(
            tile,
            f"{folder.name} frame {frame.index}",
            (8, 22),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (255, 255, 255),
            2,
            cv2.LINE_AA,
        )
        tiles.append(tile)
    return np.hstack(tiles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="+")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--root", type=Path, default=HERE / "data" / "rendered-0")
    args = parser.parse_args()
    rows = [strip(args.root / case) for case in args.cases]
    width = min(r.shape[1] for r in rows)
    image = np.vstack([r[:, :width] for r in rows])
    cv2.imwrite(str(args.output), cv2.resize(image, None, fx=0.6, fy=0.6)[..., ::-1])
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
