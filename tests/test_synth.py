"""The simulator: physically consistent motion, correct labels, faithful corruptions."""

from __future__ import annotations

import numpy as np
import pytest

from handoff_cv import landmarks as lm
from handoff_cv.labels import labels_json_schema
from handoff_cv.pose import LANDMARK_INDEX
from handoff_cv.synth.corrupt import Corruption, corrupt
from handoff_cv.synth.motion import steps_per_second
from handoff_cv.synth.scenario import (
    CameraSpec,
    ExchangeSpec,
    Scenario,
    bodies_at,
    go_mark_for,
    simulate,
)
from handoff_cv.synth.suites import HAND_COMBOS, VIEWS, suite_cases
from tests.conftest import REPO


@pytest.fixture(scope="module")
def side_sim():
    return simulate(Scenario(exchanges=[ExchangeSpec(go_mark_m=12.6)]))


def test_speeds_follow_the_scenario(side_sim):
    ep = side_sim.episodes[0]
    m = ep.motion
    before_go = m.t < m.t_go
    assert np.allclose(m.v_in[before_go], 10.0, atol=0.05)  # incoming at top speed
    assert np.all(m.v_out[m.t < m.t_start] == 0)  # outgoing waits until go + reaction
    assert m.t_start - m.t_go == pytest.approx(0.15, abs=0.002)
    assert m.v_out.max() <= 10.0 + 1e-9 and np.all(np.diff(m.v_out[m.t < m.t_contact]) >= -1e-9)
    label = side_sim.labels.exchanges[0]
    assert 0.85 < label.speed_ratio < 0.95 and label.speed_match == "matched"


def test_cadence_is_a_sprinters(side_sim):
    ep = side_sim.episodes[0]
    times = np.arange(ep.start, ep.motion.t_go, 0.002)
    ankle = np.array([bodies_at(ep, t).incoming[LANDMARK_INDEX["left_ankle"], 0] for t in times])
    pelvis = np.interp(times, ep.motion.t, ep.motion.x_in)
    rel = ankle - pelvis
    crossings = np.nonzero(np.diff(np.sign(rel - rel.mean())) > 0)[0]
    strides_per_s = (len(crossings) - 1) / (times[crossings[-1]] - times[crossings[0]])
    assert 2 * strides_per_s == pytest.approx(steps_per_second(10.0), rel=0.05)
    assert 4.3 <= 2 * strides_per_s <= 5.0


def test_arms_swing_opposite_the_legs(side_sim):
    ep = side_sim.episodes[0]
    times = np.arange(ep.start, ep.motion.t_go, 0.01)
    rel = []
    for t in times:
        body = bodies_at(ep, t).incoming
        rel.append(
            (
                body[LANDMARK_INDEX["left_wrist"], 0] - body[LANDMARK_INDEX["left_hip"], 0],
                body[LANDMARK_INDEX["left_knee"], 0] - body[LANDMARK_INDEX["left_hip"], 0],
            )
        )
    arm, leg = np.array(rel).T
    assert np.corrcoef(arm, leg)[0, 1] < -0.5


def test_baton_is_always_held_and_by_both_during_contact(side_sim):
    ep = side_sim.episodes[0]
    m = ep.motion
    for t in np.arange(ep.start, ep.end, 0.01):
        holder = bodies_at(ep, t).holder
        assert holder != "none"
        if m.t_contact < t < m.t_release:
            assert holder == "both"
    # at contact the two hands are together
    body = bodies_at(ep, m.t_contact + 0.01)
    passer = body.incoming[LANDMARK_INDEX["right_wrist"]]
    receiver = body.outgoing[LANDMARK_INDEX["left_wrist"]]
    assert np.linalg.norm(passer - receiver) < 0.15


def _hand_gap(ep, t: float) -> float:
    spec, body = ep.spec, bodies_at(ep, t)
    points = {}
    for who, side in (("incoming", spec.passing_hand), ("outgoing", spec.receiving_hand)):
        pts = getattr(body, who)
        points[who] = (
            pts[LANDMARK_INDEX[f"{side}_wrist"]] + pts[LANDMARK_INDEX[f"{side}_index"]]
        ) / 2
    return float(np.linalg.norm(points["incoming"] - points["outgoing"]))


def test_the_hands_stay_together_for_the_whole_labelled_contact():
    # the passer leans into the pass when the arm alone falls short: a label that says
    # "contact" while the hands are 10-20 cm apart would make timing errors of the truth
    for case in suite_cases("clean", 24, seed=3):
        for ep in simulate(case.scenario).episodes:
            if ep.spec.dropped:
                continue
            m = ep.motion
            gaps = [_hand_gap(ep, t) for t in np.linspace(m.t_contact, m.t_release, 9)]
            assert max(gaps) < 0.09, (case.name, np.round(gaps, 3))
            assert max(gaps) - min(gaps) < 0.01, (case.name, np.round(gaps, 3))
            assert _hand_gap(ep, m.t_contact - 0.1) > max(gaps) + 0.03  # closing in before


