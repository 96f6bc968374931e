"""The tracker keeps one identity per person, with a fake backend and drawn people."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from handoff_cv.geometry import Box, Crop, square_tiles
from handoff_cv.pose import Pose
from handoff_cv.settings import TrackingSettings
from handoff_cv.track import (
    FINE_SEARCH_EVERY,
    Track,
    TrackedPose,
    Tracker,
    follow_paths_through_crossings,
    paint_out,
    run_tracker,
    stitch_tracks,
    untangle_crossings,
)
from handoff_cv.video import Frame
from tests.fakes import ColourBoxBackend, Person, pose_in_box, render

SIZE = (640, 240)
FPS = 30
RED, BLUE, GREEN = (220, 30, 30), (30, 30, 220), (30, 200, 30)


def run(
    people: list[Person],
    seconds: float,
    roi: Box | None = None,
    backend: ColourBoxBackend | None = None,
    **settings,
):
    backend = backend or ColourBoxBackend([p.color for p in people])
    tracker = Tracker(
        backend, TrackingSettings(**settings), frame_size=SIZE, roi=roi, crop_scale=1.6
    )
    frames = (Frame(i, i / FPS, render(people, i / FPS, SIZE)) for i in range(int(seconds * FPS)))
    tracks = run_tracker(tracker, frames)
    return tracks, backend


def owner(track: Track, people: list[Person]) -> list[int]:
    """For each pose of the track, the index of the person whose box it sits on."""
    out = []
    for p in track.poses:
        cx, _cy = p.pose.box().center
        dists = []
        for person in people:
            box = person.box(p.time_s)
            dists.append(np.inf if box is None else abs(box[0] + box[2] / 2 - cx))
        out.append(int(np.argmin(dists)))
    return out


def test_incoming_runner_overtakes_outgoing_runner_ids_stay_stable():
    # Incoming (red) runs fast and passes the slower outgoing runner (blue), drawn behind
    # it: the boxes overlap for about half a second, as at a baton pass.
    people = [Person(BLUE, 250, 100, 60), Person(RED, 20, 110, 300)]
    tracks, backend = run(people, 2.0)
    assert len(tracks) == 2
    for track in tracks:
        owners = owner(track, people)
        assert len(set(owners)) == 1, f"track {track.track_id} switched person: {owners}"
    assert {owner(t, people)[0] for t in tracks} == {0, 1}
    assert backend.closed is False  # the tracker does not close a backend it was given


def test_identities_are_numbered_by_first_appearance():
    people = [Person(BLUE, 400, 100, 0, appears_s=0.5), Person(RED, 50, 100, 0)]
    tracks, _ = run(people, 1.5)
    assert [t.track_id for t in tracks] == [0, 1]
    assert owner(tracks[0], people)[0] == 1  # red came first


def test_someone_seen_briefly_gets_no_track():
    people = [Person(RED, 50, 100, 100), Person(GREEN, 500, 60, 0, appears_s=0.5, leaves_s=0.6)]
    tracks, _ = run(people, 1.5, min_track_s=0.3)
    assert len(tracks) == 1


def test_a_person_hidden_for_a_moment_keeps_their_identity():
    people = [Person(RED, 50, 100, 150, hidden=(0.6, 1.0)), Person(BLUE, 500, 100, 0)]
    tracks, _ = run(people, 2.0)
    assert len(tracks) == 2
    red = next(t for t in tracks if owner(t, people)[0] == 0)
    times = red.times
    assert times.min() < 0.2 and times.max() > 1.8
    assert not np.any((times > 0.62) & (times < 0.98))  # nothing invented while hidden


def test_region_of_interest_ignores_people_outside_it():
    people = [Person(RED, 50, 100, 0), Person(BLUE, 500, 100, 0)]
    tracks, _ = run(people, 1.0, roi=Box(0, 0, 300, 240))
    assert len(tracks) == 1 and owner(tracks[0], people)[0] == 0


def test_max_people_caps_the_number_followed():
    people = [Person(RED, 50, 100, 0), Person(BLUE, 250, 100, 0), Person(GREEN, 450, 100, 0)]
    tracks, _ = run(people, 1.0, max_people=2)
    assert len(tracks) == 2


def _piece(track_id: int, start: int, stop: int, x0: float, vx: float, colour: float):
    poses = [
        TrackedPose(f, f / FPS, track_id, pose_in_box(x0 + vx * f / FPS, 100, 30, 80))
        for f in range(start, stop)
    ]
    hist = np.zeros(48)
    hist[int(colour)] = 1.0
    return Track(track_id, poses, hist * len(poses))


def test_stitching_joins_pieces_of_one_person_and_not_of_two():
    a = _piece(0, 0, 30, 50, 100, colour=3)
    b = _piece(1, 36, 60, 50, 100, colour=3)  # same person after a 0.2 s gap
    c = _piece(2, 36, 60, 400, 0, colour=3)  # someone else, far away
    d = _piece(3, 36, 60, 90, 100, colour=20)  # near, but dressed otherwise
    joined = stitch_tracks([a, b, c, d], max_gap_s=1.0, max_appearance_distance=0.5)
    assert len(joined) == 3
    merged = next(t for t in joined if t.track_id == 0)
    assert len(merged.poses) == 54 and {p.track_id for p in merged.poses} == {0}


def test_stitching_respects_the_gap_limit():
    a = _piece(0, 0, 30, 50, 100, colour=3)
    b = _piece(1, 90, 120, 50, 100, colour=3)  # 2 s later
    assert len(stitch_tracks([a, b], max_gap_s=1.0, max_appearance_distance=0.5)) == 2


def _crossing_tracks(swap_at: int | None, same_kit: bool = False):
    """Two runners, red and blue, who pass close by each other around frame 20; when
    ``swap_at`` is given, the identities swap there (as a landmarker sliding over)."""
    red, blue = np.zeros(48), np.zeros(48)
    red[0], blue[0 if same_kit else 30] = 1.0, 1.0
    a, b = Track(0), Track(1)
    for f in range(40):
        xa, xb = 100 + 10 * f, 300 + 0.0 * f  # a runs past b, who waits
        pa = (pose_in_box(xa, 100, 50, 150), red)
        pb = (pose_in_box(xb, 100, 50, 150), blue)
        if swap_at is not None and f > swap_at:
            pa, pb = pb, pa
        a.poses.append(TrackedPose(f, f / 30, 0, pa[0], pa[1]))
        b.poses.append(TrackedPose(f, f / 30, 1, pb[0], pb[1]))
    return a, b


def test_untangle_crossings_gives_each_track_back_its_clothes():
    a, b = _crossing_tracks(swap_at=20)
    fixed = {t.track_id: t for t in untangle_crossings([a, b])}
    for track_id, colour_bin in ((0, 0), (1, 30)):
        assert all(p.appearance[colour_bin] == 1.0 for p in fixed[track_id].poses)
        xs = [p.pose.xy[23, 0] for p in fixed[track_id].poses]
        assert np.all(np.abs(np.diff(xs)) < 40), "each track follows one smooth path"


def test_untangle_crossings_leaves_clean_passages_and_same_kits_alone():
    a, b = _crossing_tracks(swap_at=None)
    fixed = untangle_crossings([a, b])
    assert [p.pose.xy[23, 0] for p in fixed[0].poses] == [p.pose.xy[23, 0] for p in a.poses]
    a, b = _crossing_tracks(swap_at=20, same_kit=True)  # no evidence to untangle
    fixed = untangle_crossings([a, b])
    assert [p.pose.xy[23, 0] for p in fixed[0].poses] == [p.pose.xy[23, 0] for p in a.poses]


def _flickering_tracks() -> tuple[Track, Track]:
    """Same kits (no colour evidence), a runs past b, who waits; while they are close the
    two landmarkers sit on each other's runner in some frames (both swapped), and in
    others both sit on one runner (one pose, in the wrong track)."""
    a, b = _crossing_tracks(swap_at=None, same_kit=True)
    pa, pb = {p.frame: p for p in a.poses}, {p.frame: p for p in b.poses}
    for f in (16, 17, 21, 23):
        pa[f], pb[f] = replace(pb[f], track_id=0), replace(pa[f], track_id=1)
    for f in (25, 26):  # b's landmarker on a's runner, a's pose dropped as its duplicate
        pb[f] = replace(pa[f], track_id=1)
        del pa[f]
    return Track(0, [pa[f] for f in sorted(pa)]), Track(1, [pb[f] for f in sorted(pb)])


def test_through_a_crossing_each_identity_keeps_the_path_it_was_on():
    a, b = _flickering_tracks()
    hip = pose_in_box(0, 100, 50, 150).xy[23, 0]
    off_path = [p.frame for p in a.poses if abs(p.pose.xy[23, 0] - 100 - 10 * p.frame - hip) > 1]
    assert off_path == [16, 17, 21, 23]
    fixed = {t.track_id: t for t in follow_paths_through_crossings([a, b])}
    runner_a = [100 + 10 * p.frame + hip for p in fixed[0].poses]
    assert np.allclose([p.pose.xy[23, 0] for p in fixed[0].poses], runner_a, atol=1)
    assert all(abs(p.pose.xy[23, 0] - 300 - hip) < 1 for p in fixed[1].poses), "b stays put"
    assert {25, 26} <= {p.frame for p in fixed[0].poses}, "the lone pose goes to its runner"
    assert {p.track_id for p in fixed[1].poses} == {1}


def test_a_clean_crossing_is_left_as_it_is():
    a, b = _crossing_tracks(swap_at=None, same_kit=True)
    lane = [replace(p, pose=p.pose.shifted(0, 30)) for p in b.poses]  # a lane nearer
    b = Track(1, lane)
    fixed = follow_paths_through_crossings([a, b])
    for before, after in zip((a, b), fixed, strict=True):
        assert [p.pose.xy[23, 0] for p in after.poses] == [p.pose.xy[23, 0] for p in before.poses]


class _NearSightedBackend(ColourBoxBackend):
    """Like a real detector that shrinks its input: people under a fifth of the image
    height are not found."""

    def detect(self, image: np.ndarray) -> list[Pose]:
        self.detect_calls += 1
        return [p for p in self._people(image) if p.box().height >= 0.2 * image.shape[0]]


def test_small_people_are_found_with_smaller_tiles_automatically():
    size = (1600, 900)
    people = [Person(RED, 300, 400, 40, width=40, height=120)]  # 13% of the frame height
    frames = [Frame(i, i / FPS, render(people, i / FPS, size)) for i in range(15)]
    for tile_px, found in ((0, True), (900, False)):
        backend = _NearSightedBackend([RED])
        tracker = Tracker(backend, TrackingSettings(detect_tile_px=tile_px), frame_size=size)
        tracks = run_tracker(tracker, iter(frames))
        assert bool(tracks) is found, tile_px


def test_leftover_poses_on_the_other_runner_after_a_crossing_are_dropped():
    """Two landmarkers ended on one runner: the lost track's last few poses, sitting on the
    other runner, are not kept as if they were its own person."""
    red, blue = np.zeros(48), np.zeros(48)
    red[0], blue[30] = 1.0, 1.0
    a, b = Track(0), Track(1)
    for f in range(40):
        pa = pose_in_box(100 + 10 * f, 100, 50, 150)
        a.poses.append(TrackedPose(f, f / 30, 0, pa, red))
        if f <= 22:
            b.poses.append(TrackedPose(f, f / 30, 1, pose_in_box(300, 100, 50, 150), blue))
        elif f in (25, 30):  # b's landmarker sits on a's runner
            b.poses.append(TrackedPose(f, f / 30, 1, pa, red))
    fixed = {t.track_id: t for t in untangle_crossings([a, b])}
    assert 30 not in [p.frame for p in fixed[1].poses]
    assert [p.frame for p in fixed[0].poses] == list(range(40)), "the runner keeps its track"


def test_while_someone_is_followed_the_small_tiles_are_searched_only_now_and_then():
    size = (1600, 900)
    people = [Person(RED, 300, 400, 40, width=40, height=120)]  # too small for a 900 px tile
    backend = _NearSightedBackend([RED])
    sides: list[int] = []
    detect = backend.detect
    backend.detect = lambda image: sides.append(image.shape[0]) or detect(image)
    # the search around the runner followed for someone behind them is another crop size
    tracker = Tracker(backend, TrackingSettings(search_behind=False), frame_size=size)
    frames = (Frame(i, i / FPS, render(people, i / FPS, size)) for i in range(3 * FPS))
    tracks = run_tracker(tracker, frames)
    assert len(tracks) == 1 and len(tracks[0].poses) >= 3 * FPS - 2  # followed throughout
    rounds = tracker.detections_run
    coarse_tiles, fine_tiles = len(square_tiles(*size, 900)), len(square_tiles(*size, 450))
    assert sides.count(900) == coarse_tiles * rounds  # the whole region every time
    fine_rounds = sides.count(450) / fine_tiles
    assert 1 <= fine_rounds <= rounds / 2  # not every time, as before
    assert fine_rounds <= rounds // FINE_SEARCH_EVERY + 1
    assert set(sides) == {900, 450}


def test_searches_are_left_out_while_nothing_new_moves():
    """One runner waits, another walks in at 1.5 s: with the motion gate the search runs
    at the start, every full interval and while the newcomer moves, and the newcomer is
    followed as soon as with a search every detect_interval_s."""
    people = [Person(RED, 300, 60, 0), Person(BLUE, -30, 70, 200, appears_s=1.5)]
    first_seen, searches = {}, {}
    for gate in (True, False):
        settings = TrackingSettings(search_on_motion=gate, full_search_interval_s=2.0)
        tracker = Tracker(ColourBoxBackend([RED, BLUE]), settings, frame_size=SIZE)
        frames = (Frame(i, i / FPS, render(people, i / FPS, SIZE)) for i in range(4 * FPS))
        tracks = run_tracker(tracker, frames)
        assert len(tracks) == 2
        first_seen[gate] = min(t.poses[0].time_s for t in tracks if owner(t, people)[0] == 1)
        searches[gate] = tracker.detections_run
    assert first_seen[True] <= first_seen[False] + 0.05
    assert searches[True] <= searches[False] / 2


def test_a_search_asked_for_by_motion_tries_small_tiles_only_where_it_moved():
    size = (1600, 900)
    walker = Person(RED, 100, 400, 300, width=40, height=120, appears_s=0.5)  # 13% tall
    frames = [Frame(i, i / FPS, render([walker], i / FPS, size)) for i in range(45)]
    backend = _NearSightedBackend([RED])
    tracker = Tracker(backend, TrackingSettings(), frame_size=size)
    tracker.step(frames[0])  # the first search covers the whole empty frame at every size
    whole = backend.detect_calls
    tracks = run_tracker(tracker, iter(frames[1:]))
    assert len(tracks) == 1 and tracks[0].poses[0].time_s <= 0.55  # found as it appeared
    assert tracker.detections_run == 2
    assert backend.detect_calls - whole <= whole / 2  # small tiles only around it


class SlidingBackend(ColourBoxBackend):
    """The first person's landmarker slides onto whoever else is in its crop during
    ``window`` (seconds), as MediaPipe's does onto the runner alongside at the pass."""

    def __init__(self, colours, window: tuple[float, float]) -> None:
        super().__init__(colours)
        self.window = window
        self.first_key: int | None = None

    def follow(self, key: int, image: np.ndarray, time_ms: int) -> Pose | None:
        if self.first_key is None:
            self.first_key = key
        if key == self.first_key and self.window[0] <= time_ms / 1000 < self.window[1]:
            others = ColourBoxBackend(self.colours[1:])._people(image)
            if others:
                self.last[key] = np.array(others[0].box().center) / image.shape[1::-1]
                return others[0]
        return super().follow(key, image, time_ms)


