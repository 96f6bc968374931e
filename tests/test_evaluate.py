"""handoff-cv evaluate: perfect predictions score perfectly, known perturbations as expected."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from handoff_cv.cli import app
from handoff_cv.evaluate import evaluate, format_table, summarise
from handoff_cv.labels import ClipLabels, ExchangeFields
from handoff_cv.synth.scenario import ExchangeSpec, Scenario, simulate

runner = CliRunner()


@pytest.fixture(scope="module")
def labels() -> dict[str, ClipLabels]:
    out = {}
    for i, (p, r) in enumerate([("right", "left"), ("left", "right"), ("right", "right")]):
        spec = ExchangeSpec(passing_hand=p, receiving_hand=r, go_mark_m=12.6)
        clip = simulate(Scenario(name=f"clip{i}", exchanges=[spec])).labels
        out[clip.clip] = clip
    return out


def as_predictions(labels, **changes) -> dict[str, list[ExchangeFields]]:
    fields = set(ExchangeFields.model_fields)

    def copy(e):
        return ExchangeFields.model_validate(e.model_dump(include=fields)).model_copy(
            update=changes
        )

    return {clip: [copy(e) for e in lab.exchanges] for clip, lab in labels.items()}


def test_perfect_predictions_score_perfectly(labels):
    summary = summarise(evaluate(as_predictions(labels), labels)).iloc[0]
    for column in ("hands_correct", "same_hand_precision", "same_hand_recall", "roles_correct",
                   "transfer_within_2_frames", "incoming_speed_within_5pct", "legal_correct",
                   "speed_match_correct"):  # fmt: skip
        assert summary[column] == 1.0, column
    assert summary.missed == 0 and summary.spurious == 0 and summary.exchanges == 3


def test_wrong_hand_and_late_transfer_are_counted(labels):
    preds = as_predictions(labels)
    for clip, exchanges in preds.items():
        true = labels[clip].exchanges[0]
        exchanges[0] = exchanges[0].model_copy(update={
            "passing_hand": "left" if true.passing_hand == "right" else "right",
            "transfer_s": true.transfer_s + 3 / labels[clip].fps,
            "incoming_speed_mps": true.incoming_speed_mps * 1.10,
        })  # fmt: skip
    summary = summarise(evaluate(preds, labels)).iloc[0]
    assert summary.hands_correct == 0.0 and summary.receiving_hand_correct == 1.0
    assert summary.transfer_within_2_frames == 0.0 and summary.transfer_within_3_frames == 1.0
    assert summary.incoming_speed_within_5pct == 0.0 and summary.outgoing_speed_within_5pct == 1.0


def test_same_hand_precision_and_recall(labels):
    preds = as_predictions(labels)
    preds["clip0"][0] = preds["clip0"][0].model_copy(update={"same_hand": True})  # false alarm
    preds["clip2"][0] = preds["clip2"][0].model_copy(update={"same_hand": False})  # missed
    summary = summarise(evaluate(preds, labels)).iloc[0]
    assert summary.same_hand_precision == 0.0 and summary.same_hand_recall == 0.0


def test_missed_and_spurious_exchanges(labels):
    preds = as_predictions(labels)
    preds["clip0"] = []
    extra = preds["clip1"][0].model_copy(update={"transfer_s": preds["clip1"][0].transfer_s + 5})
    preds["clip1"].append(extra)
    summary = summarise(evaluate(preds, labels)).iloc[0]
    assert summary.missed == 1 and summary.spurious == 1


def test_breakdown_by_a_label_field(labels):
    rows = evaluate(as_predictions(labels), labels)
    by_hands = summarise(rows, "hands")
    assert set(by_hands.index) == {"R->L", "L->R", "R->R"}


def test_cli_evaluate_files(labels, tmp_path):
    for clip, lab in labels.items():
        (tmp_path / "labels" / clip).mkdir(parents=True)
        lab.save(tmp_path / "labels" / clip / "labels.json")
        pred = as_predictions(labels)[clip]
        folder = tmp_path / "pred" / clip
        folder.mkdir(parents=True)
        (folder / "exchanges.json").write_text(json.dumps(
            {"clip": clip, "exchanges": [e.model_dump(mode="json") for e in pred]}))  # fmt: skip
    result = runner.invoke(app, ["evaluate", str(tmp_path / "pred"), str(tmp_path / "labels"),
                                 "--by", "hands", "-o", str(tmp_path / "rows.csv")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "100.0%" in result.output and (tmp_path / "rows.csv").is_file()


def test_cli_evaluate_bad_input(tmp_path):
    result = runner.invoke(app, ["evaluate", str(tmp_path), str(tmp_path)])
    assert result.exit_code != 0 and result.output.startswith("error:")
    bad = tmp_path / "exchanges.json"
    bad.write_text("{not json")
    result = runner.invoke(app, ["evaluate", str(bad), str(tmp_path)])
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_a_clip_with_every_exchange_missed_still_summarises(labels):
    preds = as_predictions(labels)
    preds = {clip: [] for clip in preds}
    summary = summarise(evaluate(preds, labels)).iloc[0]
    assert summary.missed == 3 and summary.exchanges == 3
    assert np.isnan(summary.hands_correct) and np.isnan(summary.transfer_error_ms_median)


def test_video_track_ids_are_mapped_to_the_true_runners(labels):
    """A video's tracker numbers runners its own way: ids are mapped by following the true
    runners' hips, and a track that jumps onto the other runner at the pass is a swap."""
    from handoff_cv.evaluate import compare_video_clip
    from handoff_cv.synth.scenario import ExchangeSpec, Scenario, simulate

    sim = simulate(Scenario(name="v", exchanges=[ExchangeSpec(go_mark_m=12.6)]))
    lab = sim.labels
    truth = sim.landmarks
    renamed = truth.assign(track_id=truth["track_id"].map({0: 7, 1: 3}))
    fields = set(ExchangeFields.model_fields)
    pred = ExchangeFields.model_validate(lab.exchanges[0].model_dump(include=fields))
    pred = pred.model_copy(update={"incoming_track_id": 7, "outgoing_track_id": 3})
    row = compare_video_clip([pred], lab, renamed, truth)[0]
    assert row["roles_correct"] == 1.0 and row["identity_swap"] is False
    swapped = renamed.copy()
    after = swapped["frame"] > lab.exchanges[0].transfer_frame
    swapped.loc[after, "track_id"] = swapped.loc[after, "track_id"].map({7: 3, 3: 7})
    row = compare_video_clip([pred], lab, swapped, truth)[0]
    assert row["identity_swap"] is True


