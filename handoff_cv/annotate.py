"""Annotated video: the analysis drawn over the footage, as browser-playable H.264 MP4.

Both runners' skeletons in their role colours with labels, the passing and receiving hands
highlighted around the pass, the zone's lines when calibrated, the baton where it was seen
(in its holder's colour) and its path (the holding hand's when it was not seen), live speed
readouts, the transfer moment marked, and a slow-motion replay of the pass at the end.
Frames are streamed from the video and encoded with PyAV's libx264 (OpenCV's wheels cannot
write H.264); nothing decides anything here.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from handoff_cv.analyze import AnalysisResult
from handoff_cv.baton import sighting_ends
from handoff_cv.camera_motion import homographies, to_reference
from handoff_cv.exchange import ExchangeReport
from handoff_cv.pose import LANDMARK_INDEX as I
from handoff_cv.settings import Settings
from handoff_cv.video import VideoWriter, even_sized, iter_frames, probe

INCOMING, OUTGOING, OTHER = (230, 60, 50), (40, 120, 230), (150, 150, 150)  # RGB
BONES = [("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
         ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip")] + [
    (f"{s}_{a}", f"{s}_{b}") for s in ("left", "right")
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"),
                 ("ankle", "heel"), ("heel", "foot_index"))
]  # fmt: skip
BATON_SEEN = (255, 220, 0)
HOLDER_COLOURS = {"incoming": INCOMING, "outgoing": OUTGOING, "both": (255, 255, 255)}
TRAIL_S = 1.5
REPLAY_SLOWDOWN = 4
REPLAY_WINDOW_S = (-0.6, 0.5)


def _roles(result: AnalysisResult) -> dict[int, tuple[str, tuple[int, int, int]]]:
    roles: dict[int, tuple[str, tuple[int, int, int]]] = {}
    for ex in result.exchanges:
        roles[ex.incoming_track_id] = ("incoming", INCOMING)
        roles[ex.outgoing_track_id] = ("outgoing", OUTGOING)
    return roles


def _best_sightings(sightings) -> dict[int, np.ndarray]:
    """The best sighting's ends per frame (only sightings strong enough to be believed)."""
    if sightings is None or sightings.empty:
        return {}
    strong = (
        sightings[sightings.score >= 0.3].sort_values("score").drop_duplicates("frame", keep="last")
    )
    return dict(zip(strong.frame.astype(int), sighting_ends(strong), strict=True))


def _near_pass(ex: ExchangeReport, t: float, margin: float = 1.0) -> bool:
    return ex.transfer_s is not None and abs(t - ex.transfer_s) <= margin