def test_a_landmarker_sliding_onto_the_other_runner_does_not_take_their_identity():
    """At the pass the outgoing runner's landmarker (the older identity) jumps onto the
    incoming runner beside them: the identity whose pose jumped loses the duplicate, not the
    younger one, so neither identity moves to the other runner."""
    people = [Person(BLUE, 300, 100, 60), Person(RED, 20, 110, 300, appears_s=0.5)]
    backend = SlidingBackend([p.color for p in people], window=(1.6, 1.7))
    tracker = Tracker(backend, TrackingSettings(), frame_size=SIZE, crop_scale=1.6)
    frames = (Frame(i, i / FPS, render(people, i / FPS, SIZE)) for i in range(int(2.2 * FPS)))
    tracks = run_tracker(tracker, frames)
    assert len(tracks) == 2
    for track in tracks:
        owners = owner(track, people)
        assert len(set(owners)) == 1, f"track {track.track_id} switched person: {owners}"


class _MergingBackend(ColourBoxBackend):
    """Like MediaPipe's pose detector, sees two people side by side as one (the first);
    a landmarker starting on a crop takes the person nearest the crop's centre; the
    corners of a box left around a painted-out pose are not a person."""

    def _people(self, image: np.ndarray) -> list[Pose]:
        whole = []
        for colour in self.colours:
            mask = np.all(image == colour, axis=-1)
            ys, xs = np.nonzero(mask)
            box_area = (np.ptp(xs) + 1) * (np.ptp(ys) + 1) if len(xs) else 0
            if len(xs) >= 40 and len(xs) >= 0.5 * box_area:
                whole += ColourBoxBackend([colour])._people(image)
        return whole

    def detect(self, image: np.ndarray) -> list[Pose]:
        self.detect_calls += 1
        people = self._people(image)
        if len(people) == 2 and people[0].distance(people[1]) < 1.0:
            return people[:1]
        return people

    def follow(self, key: int, image: np.ndarray, time_ms: int) -> Pose | None:
        if key not in self.last:
            centre = np.array(image.shape[1::-1]) / 2
            people = self._people(image)
            if people:
                nearest = min(people, key=lambda p: np.linalg.norm(p.box().center - centre))
                self.last[key] = np.array(nearest.box().center) / image.shape[1::-1]
        return super().follow(key, image, time_ms)


