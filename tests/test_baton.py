"""The baton: finding it in pixels, learning its colour, and who holds it frame by frame."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd
import pytest

from handoff_cv import load_landmarks
from handoff_cv.analyze import analyze_landmarks
from handoff_cv.baton import (
    SIGHTING_COLUMNS,
    BatonFinder,
    ColourLearner,
    ColourModel,
    Hand,
    colour_candidates,
    find_in_frame,
    load_baton_table,
    scene_thumbnail,
    write_baton_table,
)
from handoff_cv.errors import ConfigError
from handoff_cv.evaluate import (
    baton_detection,
    compare_holders,
    identify_tracks,
    settings_from_labels,
)
from handoff_cv.exchange import _baton_timing, holder_bounds
from handoff_cv.holder import STATES, BatonEvidence, HolderSeries, baton_evidence, holder_series
from handoff_cv.kinematics import track_kinematics
from handoff_cv.labels import ClipLabels
from handoff_cv.landmarks import poses_by_frame
from handoff_cv.settings import BatonSettings, Settings
from handoff_cv.synth.scenario import CameraSpec, ExchangeSpec, Scenario, simulate
from handoff_cv.video import iter_frames

TRACK_RGB = (178, 74, 52)
SETTINGS = BatonSettings()


def _scene(background=(120, 125, 130), size=(360, 480)) -> np.ndarray:
    image = np.zeros((*size, 3), np.uint8)
    image[:] = background
    return image


def _bar(image, a, b, rgb, width=4) -> None:
    cv2.line(image, tuple(map(int, a)), tuple(map(int, b)), rgb, width, cv2.LINE_AA)


def _model(name: str, rgb, floor: int | None = None) -> ColourModel:
    models = ColourModel.from_rgb(name, rgb, SETTINGS)
    return models[0] if floor is None else next(m for m in models if m.min_saturation == floor)


# ---------------------------------------------------------------------- finding it
def test_finds_a_baton_at_a_hand_with_its_ends():
    image = _scene()
    _bar(image, (200, 150), (235, 165), (250, 120, 0))
    hand = Hand(np.array([215.0, 158.0]), 38.0)
    found = find_in_frame(image, [hand], _model("orange", (250, 120, 0)), 1.2)
    assert len(found) == 1
    ends = sorted(found[0].ends.tolist())
    assert np.allclose(ends, [[200, 150], [235, 165]], atol=3)
    assert found[0].score > 0.6


def test_refuses_shirts_far_blobs_and_the_wrong_colour():
    image = _scene()
    hand = Hand(np.array([200.0, 150.0]), 38.0)
    cv2.rectangle(image, (150, 100), (260, 240), (250, 120, 0), -1)  # a shirt filling the window
    assert find_in_frame(image, [hand], _model("orange", (250, 120, 0)), 1.2) == []
    image = _scene()
    _bar(image, (380, 300), (415, 315), (250, 120, 0))  # a baton-like thing far from any hand
    assert find_in_frame(image, [hand], _model("orange", (250, 120, 0)), 1.2) == []
    _bar(image, (190, 145), (225, 160), (30, 115, 230))
    assert find_in_frame(image, [hand], _model("orange", (250, 120, 0)), 1.2) == []
    assert len(find_in_frame(image, [hand], _model("blue", (30, 115, 230)), 1.2)) == 1


def test_a_red_baton_on_a_red_track_is_found_only_at_a_higher_saturation_floor():
    image = _scene(TRACK_RGB)
    _bar(image, (200, 150), (235, 165), (220, 30, 30))
    hand = Hand(np.array([215.0, 158.0]), 38.0)
    assert find_in_frame(image, [hand], _model("red", (220, 30, 30), 110), 1.2) == []
    assert len(find_in_frame(image, [hand], _model("red", (220, 30, 30), 200), 1.2)) == 1


def _frames(baton_rgb, background, n=40, seed=0, static_patch=None):
    """A hand sweeping back and forth across a plain scene, carrying a bar of ``baton_rgb``
    (or nothing); ``static_patch`` paints a baton-sized patch that stays put, as a bit of
    scenery between the limbs would."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        image = _scene(background)
        centre = np.array([240 + 90 * np.sin(i / 3), 180 + 30 * np.cos(i / 3)])
        half = 18 * np.array([np.cos(i / 5), np.sin(i / 5)])
        if static_patch is not None:
            _bar(image, (235, 180), (270, 190), static_patch)
        if baton_rgb is not None:
            _bar(image, centre - half, centre + half, baton_rgb)
        image = np.clip(image + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)
        yield i / 30, image, [Hand(centre + rng.normal(0, 3, 2), 36.0)]