class Annotator:
    """Draws one frame's annotations; keeps the baton's path between frames."""

    def __init__(self, result: AnalysisResult, settings: Settings) -> None:
        self.result = result
        self.roles = _roles(result)
        self.calibration = result.calibration
        self.from_reference = {
            frame: np.linalg.inv(h) for frame, h in homographies(result.camera_motion).items()
        }
        self.poses = {
            (int(f), int(tid)): rows[["x_px", "y_px"]].to_numpy()
            for (f, tid), rows in result.landmarks.groupby(["frame", "track_id"], observed=True)
        }
        self.kin = {k.track_id: k for k in result.kinematics}
        self.baton_path: list[tuple[int, int]] = []
        self.sightings = _best_sightings(result.baton)
        holders = result.holders_frame()
        self.holders = (
            {} if holders.empty else dict(zip(holders.frame, holders.holder, strict=True))
        )
        self.trail: list[tuple[float, tuple[int, int], tuple[int, int, int]]] = []
        times = result.landmarks.groupby("frame", observed=True)["time_s"].first()
        self.analysed_frames = times.index.to_numpy(dtype=int)
        self.analysed_times = times.to_numpy(dtype=float)
        scan_fps = settings.video.scan_fps
        self.hold_s = 1.5 / scan_fps if scan_fps > 0 else 0.0

    def draw(self, image: np.ndarray, frame: int, t: float) -> np.ndarray:
        out = image.copy()
        scale = max(1, round(out.shape[0] / 540))
        frame = self._shown_frame(frame, t)
        self._zone(out, scale, frame)
        for (f, tid), xy in self.poses.items():
            if f == frame:
                self._skeleton(out, tid, xy, scale, t)
        for ex in self.result.exchanges:
            self._exchange(out, ex, frame, t, scale)
        if self.sightings:
            self._baton(out, frame, t, scale)
        elif len(self.baton_path) > 1:
            cv2.polylines(out, [np.array(self.baton_path, np.int32)], False, (255, 200, 0), scale)
        return out

    def _shown_frame(self, frame: int, t: float) -> int:
        """The frame whose drawings are shown: this one, or, for a frame skipped by the
        exchange-window-first scan, the last analysed one if it is recent (no flicker)."""
        i = int(np.searchsorted(self.analysed_frames, frame, side="right")) - 1
        if i < 0 or self.analysed_frames[i] == frame:
            return frame
        recent = t - self.analysed_times[i] <= self.hold_s
        return int(self.analysed_frames[i]) if recent else frame

    def _baton(self, out: np.ndarray, frame: int, t: float, scale: int) -> None:
        """The baton where it was seen, in its holder's colour, and its path over the last
        ``TRAIL_S`` seconds."""
        ends = self.sightings.get(frame)
        if ends is not None:
            colour = HOLDER_COLOURS.get(self.holders.get(frame, ""), BATON_SEEN)
            a, b = (tuple(int(v) for v in p) for p in ends)
            cv2.line(out, a, b, (0, 0, 0), 5 * scale, cv2.LINE_AA)
            cv2.line(out, a, b, colour, 3 * scale, cv2.LINE_AA)
            centre = tuple(int(v) for v in ends.mean(axis=0))
            self.trail.append((t, centre, colour))
        self.trail = [p for p in self.trail if t - TRAIL_S <= p[0] <= t]
        for (_, p, colour), (_, q, _) in zip(self.trail, self.trail[1:], strict=False):
            cv2.line(out, p, q, colour, scale, cv2.LINE_AA)

    def _zone(self, out: np.ndarray, scale: int, frame: int) -> None:
        if self.calibration is None:
            return
        # the zone is calibrated in the first frame's view: a panning camera has moved since
        from_reference = self.from_reference.get(frame)
        zone = self.calibration.zone_length_m
        across = np.linspace(-3.0, 3.0, 13)
        for name, x in self.calibration.marks:
            # many points, not two: through a distorting lens a line on the track is a curve
            line = self.calibration.to_image(np.stack([np.full_like(across, x), across], axis=1))
            if from_reference is not None:
                line = to_reference(line, from_reference)
            if not np.isfinite(line).all() or np.abs(line).max() > 1e5:
                continue
            on_zone = x in (0.0, zone)
            colour = (255, 255, 0) if on_zone else (200, 200, 200)
            cv2.polylines(out, [line.astype(np.int32)], False, colour, scale if on_zone else 1)
            if not on_zone:
                top = tuple(int(v) for v in line[-1])
                cv2.putText(out, name, top, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale, colour, 1)

    def _skeleton(self, out, tid: int, xy: np.ndarray, scale: int, t: float) -> None:
        role, colour = self.roles.get(tid, ("", OTHER))
        for a, b in BONES:
            pa, pb = xy[I[a]], xy[I[b]]
            cv2.line(out, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), colour, 2 * scale)
        head = xy[I["nose"]]
        kin = self.kin.get(tid)
        speed = ""
        if kin is not None:
            v = float(np.interp(t, kin.times, np.nan_to_num(np.abs(kin.speed_mps), nan=-1)))
            speed = f" {v:.1f} m/s" if v >= 0 else ""
        label = f"{role or 'id'} {tid}{speed}"
        cv2.putText(out, label, (int(head[0]) - 30 * scale, int(head[1]) - 25 * scale),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, colour, scale, cv2.LINE_AA)  # fmt: skip

    def _exchange(self, out, ex: ExchangeReport, frame: int, t: float, scale: int) -> None:
        if not _near_pass(ex, t):
            return
        for tid, hand in ((ex.incoming_track_id, ex.passing_hand),
                          (ex.outgoing_track_id, ex.receiving_hand)):  # fmt: skip
            xy = self.poses.get((frame, tid))
            if xy is None or hand is None:
                continue
            point = (xy[I[f"{hand}_wrist"]] + xy[I[f"{hand}_index"]]) / 2
            cv2.circle(out, (int(point[0]), int(point[1])), 9 * scale, (255, 255, 0), 2 * scale)
            holder = ex.incoming_track_id if t < (ex.transfer_s or 0) else ex.outgoing_track_id
            if tid == holder:
                self.baton_path.append((int(point[0]), int(point[1])))
        if ex.transfer_frame is not None and abs(frame - ex.transfer_frame) <= 2:
            cv2.putText(out, f"TRANSFER {ex.passing_hand}->{ex.receiving_hand}", (20, 40 * scale),
                        cv2.FONT_HERSHEY_SIMPLEX, 1.0 * scale, (255, 255, 0), 2 * scale,
                        cv2.LINE_AA)  # fmt: skip


def write_annotated_video(
    video: Path, result: AnalysisResult, settings: Settings, path: Path, replay: bool = True
) -> Path:
    """Encode the annotated footage (and a slow-motion replay of each pass) to ``path``."""
    annotator = Annotator(result, settings)
    windows = [
        (ex.transfer_s + REPLAY_WINDOW_S[0], ex.transfer_s + REPLAY_WINDOW_S[1])
        for ex in result.exchanges
        if ex.transfer_s is not None
    ]
    fps = probe(video).fps
    replay_frames: list[np.ndarray] = []
    with VideoWriter(path, fps) as writer:
        for frame in iter_frames(video, slowmo_factor=settings.video.slowmo_factor):
            image = annotator.draw(frame.image, frame.index, frame.time_s)
            writer.write(image)
            if replay and any(a <= frame.time_s <= b for a, b in windows):
                replay_frames.append(even_sized(image))
        for image in replay_frames:
            caption = image.copy()
            cv2.putText(caption, f"replay x1/{REPLAY_SLOWDOWN}", (20, caption.shape[0] - 20),
                        cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2, cv2.LINE_AA)  # fmt: skip
            for _ in range(REPLAY_SLOWDOWN):
                writer.write(caption)
    return path
