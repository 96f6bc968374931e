"""The baton and camera-motion stages run beside the tracker, in order, and their errors
are not lost."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from handoff_cv.pipeline import SideStages
from handoff_cv.video import Frame
from tests.fakes import pose_in_box


class _Recorder:
    """Stands for both stages: records what it is fed, and in which thread."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.seen: list[tuple[int, int]] = []
        self.threads: set[str] = set()
        self.fail_at = fail_at

    def observe(self, index, time_s, image, people) -> None:
        if index == self.fail_at:
            raise RuntimeError(f"broken at frame {index}")
        self.seen.append((index, len(people)))
        self.threads.add(threading.current_thread().name)


def _frames(n: int):
    image = np.zeros((8, 8, 3), np.uint8)
    return [Frame(i, i / 30, image) for i in range(n)]


def test_side_stages_see_every_frame_in_order_off_the_main_thread():
    finder, motion = _Recorder(), _Recorder()
    side = SideStages(finder, motion)  # type: ignore[arg-type]
    for frame in _frames(40):
        side.observe(frame, [pose_in_box(0, 0, 4, 8)] * (frame.index % 3))
    side.finish()
    side.close()
    expected = [(i, i % 3) for i in range(40)]
    assert finder.seen == expected and motion.seen == expected
    assert threading.current_thread().name not in finder.threads | motion.threads
    assert side.seconds["baton"] > 0 and side.seconds["camera_motion"] > 0


def test_an_error_in_a_side_stage_reaches_the_caller():
    side = SideStages(_Recorder(fail_at=5), None)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="broken at frame 5"):
        for frame in _frames(40):
            side.observe(frame, [])
        side.finish()
    side.close()