def test_tracks_are_paired_with_runners_one_to_one():
    """Two runners side by side: a track whose hips are drawn a little toward the other
    runner, nearer them than to its own, still follows its own while the other track
    follows the other runner (one-to-one pairing); alone, it is taken for the other."""
    from handoff_cv.evaluate import identify_tracks
    from handoff_cv.landmarks import LANDMARK_NAMES

    def table(hips_x: dict[int, float]) -> pd.DataFrame:
        rows = []
        for track, x in hips_x.items():
            for name in LANDMARK_NAMES:
                y = 100.0 if name.endswith("shoulder") else 200.0  # torso 100 px
                rows.append({"frame": 0, "track_id": track, "landmark": name, "x_px": x, "y_px": y})
        return pd.DataFrame(rows)

    truth = table({0: 500.0, 1: 560.0})  # hips 0.6 torso apart
    # track 8 follows runner 1 but its pose is off by 40 px toward runner 0: 20 px from it
    both = identify_tracks(table({9: 505.0, 8: 520.0}), truth)
    assert dict(zip(both["track_id"], both["true_track_id"], strict=True)) == {9: 0, 8: 1}
    alone = identify_tracks(table({8: 520.0}), truth)
    assert alone["true_track_id"].tolist() == [0]


def test_a_group_with_every_exchange_missed_still_gets_its_row(labels):
    preds = as_predictions(labels)
    preds["clip2"] = []  # the right-to-right clip's exchange is missed
    by_hands = summarise(evaluate(preds, labels), "hands")
    assert by_hands.loc["R->R", "missed"] == 1
    assert np.isnan(by_hands.loc["R->R", "hands_correct"])
    assert by_hands.loc["R->L", "hands_correct"] == 1.0
    table = format_table(by_hands, ["exchanges", "missed", "hands_correct"])
    assert "| R->R | 1 | 1 | – |" in table


def test_tracking_figures_count_followed_runner_frames_and_switches():
    from handoff_cv.evaluate import tracking_figures

    truth = pd.DataFrame({"frame": [0, 1, 2, 3] * 2, "track_id": [0] * 4 + [1] * 4})
    identities = pd.DataFrame(
        {
            "frame": [0, 1, 2, 3, 0, 1, 3, 2],
            # runner 0: track 5, then 6 from frame 2 (one switch); runner 1: track 6 at
            # frames 0 and 1, unseen at 2, track 7 at 3 (a second switch); a bystander
            "track_id": [5, 5, 6, 6, 6, 6, 7, 9],
            "true_track_id": [0, 0, 0, 0, 1, 1, 1, -1],
        }
    )
    assert tracking_figures(identities, truth) == {
        "runner_frames": 8,
        "runner_frames_tracked": 7,
        "id_switches": 2,
    }


def test_holder_frames_say_what_the_pipeline_got_wrong(labels):
    from types import SimpleNamespace

    from handoff_cv.evaluate import HOLDER_OUTCOMES, compare_holders

    clip = labels["clip0"]
    true_in, true_out = clip.exchanges[0].incoming_track_id, clip.exchanges[0].outgoing_track_id
    truth = pd.DataFrame({
        "frame": range(6),
        "holder": ["incoming", "both", "outgoing", "outgoing", "outgoing", "incoming"],
        "incoming_hand": ["right", "right", None, None, None, "right"],
        "outgoing_hand": [None, "left", "left", "left", "left", None],
        "visible_fraction": 1.0,
    })  # fmt: skip
    # the pipeline's tracks 7 (incoming) and 8 (outgoing); track 8 is on nobody in frame 3
    identities = pd.DataFrame({"frame": [f for f in range(6) for _ in (0, 1)],
                               "track_id": [7, 8] * 6,
                               "true_track_id": [true_in, true_out] * 6})  # fmt: skip
    identities = identities[~((identities.frame == 3) & (identities.track_id == 8))]
    holders = pd.DataFrame({
        "exchange_id": 0,
        "frame": range(5),
        "incoming_hand": ["right", "right", None, None, "right"],
        "outgoing_hand": [None, None, "right", "left", None],
    })  # fmt: skip
    exchange = SimpleNamespace(exchange_id=0, incoming_track_id=7, outgoing_track_id=8)
    frames = compare_holders([exchange], holders, truth, identities, clip)
    assert frames.outcome.tolist() == [
        "correct", "wrong_runner", "wrong_hand", "runner_not_followed", "wrong_runner",
        "no_holder",
    ]  # fmt: skip
    assert ((frames.outcome == "correct") == (frames.correct == 1)).all()
    assert set(frames.outcome) <= set(HOLDER_OUTCOMES)
    nothing = compare_holders([], pd.DataFrame(), truth, pd.DataFrame(), clip)
    assert (nothing.outcome == "no_exchange_found").all() and nothing.correct.isna().all()