def test_a_sprinters_pelvis_bobs_a_few_centimetres(side_sim):
    ep = side_sim.episodes[0]
    times = np.arange(ep.start, ep.motion.t_go, 0.004)
    hips = [LANDMARK_INDEX["left_hip"], LANDMARK_INDEX["right_hip"]]
    pelvis = np.array([bodies_at(ep, t).incoming[hips, 2].mean() for t in times])
    assert 0.03 <= np.ptp(pelvis) <= 0.08  # 5-8 cm measured in sprinting
    feet = [
        LANDMARK_INDEX[n]
        for n in ("left_heel", "right_heel", "left_foot_index", "right_foot_index")
    ]
    lowest = np.array([bodies_at(ep, t).incoming[feet, 2].min() for t in times])
    assert lowest.min() > -0.01  # never through the track
    assert np.mean(lowest < 0.02) > 0.2  # a foot is on the ground for part of every stride


def test_a_dropped_baton_falls_to_the_ground():
    sim = simulate(Scenario(exchanges=[ExchangeSpec(go_mark_m=12.6, dropped=True)]))
    ep = sim.episodes[0]
    late = bodies_at(ep, ep.motion.t_release + 1.0)
    assert late.holder == "none" and late.baton[:, 2].max() < 0.1
    label = sim.labels.exchanges[0]
    assert label.dropped and label.transfer_s is None and label.legal is None


@pytest.mark.parametrize(("passing", "receiving"), HAND_COMBOS)
def test_labels_carry_the_hands(passing, receiving):
    spec = ExchangeSpec(passing_hand=passing, receiving_hand=receiving, go_mark_m=12.6)
    label = simulate(Scenario(exchanges=[spec])).labels.exchanges[0]
    assert (label.passing_hand, label.receiving_hand) == (passing, receiving)
    assert label.same_hand == (passing == receiving)
    assert label.contact_start_s < label.transfer_s < label.release_s


def test_landmark_table_has_the_pose_stage_schema(side_sim):
    table = side_sim.landmarks
    lm.validate(table)
    assert list(table.columns) == list(lm.COLUMNS)
    assert dict(table.dtypes.astype(str)) == {c: d for c, d in lm.COLUMNS.items()}
    assert set(table.track_id.unique()) == {0, 1}
    assert table.attrs["frame_size"] == (1280, 720)  # as load_landmarks gives a tracked video's


def test_side_views_move_the_right_way_and_hide_the_far_side():
    for view, sign in (("side_stands", 1), ("side_infield", -1)):
        sim = simulate(Scenario(exchanges=[ExchangeSpec(go_mark_m=12.6)],
                                camera=CameraSpec(view=view)))  # fmt: skip
        hips = sim.landmarks[(sim.landmarks.track_id == 0) & (sim.landmarks.landmark == "left_hip")]
        assert np.sign(hips.x_px.iloc[-1] - hips.x_px.iloc[0]) == sign
        far = "left_hip" if view == "side_stands" else "right_hip"
        near = "right_hip" if view == "side_stands" else "left_hip"
        vis = sim.landmarks.groupby("landmark", observed=True).visibility.mean()
        assert vis[far] < vis[near]


def test_same_seed_same_clip():
    a = simulate(Scenario(seed=3, frame_time_jitter_s=0.004))
    b = simulate(Scenario(seed=3, frame_time_jitter_s=0.004))
    assert a.landmarks.equals(b.landmarks) and a.labels == b.labels
    assert np.all(np.diff(a.frame_times) > 0)


def test_a_pass_out_of_shot_is_not_labelled():
    # a narrow view framed on the first pass; the second pair meets metres further on
    specs = [ExchangeSpec(go_mark_m=12.6), ExchangeSpec(go_mark_m=6.0)]
    sim = simulate(Scenario(exchanges=specs, camera=CameraSpec(fov_deg=12)))
    assert [e.exchange_id for e in sim.labels.exchanges] == [0]
    assert sim.labels.exchanges[0].incoming_track_id == 0
    both = simulate(Scenario(exchanges=[specs[0], specs[0]], camera=CameraSpec(fov_deg=12)))
    assert [e.exchange_id for e in both.labels.exchanges] == [0, 1]


def test_a_zone_time_is_labelled_only_when_the_clip_films_both_crossings():
    spec = ExchangeSpec(go_mark_m=12.6, tail_s=4.0)
    long = simulate(Scenario(exchanges=[spec])).labels.exchanges[0]
    assert long.baton_zone_time_s is not None
    # the clip ends a moment after the release, the baton still metres inside the zone
    short = simulate(Scenario(exchanges=[spec.model_copy(update={"tail_s": 0.3})]))
    assert short.labels.exchanges[0].baton_release_position_m < 25.0
    assert short.labels.exchanges[0].baton_zone_time_s is None


