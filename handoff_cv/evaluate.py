"""Score predicted exchanges against labelled ones.

Predictions and labels share field names (:class:`~handoff_cv.labels.ExchangeFields`).
Within a clip, predicted exchanges are matched to labelled ones by time (transfer, or
contact for a drop) with the Hungarian algorithm and a tolerance; unmatched labels are
*missed*, unmatched predictions *spurious*. :func:`evaluate` returns one row per labelled
or predicted exchange; :func:`summarise` turns rows into the accuracy table, overall or
broken down by any label field or tag (camera view, corruption level, hand combination).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from handoff_cv.errors import InputError
from handoff_cv.labels import ClipLabels, ExchangeFields
from handoff_cv.settings import Settings

MATCH_TOLERANCE_S = 1.0


def settings_from_labels(
    labels: ClipLabels, calibrated: bool = True, base: Settings | None = None
) -> Settings:
    """Settings for analysing a labelled clip: its relay type and, when ``calibrated``,
    the zone corners the labels give (the true scale)."""
    over: dict = {"calibration.relay": labels.zone.relay}
    if calibrated and labels.zone.image_corners_px:
        over["calibration.zone_corners"] = [v for c in labels.zone.image_corners_px for v in c]
        if labels.zone.corners_x_m is not None:
            over["calibration.corners_x_m"] = list(labels.zone.corners_x_m)
    return (base or Settings()).with_overrides(over)


def _anchor(ex: ExchangeFields) -> float | None:
    return ex.transfer_s if ex.transfer_s is not None else ex.contact_start_s


def match_exchanges(
    predicted: list[ExchangeFields], labelled: list[ExchangeFields], tolerance_s: float
) -> list[tuple[int | None, int | None]]:
    """Pairs (label index, prediction index); None on one side for missed or spurious."""
    cost = np.full((len(labelled), len(predicted)), 1e6)
    for i, lab in enumerate(labelled):
        for j, pred in enumerate(predicted):
            a, b = _anchor(lab), _anchor(pred)
            if a is not None and b is not None and abs(a - b) <= tolerance_s:
                cost[i, j] = abs(a - b)
    pairs: list[tuple[int | None, int | None]] = []
    used_l, used_p = set(), set()
    if cost.size:
        for i, j in zip(*linear_sum_assignment(cost), strict=True):
            if cost[i, j] < 1e6:
                pairs.append((int(i), int(j)))
                used_l.add(int(i))
                used_p.add(int(j))
    pairs += [(i, None) for i in range(len(labelled)) if i not in used_l]
    pairs += [(None, j) for j in range(len(predicted)) if j not in used_p]
    return pairs


def hand_combo(passing: str | None, receiving: str | None) -> str:
    """'R->L' style name of a hand combination ('?' for an unknown hand)."""
    return f"{(passing or '?')[0].upper()}->{(receiving or '?')[0].upper()}"


def _rel_error(pred: float | None, true: float | None) -> float:
    if pred is None or true is None or true == 0:
        return np.nan
    return 100.0 * abs(pred - true) / abs(true)


def _abs_error(pred: float | None, true: float | None) -> float:
    if pred is None or true is None:
        return np.nan
    return abs(pred - true)


def _same(pred, true) -> float:
    """1 or 0 where both are known; NaN where the truth is unknown or nothing was measured."""
    if true is None or pred is None:
        return np.nan
    return float(pred == true)


def compare_clip(
    predicted: list[ExchangeFields], labels: ClipLabels, tolerance_s: float = MATCH_TOLERANCE_S
) -> list[dict]:
    """One row per labelled or predicted exchange of a clip, with per-field errors."""
    rows = []
    base = {"clip": labels.clip, "view": labels.camera.view, **labels.tags}
    frame_s = 1.0 / labels.fps
    for li, pi in match_exchanges(predicted, labels.exchanges, tolerance_s):
        lab = labels.exchanges[li] if li is not None else None
        pred = predicted[pi] if pi is not None else None
        row = {
            **base,
            "matched": lab is not None and pred is not None,
            "missed": pred is None,
            "spurious": lab is None,
        }
        if lab is not None:
            row.update(
                exchange_id=lab.exchange_id,
                hands=hand_combo(lab.passing_hand, lab.receiving_hand),
                true_same_hand=lab.same_hand,
                true_speed_match=lab.speed_match,
                dropped=lab.dropped,
            )
        if lab is not None and pred is not None:
            transfer_err = _abs_error(pred.transfer_s, lab.transfer_s)
            row.update(
                pred_same_hand=pred.same_hand,
                passing_hand_correct=_same(pred.passing_hand, lab.passing_hand),
                receiving_hand_correct=_same(pred.receiving_hand, lab.receiving_hand),
                roles_correct=float(
                    pred.incoming_track_id == lab.incoming_track_id
                    and pred.outgoing_track_id == lab.outgoing_track_id
                ),
                transfer_error_ms=1000 * transfer_err,
                transfer_error_frames=transfer_err / frame_s,
                contact_error_ms=1000 * _abs_error(pred.contact_start_s, lab.contact_start_s),
                release_error_ms=1000 * _abs_error(pred.release_s, lab.release_s),
                incoming_speed_error_pct=_rel_error(
                    pred.incoming_speed_mps, lab.incoming_speed_mps
                ),
                outgoing_speed_error_pct=_rel_error(
                    pred.outgoing_speed_mps, lab.outgoing_speed_mps
                ),
                free_distance_error_m=_abs_error(pred.free_distance_m, lab.free_distance_m),
                contact_position_error_m=_abs_error(
                    pred.baton_contact_position_m, lab.baton_contact_position_m
                ),
                release_position_error_m=_abs_error(
                    pred.baton_release_position_m, lab.baton_release_position_m
                ),
                zone_time_error_frames=_abs_error(pred.baton_zone_time_s, lab.baton_zone_time_s)
                / frame_s,
                zone_time_labelled=lab.baton_zone_time_s is not None,
                legal_correct=_same(pred.legal, lab.legal),
                speed_match_correct=_same(pred.speed_match, lab.speed_match),
                pass_style_correct=_same(pred.pass_style, lab.pass_style),
                pass_type_correct=_same(pred.pass_type, lab.pass_type),
                hand_switch_correct=_same(pred.receiver_hand_switch, lab.receiver_hand_switch),
                dropped_correct=_same(pred.dropped, lab.dropped),
                hands_confidence=getattr(pred, "hands_confidence", None),
                hands_evidence=getattr(pred, "hands_evidence", None),
                timing_evidence=getattr(pred, "timing_evidence", None),
            )
        elif pred is not None:
            row.update(pred_same_hand=pred.same_hand)
        rows.append(row)
    return rows


def _rate(series: pd.Series) -> float:
    s = series.dropna().astype(float)
    return float(s.mean()) if len(s) else np.nan


def _within(series: pd.Series, limit: float) -> float:
    s = series.dropna()
    return float((s <= limit).mean()) if len(s) else np.nan


def summarise(rows: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """The accuracy table, overall (``by=None``) or per group of a label field or tag."""
    if rows.empty:
        return pd.DataFrame()
    if by is None:
        return _summary_row(rows).to_frame("all").T
    # one Series per group, aligned by name: a group without a matched exchange lacks some
    # figures, which then read as missing (groupby.apply would return a ragged Series)
    groups = {name: _summary_row(g) for name, g in rows.groupby(by, dropna=False)}
    table = pd.DataFrame(groups).T
    table.index.name = by if isinstance(by, str) else None
    return table.infer_objects()


def _summary_row(g: pd.DataFrame) -> pd.Series:
    m = g[g.matched] if "matched" in g else g.iloc[0:0]
    labelled = g[~g.spurious]
    both_hands = (m.get("passing_hand_correct") == 1) & (m.get("receiving_hand_correct") == 1)
    truth = labelled.get("true_same_hand")
    pred = g.get("pred_same_hand")
    empty = pd.Series(dtype=float)
    truth = (truth if truth is not None else empty).astype("boolean").fillna(False)
    pred = (pred if pred is not None else empty).astype("boolean").fillna(False)
    truth, pred = truth.reindex(g.index, fill_value=False), pred.reindex(g.index, fill_value=False)
    tp = int((truth & pred & g.matched).sum())
    fp = int((pred & (~truth | g.spurious)).sum())
    fn = int((truth & (~pred | g.missed)).sum())

    def col(name: str) -> pd.Series:
        return m.get(name, empty)

    return pd.Series(
        {
            "exchanges": len(labelled),
            "missed": int(g.missed.sum()),
            "spurious": int(g.spurious.sum()),
            "hands_correct": _rate(both_hands.astype(float)) if len(m) else np.nan,
            "passing_hand_correct": _rate(col("passing_hand_correct")),
            "receiving_hand_correct": _rate(col("receiving_hand_correct")),
            "same_hand_precision": tp / (tp + fp) if tp + fp else np.nan,
            "same_hand_recall": tp / (tp + fn) if tp + fn else np.nan,
            "roles_correct": _rate(col("roles_correct")),
            "identity_swaps": int(m["identity_swap"].fillna(False).astype(bool).sum())
            if "identity_swap" in m and len(m)
            else np.nan,
            "transfer_within_1_frame": _within(col("transfer_error_frames"), 1.0),
            "transfer_within_2_frames": _within(col("transfer_error_frames"), 2.0),
            "transfer_within_3_frames": _within(col("transfer_error_frames"), 3.0),
            "transfer_error_ms_median": _median(m, "transfer_error_ms"),
            "incoming_speed_within_5pct": _within(col("incoming_speed_error_pct"), 5.0),
            "outgoing_speed_within_5pct": _within(col("outgoing_speed_error_pct"), 5.0),
            "speed_error_pct_median": _median(
                m, "incoming_speed_error_pct", "outgoing_speed_error_pct"
            ),
            "position_error_m_median": _median(
                m, "contact_position_error_m", "release_position_error_m"
            ),
            "legal_correct": _rate(col("legal_correct")),
            "speed_match_correct": _rate(col("speed_match_correct")),
            **_baton_summary(m),
        }
    )


def _baton_summary(m: pd.DataFrame) -> dict[str, float]:
    """How often the baton decided the hands and the timing, and how right it was then."""
    if "hands_evidence" not in m or not len(m):
        return {}
    by_hands = m[m["hands_evidence"] == "baton"]
    timed = m[m["timing_evidence"] == "baton+wrists"]
    both = (by_hands["passing_hand_correct"] == 1) & (by_hands["receiving_hand_correct"] == 1)
    return {
        "baton_hands": len(by_hands),
        "baton_hands_correct": _rate(both.astype(float)) if len(by_hands) else np.nan,
        "baton_timed": len(timed),
        "baton_timed_within_1_frame": _within(timed["transfer_error_frames"], 1.0),
    }


def _median(m: pd.DataFrame, *cols: str) -> float:
    present = [m[c] for c in cols if c in m]
    if not present:  # nothing matched: no error to take the median of
        return np.nan
    values = pd.concat(present, ignore_index=True).dropna()
    return float(values.median()) if len(values) else np.nan


# ---------------------------------------------------------------------- files
def _prediction_files(path: Path) -> list[Path]:
    path = Path(path)
    return [path] if path.is_file() else sorted(path.rglob("exchanges.json"))


def _label_files(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    return sorted({*path.rglob("labels.json"), *path.rglob("*.labels.json")})


def load_predictions(path: Path) -> dict[str, list[ExchangeFields]]:
    """Predicted exchanges by clip from an ``exchanges.json`` or a folder of them."""
    path = Path(path)
    files = _prediction_files(path)
    if not files:
        raise InputError(f"no exchanges.json found at {path}", "Run 'handoff-cv analyze' first")
    out: dict[str, list[ExchangeFields]] = {}
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            fields = set(ExchangeFields.model_fields)
            exchanges = [
                ExchangeFields.model_validate({k: v for k, v in e.items() if k in fields})
                for e in data["exchanges"]
            ]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{file} is not an exchanges.json written by handoff-cv ({type(exc).__name__})",
                "Give the analyze output folder or its exchanges.json",
            ) from None
        out[data.get("clip") or file.parent.name] = exchanges
    return out


def load_labels(path: Path) -> dict[str, ClipLabels]:
    """Labels by clip from a ``labels.json`` or a folder of them."""
    path = Path(path)
    files = _label_files(path)
    if not files:
        raise InputError(f"no labels.json found at {path}", "Give a labels file or folder")
    labels = [ClipLabels.load(f) for f in files]
    return {lab.clip: lab for lab in labels}


def landmark_files(predictions: Path, labels: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """The landmark tables that let a video's track ids be mapped to the true runners: the
    pipeline's ``landmarks.parquet`` beside each ``exchanges.json``, and the true
    ``truth.parquet`` beside ``labels.json`` (or ``NAME.truth.parquet`` beside
    ``NAME.labels.json``), by clip."""
    predicted, truth = {}, {}
    for file in _prediction_files(predictions):
        table = file.parent / "landmarks.parquet"
        if table.is_file():
            clip = json.loads(file.read_text(encoding="utf-8")).get("clip") or file.parent.name
            predicted[clip] = table
    for file in _label_files(labels):
        name = file.name.removesuffix("labels.json")
        table = file.parent / f"{name}truth.parquet"
        if table.is_file():
            truth[ClipLabels.load(file).clip] = table
    return predicted, truth


def compare_video_clip(
    predicted: list[ExchangeFields],
    labels: ClipLabels,
    predicted_landmarks: pd.DataFrame,
    true_landmarks: pd.DataFrame,
    tolerance_s: float = MATCH_TOLERANCE_S,
) -> list[dict]:
    """:func:`compare_clip` for a video: the pipeline's track ids are first mapped to the
    true runners (:func:`identify_tracks`), and each matched exchange says whether an
    identity swapped around the pass (``identity_swap``)."""
    identities = identify_tracks(predicted_landmarks, true_landmarks)
    mapped = relabel_tracks(predicted, track_mapping(identities))
    rows = compare_clip(mapped, labels, tolerance_s)
    pairs = match_exchanges(mapped, labels.exchanges, tolerance_s)
    for row, (li, pi) in zip(rows, pairs, strict=True):
        row["identity_swap"] = (
            identity_swapped(identities, predicted[pi], labels.exchanges[li], labels.fps)
            if li is not None and pi is not None
            else np.nan
        )
    return rows


def evaluate(
    predictions: dict[str, list[ExchangeFields]] | Path | str,
    labels: dict[str, ClipLabels] | Path | str,
    tolerance_s: float = MATCH_TOLERANCE_S,
) -> pd.DataFrame:
    """Per-exchange comparison rows for every labelled clip (a clip with no prediction
    counts all its exchanges as missed). Given as paths, analysed videos whose true
    landmarks are known (rendered clips) are scored with :func:`compare_video_clip`."""
    tables: tuple[dict[str, Path], dict[str, Path]] = ({}, {})
    if not isinstance(predictions, dict) and not isinstance(labels, dict):
        tables = landmark_files(Path(predictions), Path(labels))
    if not isinstance(predictions, dict):
        predictions = load_predictions(Path(predictions))
    if not isinstance(labels, dict):
        labels = load_labels(Path(labels))
    rows: list[dict] = []
    for clip, lab in labels.items():
        predicted = predictions.get(clip, [])
        if clip in tables[0] and clip in tables[1]:
            from handoff_cv.landmarks import load_landmarks

            rows += compare_video_clip(
                predicted,
                lab,
                load_landmarks(tables[0][clip]),
                load_landmarks(tables[1][clip]),
                tolerance_s,
            )
        else:
            rows += compare_clip(predicted, lab, tolerance_s)
    return pd.DataFrame(rows)


def breakdown_tables(rows: pd.DataFrame, columns: Iterable[str], by: Iterable[str]) -> list[str]:
    """Markdown lines: one accuracy table per field of ``by`` ("By view:", the table)."""
    columns = list(columns)
    lines: list[str] = []
    for field in by:
        lines += [f"By {field}:", "", format_table(summarise(rows, field), columns), ""]
    return lines


COUNT_COLUMNS = {"exchanges", "missed", "spurious", "identity_swaps", "baton_hands", "baton_timed"}


def format_table(table: pd.DataFrame, columns: Iterable[str] | None = None) -> str:
    """Markdown table with rates as percentages, for the docs and the terminal."""
    cols = list(columns or table.columns)
    lines = ["| group | " + " | ".join(cols) + " |", "| --- |" + " ---: |" * len(cols)]
    for name, row in table[cols].iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if isinstance(v, float) and np.isnan(v):
                cells.append("–")
            elif c in COUNT_COLUMNS:
                cells.append(str(int(v)))
            elif "error" in c:
                cells.append(f"{v:.2f}")
            else:
                cells.append(f"{100 * v:.1f}%")
        label = name if not isinstance(name, tuple) else " / ".join(map(str, name))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- identities
def _hip_centres(table: pd.DataFrame) -> pd.DataFrame:
    """Hip midpoint and torso length (pixels) per (frame, track_id)."""
    parts = table[
        table["landmark"].isin(["left_hip", "right_hip", "left_shoulder", "right_shoulder"])
    ]
    hips = parts[parts["landmark"].str.endswith("hip")].groupby(
        ["frame", "track_id"], observed=True
    )[["x_px", "y_px"]]
    shoulders = parts[parts["landmark"].str.endswith("shoulder")].groupby(
        ["frame", "track_id"], observed=True
    )[["x_px", "y_px"]]
    hip, sh = hips.mean(), shoulders.mean()
    out = hip.rename(columns={"x_px": "x", "y_px": "y"})
    out["torso"] = np.hypot(hip["x_px"] - sh["x_px"], hip["y_px"] - sh["y_px"])
    return out.reset_index()


def identify_tracks(predicted: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """For each (frame, predicted track): the true track it follows, or -1 when no true
    runner is within half a torso length of its hips (a bystander, a lost track).

    Both arguments are landmark tables (the pipeline's and the simulator's true one). In each
    frame, tracks and true runners are paired one to one at the least total hip distance
    (the CLEAR-MOT matching): at the pass two runners' hips may be less than a torso
    apart, and a track whose pose is a little off for a frame would otherwise be nearest the
    other runner while the other track is nearer still, and count as a swap.
    """
    pred, true = _hip_centres(predicted), _hip_centres(truth)
    rows = []
    true_by_frame = dict(tuple(true.groupby("frame")))
    for frame, here in pred.groupby("frame"):
        ids = np.full(len(here), -1)
        runners = true_by_frame.get(frame)
        if runners is not None:
            gaps = np.hypot(
                here["x"].to_numpy()[:, None] - runners["x"].to_numpy()[None, :],
                here["y"].to_numpy()[:, None] - runners["y"].to_numpy()[None, :],
            )
            reach = 0.5 * runners["torso"].to_numpy()[None, :]
            # pairs beyond reach cost more than any pair within it: never chosen over one
            cost = np.where(gaps <= reach, gaps, 1e9)
            for i, j in zip(*linear_sum_assignment(cost), strict=True):
                if gaps[i, j] <= reach[0, j]:
                    ids[i] = runners["track_id"].iloc[j]
        rows.append(
            pd.DataFrame({"frame": frame, "track_id": here["track_id"], "true_track_id": ids})
        )
    if not rows:
        return pd.DataFrame(columns=["frame", "track_id", "true_track_id"])
    return pd.concat(rows, ignore_index=True)


def tracking_figures(identities: pd.DataFrame, truth: pd.DataFrame) -> dict[str, int]:
    """The tracker's own figures on a clip with known runners (``identities`` from
    :func:`identify_tracks`, ``truth`` the true landmark table): ``runner_frames`` (frames
    times true runners), ``runner_frames_tracked`` (those where a track is paired with the
    runner) and ``id_switches`` (times a runner's paired track changes from one tracked
    frame to the next, as CLEAR-MOT counts them)."""
    paired = identities[identities["true_track_id"] >= 0].sort_values("frame")
    switches = 0
    for _, runner in paired.groupby("true_track_id"):
        tracks = runner["track_id"].to_numpy()
        switches += int((tracks[1:] != tracks[:-1]).sum())
    return {
        "runner_frames": int(truth.groupby("track_id")["frame"].nunique().sum()),
        "runner_frames_tracked": len(paired),
        "id_switches": switches,
    }


def track_mapping(identities: pd.DataFrame) -> dict[int, int]:
    """Each predicted track's true track: the one it follows in most of its frames."""
    known = identities[identities["true_track_id"] >= 0]
    votes = known.groupby(["track_id", "true_track_id"]).size().reset_index(name="n")
    best = votes.sort_values("n").groupby("track_id").tail(1)
    return {int(r.track_id): int(r.true_track_id) for r in best.itertuples()}