def _learn(frames) -> ColourModel | None:
    learner = ColourLearner(colour_candidates(SETTINGS), 1.2, SETTINGS.learn_support)
    for t, image, hands in frames:
        learner.add(image, hands, t, scene=scene_thumbnail(image))
    return learner.decision(final=True)


@pytest.mark.parametrize(
    ("baton", "background", "expected"),
    [
        ((30, 115, 230), TRACK_RGB, "blue"),
        ((250, 205, 0), TRACK_RGB, "yellow"),
        ((220, 30, 30), TRACK_RGB, "red"),  # found above the track's saturation only
        ((40, 180, 60), (70, 128, 58), "green"),  # a green baton over grass
    ],
)
def test_learns_the_colour_of_what_a_hand_carries(baton, background, expected):
    learned = _learn(_frames(baton, background))
    assert learned is not None and learned.name == expected


def test_learns_no_colour_from_scenery_that_does_not_follow_the_hand():
    assert _learn(_frames(None, TRACK_RGB)) is None
    assert _learn(_frames(None, TRACK_RGB, static_patch=(30, 115, 230))) is None
    learned = _learn(_frames((250, 205, 0), TRACK_RGB, static_patch=(30, 115, 230)))
    assert learned is not None and learned.name == "yellow"


def test_finder_searches_the_frames_it_kept_while_learning():
    settings = BatonSettings()
    finder = BatonFinder(settings)
    for i, (t, image, hands) in enumerate(_frames((250, 120, 0), TRACK_RGB, n=30)):
        finder.observe(i, t, image, [_pose_at(hands[0].point)])
    table = finder.table()
    assert table.attrs["baton_colour"].startswith("orange")
    assert table.frame.nunique() >= 27  # every frame, the ones before the decision included
    centres = table.groupby("frame")[["x0_px", "x1_px"]].first().mean(axis=1)
    true_x = 240 + 90 * np.sin(centres.index.to_numpy() / 3)
    assert np.allclose(centres, true_x, atol=2)


def _pose_at(hand: np.ndarray):
    """A standing figure about 230 px tall whose right hand is at ``hand``."""
    from handoff_cv.pose import LANDMARK_INDEX, Pose

    xy = np.zeros((33, 2))
    x, y = hand[0] + 40, hand[1] - 30
    points = {
        "nose": (x, y - 75),
        "left_shoulder": (x - 12, y - 55),
        "right_shoulder": (x + 12, y - 55),
        "left_hip": (x - 10, y + 15),
        "right_hip": (x + 10, y + 15),
        "left_knee": (x - 10, y + 70),
        "right_knee": (x + 10, y + 70),
        "left_ankle": (x - 10, y + 125),
        "right_ankle": (x + 10, y + 125),
        "left_wrist": (x + 60, y + 30),
        "left_index": (x + 62, y + 32),
        "right_wrist": tuple(hand),
        "right_index": tuple(hand),
        "left_elbow": (x + 20, y),
        "right_elbow": (x - 20, y),
    }
    for name, p in points.items():
        xy[LANDMARK_INDEX[name]] = p
    ones = np.ones(33)
    return Pose(xy, np.zeros(33), ones, ones)


def test_colour_setting_accepts_names_hex_and_off_and_refuses_the_rest():
    assert colour_candidates(BatonSettings(colour="off")) == []
    assert {m.name for m in colour_candidates(BatonSettings(colour="blue"))} == {"blue"}
    hexed = colour_candidates(BatonSettings(colour="#1e73e6"))
    assert hexed and all(m.name == "#1e73e6" for m in hexed)
    assert colour_candidates(BatonSettings(colour="silver"))[0].achromatic
    with pytest.raises(ConfigError, match="is not a colour"):
        colour_candidates(BatonSettings(colour="purplish"))
    assert not BatonFinder(BatonSettings(colour="off")).enabled