def test_a_runner_the_detector_merges_with_the_one_beside_is_found_behind_them():
    """Two runners side by side (end-on) are one detection: the search around the runner
    followed, with them painted out, finds the other; without it only one is followed."""
    people = [Person(RED, 300, 60, 20), Person(BLUE, 334, 64, 20)]
    found = {}
    for behind in (True, False):
        tracks, _ = run(people, 2, backend=_MergingBackend([RED, BLUE]), search_behind=behind)
        found[behind] = sorted(owner(t, people)[0] for t in tracks)
        for track in tracks:
            assert len(set(owner(track, people))) == 1
    assert found == {True: [0, 1], False: [0]}


class _MarginBackend(ColourBoxBackend):
    """Like MediaPipe's landmarker: on its first frame it must find the person with its own
    detector, which misses someone filling more than half the crop's height; once it
    follows someone it keeps them at any size. Records each landmarker's crop sides."""

    def __init__(self, colours) -> None:
        super().__init__(colours)
        self.crops: dict[int, list[int]] = {}

    def follow(self, key: int, image: np.ndarray, time_ms: int) -> Pose | None:
        self.crops.setdefault(key, []).append(image.shape[0])
        if key not in self.last:
            people = self._people(image)
            if not people or max(p.box().height for p in people) > 0.5 * image.shape[0]:
                return None
        return super().follow(key, image, time_ms)


