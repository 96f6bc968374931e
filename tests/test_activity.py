"""The search gate: motion that no followed person explains, with drawn frames."""

from __future__ import annotations

import itertools

import numpy as np

from handoff_cv.activity import SearchGate, Thumbnail, moving_regions
from handoff_cv.geometry import Box

SIZE = (1280, 720)
REGION = Box(0, 0, *SIZE)


def scene(*people: tuple[float, float], shift: int = 0) -> np.ndarray:
    """A textured still background (shifted by ``shift`` px, as a panning camera would) and
    people as bright 40x120 px figures at the given top-left corners."""
    rng = np.random.default_rng(0)
    texture = rng.integers(40, 120, size=(SIZE[1] // 16, SIZE[0] // 16 + 8), dtype=np.uint8)
    background = np.kron(texture, np.ones((16, 16), np.uint8))[:, shift : shift + SIZE[0]]
    image = np.repeat(background[:, :, None], 3, axis=2).copy()
    for x, y in people:
        image[round(y) : round(y) + 120, round(x) : round(x) + 40] = (250, 240, 60)
    return image


def regions(before: np.ndarray, after: np.ndarray, explained: list[Box]) -> list[Box] | None:
    return moving_regions(
        Thumbnail.of(before), Thumbnail.of(after), explained, region=REGION, min_height_px=120
    )


def test_a_new_person_moving_is_found_where_they_are():
    found = regions(scene((100, 300)), scene((160, 300)), [])
    assert found is not None and len(found) == 1
    box = found[0]
    assert box.x0 <= 110 and box.x1 >= 190 and box.y0 <= 310 and box.y1 >= 410


def test_motion_of_the_people_followed_is_explained():
    followed = [Box(100, 300, 140, 420), Box(160, 300, 200, 420)]  # then and now
    assert regions(scene((100, 300)), scene((160, 300)), followed) == []


def test_a_still_scene_has_no_motion_and_a_pan_is_motion_everywhere():
    assert regions(scene((500, 300)), scene((500, 300)), []) == []
    assert regions(scene((500, 300)), scene((500, 300), shift=48), []) is None


def searches(newcomer_s: float | None, seconds: float = 4.5) -> list[float]:
    """When a gate asks for a search, with one person standing (followed) and someone new
    walking in from the left at ``newcomer_s``; 30 fps, a 0.25 s search interval."""
    gate = SearchGate(full_search_interval_s=2.0)
    standing = Box(500, 300, 540, 420)
    asked, last = [], -1.0
    for i in range(round(seconds * 30)):
        t = i / 30
        people = [(500, 300)]
        if newcomer_s is not None and t >= newcomer_s:
            people.append((20 + 300 * (t - newcomer_s), 300))
        gate.observe(scene(*people), t, [standing])
        if gate.due(REGION, since_s=t - last, interval_s=0.25):
            asked.append(round(t, 2))
            last = t
    return asked


def test_nothing_new_moving_searches_only_every_full_interval():
    assert searches(None) == [0.0, 2.0, 4.0]


def test_someone_new_moving_is_searched_for_at_once_and_twice_as_often():
    asked = searches(1.5, seconds=3.0)
    assert asked[0] == 0.0
    assert 1.5 <= asked[1] <= 1.6  # within a few frames of appearing
    gaps = [b - a for a, b in itertools.pairwise(asked[1:])]
    assert gaps and max(gaps) < 0.2  # every half interval (0.125 s, frames of 33 ms)