def test_sightings_table_round_trips_with_its_colour(tmp_path):
    table = pd.DataFrame(
        [[3, 0.1, 1.0, 2.0, 3.0, 4.0, 4.0, 30.0, 0.9]],
        columns=SIGHTING_COLUMNS,
    )
    table.attrs["baton_colour"] = "red"
    write_baton_table(table, tmp_path / "baton.parquet")
    back = load_baton_table(tmp_path / "landmarks.parquet")
    assert back is not None and back.equals(table)
    assert load_baton_table(tmp_path / "nowhere" / "landmarks.parquet") is None


# ---------------------------------------------------------------------- who holds it
def _simulated(view: str, hands: tuple[str, str], **spec):
    exchange = ExchangeSpec(passing_hand=hands[0], receiving_hand=hands[1], **spec)
    camera = CameraSpec(view=view, distance_m=12, fps=60)
    return simulate(Scenario(name="baton", exchanges=[exchange], camera=camera))


def _agreement(holders: pd.DataFrame, truth: pd.DataFrame) -> float:
    both = holders.merge(truth, on="frame", suffixes=("", "_true"))
    same = both.holder == both.holder_true
    for col in ("incoming_hand", "outgoing_hand"):
        same &= both[col].fillna("-") == both[f"{col}_true"].fillna("-")
    return float(same.mean())


@pytest.mark.parametrize(
    ("view", "hands"),
    [
        ("side_stands", ("right", "left")),
        ("side_infield", ("left", "right")),
        ("oblique", ("right", "right")),
    ],
)
def test_the_seen_baton_decides_hands_switch_and_transfer(view, hands):
    sim = _simulated(view, hands, hand_switch_after_s=0.6)
    sightings = sim.baton_table()
    result = analyze_landmarks(sim.landmarks, settings_from_labels(sim.labels), baton=sightings)
    truth, report = sim.labels.exchanges[0], result.exchanges[0]
    assert (report.passing_hand, report.receiving_hand) == hands
    assert report.hands_evidence == "baton" and report.timing_evidence == "baton+wrists"
    assert report.receiver_hand_switch is True
    assert abs(report.transfer_s - truth.transfer_s) <= 2 / sim.labels.fps
    assert report.contact_start_s <= truth.transfer_s <= report.release_s
    assert _agreement(result.holders_frame(), sightings) >= 0.9


def test_baton_hands_overrule_wrists_that_point_at_the_wrong_pair():
    """Receiver's hand labels swapped in the landmarks: the wrists alone would then name
    the other hand; the baton's holder follows the hand that really holds it."""
    sim = _simulated("side_stands", ("right", "left"))
    wrong = sim.landmarks.copy()
    outgoing = wrong.track_id == sim.labels.exchanges[0].outgoing_track_id
    for part in ("wrist", "index", "pinky", "thumb"):
        left, right = f"left_{part}", f"right_{part}"
        swap = outgoing & wrong.landmark.isin([left, right])
        wrong.loc[swap, "landmark"] = wrong.loc[swap, "landmark"].map({left: right, right: left})
    settings = settings_from_labels(sim.labels)
    by_wrists = analyze_landmarks(wrong, settings).exchanges[0]
    with_baton = analyze_landmarks(wrong, settings, baton=sim.baton_table()).exchanges[0]
    assert by_wrists.hands_evidence == "wrists"
    # the labels say "right" for the hand that holds it: the baton reports what it sees
    assert with_baton.receiving_hand == "right" and with_baton.hands_evidence == "baton"


