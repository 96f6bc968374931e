"""Bad input: a one-line error, a non-zero exit, no traceback, no half-written output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from handoff_cv.cli import app
from tests.conftest import moving_square_frames

runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, list(args), env={"COLUMNS": "400"})
    return result


def assert_one_line_error(result, *needles: str, code: int | None = None) -> None:
    assert result.exit_code != 0
    if code is not None:
        assert result.exit_code == code, result.output
    text = result.output.strip()
    assert ("Traceback" not in text and result.exception is None) or isinstance(
        result.exception, SystemExit
    )
    assert text.startswith("error:") and len(text.splitlines()) == 1, text
    for needle in needles:
        assert needle in text, text


def assert_no_output(folder: Path) -> None:
    assert not (folder / "landmarks.parquet").exists()
    assert not (folder / "run.json").exists()
    assert not list(folder.glob(".partial-*")) if folder.exists() else True


def test_version_and_help():
    assert "handoff-cv" in run("--version").output
    result = run("--help")
    assert result.exit_code == 0 and "track" in result.output and "models" in result.output


def test_missing_video(tmp_path):
    assert_one_line_error(run("track", str(tmp_path / "x.mp4"), "-o", str(tmp_path / "o")),
                          "video not found", code=2)  # fmt: skip
    assert_no_output(tmp_path / "o")


def test_not_a_video(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x01garbage" * 1000)
    assert_one_line_error(run("track", str(path), "-o", str(tmp_path / "o")), "not a video file")
    assert_no_output(tmp_path / "o")


def test_zero_decodable_frames(make_video, tmp_path):
    whole = make_video("w.mkv", frames=moving_square_frames(30), codec="mpeg4")
    head = tmp_path / "head.mkv"
    head.write_bytes(whole.read_bytes()[:300])
    assert_one_line_error(run("track", str(head), "-o", str(tmp_path / "o")))
    assert_no_output(tmp_path / "o")


def test_nobody_in_the_video(make_video, tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(10)]
    video = make_video("noise.mp4", frames=frames)
    assert_one_line_error(run("track", str(video), "-o", str(tmp_path / "o")), "no person")
    assert_no_output(tmp_path / "o")


def test_output_folder_that_cannot_be_written(make_video, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("track", str(make_video()), "-o", str(blocker / "out"))
    assert_one_line_error(result, "cannot write to the output folder")


def test_output_path_is_a_file(make_video, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_one_line_error(run("track", str(make_video()), "-o", str(blocker)), "not a folder")


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--tracking-max-people", "0", "tracking.max_people"),
        ("--video-roi", "1,2,3", "video.roi"),
        ("--pose-model", "medium", "unknown pose model"),
    ],
)
def test_bad_option_values(make_video, tmp_path, option, value, needle):
    result = run("track", str(make_video()), "-o", str(tmp_path / "o"), option, value)
    assert_one_line_error(result, needle)
    assert_no_output(tmp_path / "o")


def test_roi_from_a_zone_that_is_not_given(make_video, tmp_path):
    result = run("track", str(make_video()), "-o", str(tmp_path / "o"), "--video-roi-from-zone")
    assert_one_line_error(result, "zone's corners")
    assert_no_output(tmp_path / "o")


def test_bad_config_file(make_video, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[tracking\n")
    result = run("track", str(make_video()), "-o", str(tmp_path / "o"), "-c", str(cfg))
    assert_one_line_error(result, "not valid TOML")
