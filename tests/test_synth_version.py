"""Cached simulated and rendered cases are keyed on the simulator's own code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from handoff_cv.synth import version


@pytest.fixture
def package_copy(tmp_path: Path, monkeypatch) -> Path:
    real = Path(version.__file__).resolve().parents[1]
    copy = tmp_path / "handoff_cv"
    shutil.copytree(real / "synth", copy / "synth", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("exchange_rules.py", "labels.py"):
        shutil.copy(real / name, copy / name)
    monkeypatch.setattr(version, "_PACKAGE", copy)
    return copy


def _edit(path: Path) -> None:
    path.write_text(path.read_text() + "\n# changed\n")


def test_a_change_to_the_bodies_motion_changes_both_versions(package_copy: Path):
    before = version.simulator_version(), version.renderer_version()
    _edit(package_copy / "synth" / "scenario.py")
    after = version.simulator_version(), version.renderer_version()
    assert after[0] != before[0] and after[1] != before[1]


def test_a_change_to_the_label_rules_changes_both_versions(package_copy: Path):
    before = version.simulator_version(), version.renderer_version()
    _edit(package_copy / "exchange_rules.py")
    after = version.simulator_version(), version.renderer_version()
    assert after[0] != before[0] and after[1] != before[1]


def test_the_corruption_of_landmark_suites_does_not_re_render(package_copy: Path):
    before = version.simulator_version(), version.renderer_version()
    _edit(package_copy / "synth" / "corrupt.py")
    after = version.simulator_version(), version.renderer_version()
    assert after[0] != before[0]
    assert after[1] == before[1]


def test_the_versions_are_stable_and_short():
    assert version.simulator_version() == version.simulator_version()
    assert len(version.renderer_version()) == 10


def test_a_rendered_case_from_older_simulator_code_is_rendered_again(tmp_path: Path, monkeypatch):
    from handoff_cv.synth import rendered

    case = rendered.rendered_cases(1, seed=0)[0]
    (tmp_path / rendered.VIDEO_NAME).write_bytes(b"")
    (tmp_path / "case.json").write_text(json.dumps(rendered.case_record(case)))
    assert rendered.is_rendered(case, tmp_path)
    monkeypatch.setattr(rendered, "renderer_version", lambda: "0123456789")
    assert not rendered.is_rendered(case, tmp_path)