def relabel_tracks(exchanges: list, mapping: dict[int, int]) -> list:
    """Predicted exchanges with their runners' track ids replaced by the true ones."""
    return [
        ex.model_copy(
            update={
                "incoming_track_id": mapping.get(ex.incoming_track_id, -1),
                "outgoing_track_id": mapping.get(ex.outgoing_track_id, -1),
            }
        )
        for ex in exchanges
    ]


def identity_swapped(
    identities: pd.DataFrame,
    predicted: ExchangeFields,
    label: ExchangeFields,
    fps: float,
    margin_s: float = 0.5,
) -> bool:
    """Whether, from ``margin_s`` before contact to ``margin_s`` after release, the
    predicted incoming or outgoing track follows the other runner in any frame (frames
    where it is near neither, as when a pose is briefly wrong, are not swaps)."""
    lo = (label.contact_start_frame or 0) - round(margin_s * fps)
    hi = (label.release_frame or label.contact_start_frame or 0) + round(margin_s * fps)
    window = identities[identities["frame"].between(lo, hi)]
    for pred_id, other in (
        (predicted.incoming_track_id, label.outgoing_track_id),
        (predicted.outgoing_track_id, label.incoming_track_id),
    ):
        seen = window[window["track_id"] == pred_id]["true_track_id"]
        if bool((seen == other).any()):
            return True
    return False