def test_the_hands_that_met_time_the_pass_when_the_baton_names_others(monkeypatch):
    """Where the baton names another pair of hands than the wrists that met (one runner's
    wrists mislabelled near the pass, as on the sample ``blind_right_to_left``), the pass
    is still timed by the hands that met: the pair named never comes together."""
    sim = _simulated("side_stands", ("right", "left"))
    settings = settings_from_labels(sim.labels)
    truth = sim.labels.exchanges[0]

    def naming_the_other_pair(*args, **kwargs):
        evidence = baton_evidence(*args, **kwargs)
        return (
            None
            if evidence is None
            else replace(
                evidence, passing_hand="left", receiving_hand="right", hands_confidence=0.9
            )
        )

    named_right = analyze_landmarks(sim.landmarks, settings, baton=sim.baton_table())
    monkeypatch.setattr("handoff_cv.exchange.baton_evidence", naming_the_other_pair)
    report = analyze_landmarks(sim.landmarks, settings, baton=sim.baton_table()).exchanges[0]
    assert (report.passing_hand, report.receiving_hand) == ("left", "right")
    assert report.hands_evidence == "baton"
    same = named_right.exchanges[0]
    assert (report.contact_start_s, report.release_s) == (same.contact_start_s, same.release_s)
    assert abs(report.transfer_s - truth.transfer_s) <= 2 / sim.labels.fps


def test_unseen_baton_leaves_the_wrists_answer_and_says_so():
    sim = _simulated("side_stands", ("right", "left"))
    settings = settings_from_labels(sim.labels)
    alone = analyze_landmarks(sim.landmarks, settings).exchanges[0]
    empty = sim.baton_table().iloc[0:0]
    report = analyze_landmarks(sim.landmarks, settings, baton=empty).exchanges[0]
    assert report.evidence == alone.evidence == "wrists"
    assert report.passing_hand == alone.passing_hand
    assert report.transfer_s == alone.transfer_s


def test_a_gap_in_sightings_keeps_the_holder_and_bounds_the_timing():
    sim = _simulated("side_stands", ("left", "right"))
    truth = sim.labels.exchanges[0]
    table = sim.baton_table()
    hidden = (table.time_s > truth.contact_start_s - 0.2) & (table.time_s < truth.release_s + 0.2)
    kins = track_kinematics(sim.landmarks, Settings().filtering, Settings().exchange)
    incoming, outgoing = (
        next(k for k in kins if k.track_id == tid)
        for tid in (truth.incoming_track_id, truth.outgoing_track_id)
    )
    series = holder_series(table[~hidden], incoming, outgoing, (0.0, 99.0), SETTINGS)
    assert series is not None
    evidence = baton_evidence(series, SETTINGS)
    assert (evidence.passing_hand, evidence.receiving_hand) == ("left", "right")
    lo, hi = evidence.contact_window_s
    assert lo <= truth.contact_start_s <= hi
    in_gap = np.isin(series.frames, table[hidden].frame)
    assert not series.seen[in_gap].any()
    # through the gap the holder goes forward only: passer, then contact or receiver
    order = {"incoming": 0, "both": 1, "outgoing": 2}
    ranks = [order[STATES[s][0]] for s in series.states]
    assert ranks == sorted(ranks)


def test_the_holder_is_followed_over_the_whole_carry_and_after_the_passer_is_lost():
    """A long clip: the receiver waits in view from the first frame, the passer comes into
    view 4.7 s later and is lost 0.3 s after letting go. The holder table covers every
    frame either runner is tracked, not only the 2 s around the pass (as it did), and stays
    right: with the passer before he is lost, with the receiver after."""
    exchange = ExchangeSpec(passing_hand="right", receiving_hand="left", lead_s=3.5, tail_s=3.0)
    camera = CameraSpec(view="side_stands", distance_m=30, fps=30)
    sim = simulate(Scenario(name="long", exchanges=[exchange], camera=camera))
    truth = sim.labels.exchanges[0]
    marks = sim.landmarks
    passer_gone = (marks.track_id == truth.incoming_track_id) & (
        marks.time_s > truth.release_s + 0.3
    )
    marks = marks[~passer_gone]
    batons = sim.baton_table()
    ends_x = batons[["x0_px", "x1_px"]]
    in_view = batons[((ends_x >= 0) & (ends_x < camera.width)).all(axis=1)]  # as a finder sees
    result = analyze_landmarks(marks, settings_from_labels(sim.labels), baton=in_view)
    holders = result.holders_frame()
    assert holders.frame.min() == marks.frame.min()
    assert holders.frame.max() == marks[marks.track_id == truth.outgoing_track_id].frame.max()
    passer_in_view = marks[marks.track_id == truth.incoming_track_id].frame.min()
    assert len(holders) > marks.frame.max() - passer_in_view
    assert _agreement(holders, batons) >= 0.95