def test_someone_new_is_followed_in_a_wider_crop_until_confirmed():
    """With ``confirm_apart`` a person just found is followed in a crop with room around
    them until confirmed (with the followed runners' 1.6 body heights they fill too much of
    it to be found), then in the usual crop; without it they are never followed."""
    people = [Person(RED, 100, 60, 90, height=80)]
    found = {}
    for apart in (True, False):
        tracks, backend = run(people, 2, backend=_MarginBackend([RED]), confirm_apart=apart)
        found[apart] = [t.duration_s for t in tracks]
        if apart:
            sides = next(iter(backend.crops.values()))
            assert sides[0] >= 2.2 * 80 and sides[-1] <= 1.7 * 80
    assert len(found[True]) == 1 and found[True][0] > 1.5
    assert found[False] == []


class _LargestFirstMergingBackend(_MergingBackend):
    """Sees two people side by side as one, and a landmarker starting on a crop takes the
    largest person in it, as MediaPipe takes the person in plain view."""

    def follow(self, key: int, image: np.ndarray, time_ms: int) -> Pose | None:
        return ColourBoxBackend.follow(self, key, image, time_ms)


def test_someone_found_behind_a_runner_is_followed_with_that_runner_painted_out():
    """With ``confirm_apart`` the runner found behind another (only with that one painted
    out) is followed with the runners already followed painted out until confirmed. On the
    plain crop the landmarker takes the runner in front, and the newcomer's identity is
    dropped as a duplicate or takes the wrong runner."""
    people = [Person(RED, 300, 60, 20, height=80), Person(BLUE, 334, 70, 20, height=66)]
    found = {}
    for apart in (True, False):
        backend = _LargestFirstMergingBackend([RED, BLUE])
        tracks, _ = run(people, 2, backend=backend, confirm_apart=apart)
        found[apart] = sorted(owner(t, people)[0] for t in tracks)
        if apart:
            for track in tracks:
                assert len(set(owner(track, people))) == 1
    assert found[True] == [0, 1]
    assert found[False] != [0, 1]