# ---------------------------------------------------------------------- baton holder
def compare_holders(
    exchanges: list,
    holders: pd.DataFrame,
    truth: pd.DataFrame,
    identities: pd.DataFrame,
    labels: ClipLabels,
    min_visible: float = 0.5,
) -> pd.DataFrame:
    """Per true frame of a rendered clip: who holds the baton (``truth``: holder,
    incoming_hand, outgoing_hand, visible_fraction per frame) against the pipeline's holder
    table, its runners mapped to the true ones frame by frame (``identities`` from
    :func:`identify_tracks`). ``correct`` is NaN where the pipeline gave no holder;
    ``outcome`` says what went wrong (:data:`HOLDER_OUTCOMES`)."""
    roles = {lab.incoming_track_id: "incoming" for lab in labels.exchanges}
    roles |= {lab.outgoing_track_id: "outgoing" for lab in labels.exchanges}
    who = {(int(r.frame), int(r.track_id)): int(r.true_track_id) for r in identities.itertuples()}
    runners = {e.exchange_id: (e.incoming_track_id, e.outgoing_track_id) for e in exchanges}
    predicted: dict[int, frozenset] = {}
    for r in holders.itertuples():
        held = set()
        for role, hand in (("incoming", r.incoming_hand), ("outgoing", r.outgoing_hand)):
            if isinstance(hand, str):
                track = runners[r.exchange_id][0 if role == "incoming" else 1]
                held.add((roles.get(who.get((int(r.frame), track), -1), "?"), hand))
        predicted.setdefault(int(r.frame), frozenset(held))
    rows = []
    for r in truth.itertuples():
        held = {
            (role, hand)
            for role, hand in (("incoming", r.incoming_hand), ("outgoing", r.outgoing_hand))
            if isinstance(hand, str)
        }
        guess = predicted.get(int(r.frame))
        rows.append(
            {
                "clip": labels.clip,
                "frame": int(r.frame),
                "visible": r.visible_fraction >= min_visible,
                "true_holder": r.holder,
                "correct": np.nan if guess is None else float(guess == frozenset(held)),
                "outcome": _holder_outcome(guess, frozenset(held), bool(exchanges)),
            }
        )
    return pd.DataFrame(rows)