def test_the_reading_near_the_pass_replaces_the_whole_tracks_path_over_its_span():
    def series(times, state):
        n = len(times)
        return HolderSeries(
            np.arange(n) + int(times[0] * 10),
            np.asarray(times),
            np.ones(n, bool),
            np.full(n, state),
            np.ones(n),
        )

    whole = series(np.arange(0, 50) / 10, STATES.index(("incoming", "right", None)))
    near = series(np.arange(20, 31) / 10, STATES.index(("outgoing", None, "left")))
    spliced = whole.around(near)
    assert np.array_equal(spliced.times, whole.times)
    assert np.array_equal(spliced.frames, whole.frames)
    inside = (spliced.times >= 2.0) & (spliced.times <= 3.0)
    assert (spliced.states[inside] == STATES.index(("outgoing", None, "left"))).all()
    assert (spliced.states[~inside] == STATES.index(("incoming", "right", None))).all()


def test_the_baton_moves_the_wrists_times_only_where_they_lie_far_from_its_change_of_holder():
    """30 fps. Contact: the wrists 1 frame before the baton's 1-frame interval stay (the
    interval's middle was used, and is biased a frame early at contact); release: the wrists
    0.3 s before the baton's interval move to 6 frames before it; a baton 0.5 s off the
    wrists is not believed."""
    t = np.arange(0, 10, 1 / 30)

    def evidence(contact, release):
        return BatonEvidence("right", "left", 1.0, contact, release, False, False, 1.0)

    contact, release, by = _baton_timing(evidence((5.033, 5.067), (5.6, 5.633)), 5.0, 5.3, t)
    assert contact == 5.0
    assert release == pytest.approx(5.6 - 6 / 30)
    assert by == "baton+wrists"
    contact, release, by = _baton_timing(evidence((5.5, 5.533), None), 5.0, 5.3, t)
    assert (contact, release, by) == (5.0, 5.3, "wrists")


def test_the_holder_of_each_pass_is_followed_no_further_than_midway_to_the_next():
    def candidate(t0: float, t1: float):
        times = np.linspace(0, 20, 201)
        kin = SimpleNamespace(times=times)
        frames = np.nonzero((times >= t0) & (times <= t1))[0]
        return SimpleNamespace(incoming=kin, outgoing=kin, frames=frames)

    first, rival, second = candidate(2, 3), candidate(2.5, 3.5), candidate(9, 10)
    bounds = holder_bounds([first, rival, second])
    assert bounds[0] == (-np.inf, 6.0)
    assert bounds[1] == (-np.inf, 6.25)  # a rival reading of the same pass bounds nothing
    assert bounds[2] == (6.25, np.inf)


def test_a_dropped_baton_is_reported():
    sim = _simulated("side_stands", ("right", "left"), dropped=True)
    result = analyze_landmarks(
        sim.landmarks, settings_from_labels(sim.labels), baton=sim.baton_table()
    )
    assert result.exchanges and result.exchanges[0].dropped is True


# ---------------------------------------------------------------------- rendered samples
SAMPLES = Path(__file__).resolve().parents[1] / "sample_videos"