class _PlainViewBackend(_MergingBackend):
    """Sees two people side by side as one, and every landmarker takes the largest person
    in its crop, as MediaPipe's slides onto the runner in plain view."""

    def follow(self, key: int, image: np.ndarray, time_ms: int) -> Pose | None:
        self.follow_calls += 1
        people = self._people(image)
        return max(people, key=lambda p: p.box().area) if people else None


def test_someone_found_beside_a_runner_stays_apart_from_them_once_confirmed():
    """With ``confirm_apart`` the runner found behind another keeps being followed with that
    runner painted out after confirmation too: on the plain crop their landmarker takes the
    runner in front, the identity ends soon after each confirmation, and the runner behind
    is seen only in the frames between being found again and confirmed."""
    people = [Person(RED, 300, 60, 20, height=80), Person(BLUE, 334, 70, 20, height=66)]
    tracks, _ = run(people, 3, backend=_PlainViewBackend([RED, BLUE]), confirm_apart=True)
    seen = {}
    for track in tracks:
        who = owner(track, people)
        assert len(set(who)) == 1
        seen[who[0]] = len(track.poses) / (track.duration_s * FPS + 1)
    assert sorted(seen) == [0, 1]
    assert seen[1] > 0.9


def test_painting_out_another_runner_leaves_the_own_arms_in_view():
    """At the pass the hands meet inside the other runner's outline: painted over with it,
    the landmarker following the receiver loses the arm that takes the baton."""
    crop = Crop(100, 50, 120)
    image = np.full((120, 120, 3), 90, np.uint8)
    image[:, :, 0] = np.arange(120, dtype=np.uint8)[None, :] + 60  # not the median colour
    other = pose_in_box(130, 70, 60, 100)  # frame pixels, inside the crop
    arm = np.array([[120.0, 100.0], [160.0, 110.0], [185.0, 115.0]])
    plain = paint_out(image, crop, [other])
    kept = paint_out(image, crop, [other], keep=([arm], 100.0))
    on_arm = (110 - 50, 160 - 100)  # (row, col) in the crop, on the elbow
    inside = (130 - 50, 170 - 100)  # inside the other's outline, away from the arm
    assert not np.array_equal(plain[on_arm], image[on_arm])
    assert np.array_equal(kept[on_arm], image[on_arm])
    assert np.array_equal(kept[inside], plain[inside])
    assert not np.array_equal(kept[inside], image[inside])
