"""The public API researchers use from notebooks: everything through `import handoff_cv`."""

from __future__ import annotations

import handoff_cv as hcv


def test_every_public_name_resolves():
    for name in hcv.__all__:
        assert getattr(hcv, name) is not None, name


def test_simulate_analyse_write_and_load_back_as_dataframes(tmp_path):
    sim = hcv.simulate(hcv.Scenario(name="api", exchanges=[hcv.ExchangeSpec(go_mark_m=12.6)]))
    settings = hcv.settings_from_labels(sim.labels)
    result = hcv.analyze_landmarks(sim.landmarks, settings, clip="api")
    hcv.write_analysis_outputs(result, settings, tmp_path / "out")
    exchanges = hcv.load_exchanges(tmp_path / "out")
    assert list(exchanges["clip"]) == ["api"]
    assert exchanges.loc[0, "passing_hand"] == sim.labels.exchanges[0].passing_hand
    kin = hcv.load_kinematics(tmp_path / "out")
    assert {"track_id", "time_s", "speed_mps", "clip"} <= set(kin.columns)
    assert set(kin["track_id"]) == {0, 1}
    rows = hcv.evaluate({"api": result.exchanges}, {"api": sim.labels})
    assert hcv.summarise(rows).iloc[0]["hands_correct"] == 1.0


def test_evaluate_stays_the_function_after_its_module_is_imported():
    import handoff_cv.evaluate  # noqa: F401  (what any other import may do first)

    assert callable(hcv.evaluate)