def test_go_mark_solver_hits_the_speed_ratio():
    spec = ExchangeSpec()
    for ratio in (0.8, 0.9):
        go = go_mark_for(spec, ratio)
        label = simulate(Scenario(exchanges=[spec.model_copy(update={"go_mark_m": go})]))
        assert label.labels.exchanges[0].speed_ratio == pytest.approx(ratio, abs=0.02)


def test_too_late_and_too_early_starts_give_those_verdicts():
    spec = ExchangeSpec()
    matched = go_mark_for(spec, 0.88)
    late = simulate(Scenario(exchanges=[spec.model_copy(update={"go_mark_m": matched - 4})]))
    early = simulate(Scenario(exchanges=[spec.model_copy(update={"go_mark_m": matched + 4})]))
    assert late.labels.exchanges[0].speed_match == "too_late"
    assert early.labels.exchanges[0].speed_match == "too_early"


def test_corruptions_do_what_they_say(side_sim):
    clean = side_sim.landmarks
    jitter = corrupt(side_sim, Corruption(jitter=1.0), seed=1)
    assert len(jitter) == len(clean) and not np.allclose(jitter.x_px, clean.x_px)
    depth = corrupt(side_sim, Corruption(depth_jitter=1.0), seed=1)
    assert np.array_equal(depth.x_px, clean.x_px) and not np.allclose(depth.z, clean.z)
    heights = clean.groupby(["frame", "track_id"]).y_px.transform(np.ptp)
    assert 0.02 < np.median(np.abs(depth.z - clean.z) / heights) < 0.05
    dropped = corrupt(side_sim, Corruption(drop=1.0), seed=1)
    assert 0.7 * len(clean) < len(dropped) < 0.9 * len(clean)
    lm.validate(dropped)
    swapped = corrupt(side_sim, Corruption(id_swap=1.0), seed=1)
    label = side_sim.labels.exchanges[0]
    late = swapped[(swapped.frame > label.transfer_frame) & (swapped.landmark == "nose")]
    late_clean = clean[(clean.frame > label.transfer_frame) & (clean.landmark == "nose")]
    assert np.allclose(
        late[late.track_id == 0].x_px.to_numpy(),
        late_clean[late_clean.track_id == 1].x_px.to_numpy(),
    )
    coach = corrupt(side_sim, Corruption(spurious=1.0), seed=1)
    assert 90 in set(coach.track_id) and len(coach[coach.track_id == 90]) > 0
    missing = corrupt(side_sim, Corruption(missing=1.0), seed=1)
    assert len(missing) < len(clean)
    lr = corrupt(side_sim, Corruption(lr_swap=1.0), seed=1)
    assert not np.allclose(lr.x_px, clean.x_px) and np.isclose(lr.x_px.sum(), clean.x_px.sum())


def test_suites_span_hands_and_views_reproducibly():
    cases = suite_cases("corrupted", 20, seed=5)
    assert {tuple(c.scenario.tags["hands"].split("->")) for c in cases} == {
        ("R", "L"),
        ("L", "R"),
        ("R", "R"),
        ("L", "L"),
    }
    assert {c.scenario.camera.view for c in cases} == set(VIEWS)
    assert {c.level for c in cases} <= {"mild", "moderate", "heavy"}
    again = suite_cases("corrupted", 20, seed=5)
    assert [c.scenario for c in cases] == [c.scenario for c in again]


def test_labels_schema_doc_is_current():
    committed = (REPO / "docs" / "labels.schema.json").read_text()
    assert committed == labels_json_schema(), (
        "run 'handoff-cv synth schema > docs/labels.schema.json'"
    )


def test_cli_synth_clip_suite_and_figure(tmp_path):
    from typer.testing import CliRunner

    from handoff_cv.cli import app
    from handoff_cv.labels import ClipLabels

    runner = CliRunner()
    result = runner.invoke(app, ["synth", "clip", "-o", str(tmp_path / "c"), "--noise", "mild"])
    assert result.exit_code == 0, result.output
    assert ClipLabels.load(tmp_path / "c" / "labels.json").exchanges
    lm.validate(lm.load_landmarks(tmp_path / "c"))
    result = runner.invoke(
        app, ["synth", "suite", "clean", "-o", str(tmp_path / "s"), "--cases", "2"]
    )
    assert result.exit_code == 0 and len(list((tmp_path / "s").iterdir())) == 2
    result = runner.invoke(app, ["synth", "figure", "-o", str(tmp_path / "f.png")])
    assert result.exit_code == 0 and (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    bad = runner.invoke(app, ["synth", "clip", "-o", str(tmp_path / "x"), "--noise", "loud"])
    assert bad.exit_code != 0 and bad.output.startswith("error:")