HOLDER_OUTCOMES = {
    "correct": "right runner(s) and hand(s)",
    "no_exchange_found": "no exchange found in the clip",
    "no_holder": "no holder given in that frame",
    "runner_not_followed": "a holder's track on no true runner in that frame",
    "wrong_runner": "the wrong runner(s), or one where two hold it",
    "wrong_hand": "the right runner(s), a wrong hand",
}
"""What :func:`compare_holders` says of each frame's holder."""


def _holder_outcome(guess: frozenset | None, held: frozenset, found: bool) -> str:
    if guess is None:
        return "no_holder" if found else "no_exchange_found"
    if guess == held:
        return "correct"
    if any(role == "?" for role, _ in guess):
        return "runner_not_followed"
    if {role for role, _ in guess} != {role for role, _ in held}:
        return "wrong_runner"
    return "wrong_hand"


def baton_detection(
    sightings: pd.DataFrame, truth: pd.DataFrame, min_visible: float = 0.5
) -> dict[str, float]:
    """Recall (visible frames with a sighting on the true baton) and precision (strong
    sightings that are on it) of the baton finder; on = centre within half a baton."""
    from handoff_cv.baton import sighting_ends

    true_ends = truth[["x0_px", "y0_px", "x1_px", "y1_px"]].to_numpy(float).reshape(-1, 2, 2)
    centre = dict(zip(truth.frame.astype(int), true_ends.mean(axis=1), strict=True))
    length = dict(
        zip(
            truth.frame.astype(int),
            np.linalg.norm(true_ends[:, 1] - true_ends[:, 0], axis=1),
            strict=True,
        )
    )
    strong = sightings[sightings.score >= 0.3]
    on = np.array(
        [
            np.linalg.norm(c - centre[f]) <= max(0.5 * length[f], 4.0) if f in centre else False
            for f, c in zip(
                strong.frame.astype(int), sighting_ends(strong).mean(axis=1), strict=True
            )
        ],
        bool,
    )
    visible = set(truth.frame[truth.visible_fraction >= min_visible].astype(int))
    found = set(strong.frame[on].astype(int))
    return {
        "visible_frames": len(visible),
        "recall": len(visible & found) / len(visible) if visible else np.nan,
        "precision": float(on.mean()) if len(on) else np.nan,
    }