@pytest.mark.parametrize(
    "name",
    ["blind_right_to_left", "blind_left_to_right", "same_hand_right_to_right", "visual_4x400"],
)
def test_baton_stage_on_the_rendered_samples_with_their_true_poses(name):
    """The baton stage alone on real pixels: the finder searches around the renderer's true
    hands, and the holder is read from the true landmarks; scored against the renderer's
    per-frame truth (who holds the baton, and how much of it is in view)."""
    base = SAMPLES / name
    settings = Settings.from_toml(base.with_suffix(".toml"))
    truth = load_landmarks(f"{base}.truth.parquet")
    baton_truth = pd.read_parquet(f"{base}.baton_truth.parquet")
    labels = ClipLabels.load(f"{base}.labels.json")
    poses = poses_by_frame(truth)
    finder = BatonFinder(settings.baton)
    for frame in iter_frames(base.with_suffix(".mp4")):
        finder.observe(frame.index, frame.time_s, frame.image, poses.get(frame.index, []))
    sightings = finder.table()
    assert sightings.attrs["baton_colour"].startswith("red")
    found = baton_detection(sightings, baton_truth)
    assert found["recall"] >= 0.75 and found["precision"] >= 0.9
    result = analyze_landmarks(truth, settings, clip=name, baton=sightings)
    report, label = result.exchanges[0], labels.exchanges[0]
    assert (report.passing_hand, report.receiving_hand) == (
        label.passing_hand,
        label.receiving_hand,
    )
    assert report.hands_evidence == "baton"
    frames = compare_holders(
        result.exchanges, result.holders_frame(), baton_truth, identify_tracks(truth, truth), labels
    )
    assert frames[frames.visible].correct.fillna(0).mean() >= 0.85


def test_analyze_writes_the_sightings_and_reuses_them_from_landmarks(tmp_path):
    """From a video: baton.parquet (sightings) and baton_holders.parquet; re-analysed from
    the landmark table, the sightings beside it are read again (no video needed)."""
    import json

    from typer.testing import CliRunner

    from handoff_cv.cli import app

    base = SAMPLES / "same_hand_right_to_right"
    out, again = tmp_path / "video", tmp_path / "again"
    runner = CliRunner()
    first = runner.invoke(
        app,
        [
            "analyze",
            str(base.with_suffix(".mp4")),
            "-c",
            str(base.with_suffix(".toml")),
            "-o",
            str(out),
            "--no-video",
        ],
    )
    assert first.exit_code == 0, first.output
    sightings = load_baton_table(out / "landmarks.parquet")
    assert sightings is not None and len(sightings) > 10
    holders = pd.read_parquet(out / "baton_holders.parquet")
    assert set(holders.holder) <= {s[0] for s in STATES} and holders.baton_seen.any()
    second = runner.invoke(
        app,
        [
            "analyze",
            str(out),
            "--from-landmarks",
            "-c",
            str(base.with_suffix(".toml")),
            "-o",
            str(again),
        ],
    )
    assert second.exit_code == 0, second.output
    before = json.loads((out / "exchanges.json").read_text())["exchanges"]
    after = json.loads((again / "exchanges.json").read_text())["exchanges"]
    keys = ("passing_hand", "receiving_hand", "hands_evidence", "timing_evidence", "transfer_s")
    assert [{k: e[k] for k in keys} for e in after] == [{k: e[k] for k in keys} for e in before]
    assert before and before[0]["baton_seen_fraction"] > 0.3


def test_colour_masks_follow_the_hue_circle_across_its_wrap():
    hsv = np.stack(np.meshgrid(np.arange(180), [40, 200], [60, 200], indexing="ij"), axis=-1)
    hsv = hsv.reshape(180, 4, 3).astype(np.uint8)
    for hue, tolerance in [(2.5, 8.0), (176.0, 8.0), (90.0, 10.5), (0.0, 12.0)]:
        model = ColourModel("c", hue, tolerance, 110, 90)
        mask = model.mask(hsv) > 0
        distance = np.abs(hsv[..., 0].astype(float) - hue)
        on_circle = np.minimum(distance, 180 - distance) <= tolerance
        expected = on_circle & (hsv[..., 1] >= 110) & (hsv[..., 2] >= 90)
        assert (mask == expected).all(), (hue, tolerance)
    silver = ColourModel("silver", 0.0, 0.0, 0, 150, achromatic=True)
    grey = cv2.cvtColor(
        np.uint8([[[200, 200, 205], [90, 90, 90], [250, 30, 30]]]), cv2.COLOR_RGB2HSV
    )
    assert (silver.mask(grey)[0] > 0).tolist() == [True, False, False]
