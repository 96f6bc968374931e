"""Rendered cases: the end-to-end suite and the committed sample videos.

A rendered case folder holds ``video.mp4`` (what the pipeline analyses), ``labels.json``
(the answers), ``truth.parquet`` (the runners' true 2D landmarks, for identity checks) and
``case.json`` (the scenario and the look, enough to render it again).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handoff_cv import landmarks as lm
from handoff_cv.labels import ClipLabels
from handoff_cv.outputs import atomic_path, prepare_folder, staged_output, write_text_atomic
from handoff_cv.synth.render import (
    Look,
    RenderSpec,
    baton_truth,
    pose_bodies,
    render_clip,
)
from handoff_cv.synth.scenario import CameraSpec, ExchangeSpec, Scenario, go_mark_for, simulate
from handoff_cv.synth.suites import HAND_COMBOS, VIEWS, sample_exchange
from handoff_cv.synth.version import renderer_version

VIDEO_NAME = "video.mp4"
BATON_TRUTH_NAME = "baton_truth.parquet"
SHIRTS = [
    (200, 30, 40),
    (30, 90, 200),
    (20, 140, 60),
    (240, 200, 30),
    (120, 40, 150),
    (240, 120, 20),
    (240, 240, 240),
    (20, 20, 20),
]
SKINS = [(235, 195, 165), (200, 150, 115), (160, 110, 80), (110, 70, 50), (80, 55, 40)]
BATONS = [(250, 200, 0), (250, 120, 0), (220, 30, 30), (30, 120, 230), (40, 180, 60)]


@dataclass(frozen=True)
class RenderCase:
    name: str
    scenario: Scenario
    render: RenderSpec


def _look(rng: np.random.Generator, shirt: tuple[int, int, int]) -> Look:
    return Look(
        gender=float(rng.choice([0.0, 1.0])),
        muscle=float(rng.uniform(0.55, 0.85)),
        weight=float(rng.uniform(0.3, 0.5)),
        skin=SKINS[int(rng.integers(len(SKINS)))],
        shirt=shirt,
        shorts=tuple(int(v) for v in rng.integers(10, 80, 3)),
        shoes=SHIRTS[int(rng.integers(len(SHIRTS)))],
    )


def sample_render(rng: np.random.Generator) -> RenderSpec:
    """Looks, baton colour, light and blur for one clip (the two runners wear different
    shirts, as in practice or in a race between teams' legs)."""
    shirts = rng.choice(len(SHIRTS), 2, replace=False)
    return RenderSpec(
        incoming=_look(rng, SHIRTS[shirts[0]]),
        outgoing=_look(rng, SHIRTS[shirts[1]]),
        baton=BATONS[int(rng.integers(len(BATONS)))],
        light_azimuth_deg=float(rng.uniform(0, 360)),
        light_elevation_deg=float(rng.uniform(25, 75)),
        ambient=float(rng.uniform(0.35, 0.6)),
        exposure=float(rng.uniform(0.85, 1.15)),
        blur_px=float(rng.uniform(0.3, 1.2)),
        motion_blur_px=int(rng.choice([0, 0, 3, 5])),
        noise=float(rng.uniform(1.0, 4.0)),
        seed=int(rng.integers(2**31)),
    )


def sample_phone_camera(rng: np.random.Generator, view: str) -> CameraSpec:
    """A phone or camcorder framed on the pass: closer than the meet cameras of the
    landmark suites, as a coach films practice."""
    distance = {
        "side_stands": (7, 14),
        "side_infield": (7, 14),
        "oblique": (9, 16),
        "end_behind": (14, 24),
        "end_front": (14, 24),
    }[view]
    # a phone's main lens (about 65 degrees across), zoomed in for end-on views
    fov = float(rng.uniform(45, 70)) if view.startswith(("side", "oblique")) else None
    return CameraSpec(
        view=view,
        distance_m=float(rng.uniform(*distance)),
        fov_deg=fov,
        height_m=float(rng.uniform(1.3, 4.0)),
        pan=bool(view.startswith("side") and rng.random() < 0.25),
        width=1280,
        height=720,
        fps=float(rng.choice([30, 50, 60], p=[0.5, 0.2, 0.3])),
    )


def rendered_cases(n: int, seed: int = 0) -> list[RenderCase]:
    """``n`` rendered cases cycling hands x views, sprint and 4x400 speeds."""
    rng = np.random.default_rng([seed, 7])
    cases = []
    for i in range(n):
        hands = HAND_COMBOS[i % 4]
        view = VIEWS[(i // 4) % len(VIEWS)]
        relay = "4x400" if rng.random() < 0.25 else "4x100"
        spec = sample_exchange(rng, relay, hands).model_copy(
            update={"lead_s": float(rng.uniform(0.5, 1.0)), "tail_s": float(rng.uniform(0.6, 1.0))}
        )
        camera = sample_phone_camera(rng, view)
        name = f"rendered_{i:04d}"
        tags = {
            "suite": "rendered",
            "view": view,
            "relay": relay,
            "fps": camera.fps,
            "hands": f"{hands[0][0].upper()}->{hands[1][0].upper()}",
            "pan": camera.pan,
        }
        scenario = Scenario(
            name=name, exchanges=[spec], camera=camera, seed=int(rng.integers(2**31)), tags=tags
        )
        cases.append(RenderCase(name, scenario, sample_render(rng)))
    return cases


def case_record(case: RenderCase) -> dict:
    """What ``case.json`` holds: enough to render the case again, and to tell whether a
    folder already holds this very case from this renderer."""
    return {
        "renderer": renderer_version(),
        "scenario": case.scenario.model_dump(mode="json"),
        "render": case.render.model_dump(mode="json"),
    }


def is_rendered(case: RenderCase, folder: Path) -> bool:
    record = Path(folder) / "case.json"
    if not (Path(folder) / VIDEO_NAME).is_file() or not record.is_file():
        return False
    return json.loads(record.read_text()) == json.loads(json.dumps(case_record(case)))


def write_rendered_case(case: RenderCase, folder: Path) -> Path:
    """Render ``case`` into ``folder`` atomically (video, labels, true landmarks, case)."""
    with staged_output(folder) as staging:
        posed = render_clip(case.scenario, case.render, staging / VIDEO_NAME)
        sim = posed.sim
        sim.labels.save(staging / "labels.json")
        lm.write_parquet(sim.landmarks, staging / "truth.parquet", _meta(sim, case.name))
        baton_truth(posed).to_parquet(staging / BATON_TRUTH_NAME, index=False)
        write_text_atomic(staging / "case.json", json.dumps(case_record(case), indent=2) + "\n")
    return folder


def ensure_baton_truth(case: RenderCase, folder: Path) -> Path:
    """The case's per-frame baton truth (who holds it, where, how much is in view), made
    without re-rendering for folders rendered before it was kept."""
    path = Path(folder) / BATON_TRUTH_NAME
    if not path.is_file():
        posed = pose_bodies(simulate(case.scenario), case.render)
        with atomic_path(path) as tmp:
            baton_truth(posed).to_parquet(tmp, index=False)
    return path


def _meta(sim, name: str) -> dict:
    labels = sim.labels
    return {
        "video": name,
        "width": labels.width,
        "height": labels.height,
        "fps": labels.fps,
        "slowmo_factor": 1.0,
        "simulated": True,
    }


def write_rendered_suite(
    out: Path, n: int, seed: int = 0, progress: Callable[[int, int], None] | None = None
) -> list[Path]:
    """Render ``n`` cases under ``out``; cases already rendered are kept."""
    done = []
    cases = rendered_cases(n, seed)
    for i, case in enumerate(cases, start=1):
        folder = Path(out) / case.name
        if not is_rendered(case, folder):
            write_rendered_case(case, folder)
        done.append(folder)
        if progress:
            progress(i, len(cases))
    return done


# ---------------------------------------------------------------------- samples
def _sample(
    name: str, passing: str, receiving: str, relay: str = "4x100", view: str = "side_stands", **spec
) -> RenderCase:
    sprint = relay != "4x400"
    exchange = ExchangeSpec(
        relay=relay,
        passing_hand=passing,
        receiving_hand=receiving,
        pass_style="blind" if sprint else "visual",
        incoming_speed_mps=10.0 if sprint else 7.5,
        outgoing_speed_mps=10.2 if sprint else 7.8,
        incoming_fade_mps2=0.2 if sprint else 0.6,
        lead_s=0.6,
        tail_s=0.7,
        **spec,
    )
    exchange = exchange.model_copy(update={"go_mark_m": go_mark_for(exchange, 0.88)})
    camera = CameraSpec(
        view=view, distance_m=10.0, height_m=1.6, fov_deg=65.0, fps=30.0, width=960, height=540
    )
    scenario = Scenario(name=name, exchanges=[exchange], camera=camera, tags={"sample": True})
    rng = np.random.default_rng(len(name))
    return RenderCase(name, scenario, sample_render(rng).model_copy(update={"crf": 26}))


SAMPLES: dict[str, Callable[[], RenderCase]] = {
    "blind_right_to_left": lambda: _sample("blind_right_to_left", "right", "left"),
    "blind_left_to_right": lambda: _sample(
        "blind_left_to_right", "left", "right", view="side_infield"
    ),
    "same_hand_right_to_right": lambda: _sample("same_hand_right_to_right", "right", "right"),
    "visual_4x400": lambda: _sample("visual_4x400", "right", "left", relay="4x400", view="oblique"),
}


def write_samples(folder: Path) -> Iterator[Path]:
    """Render the sample clips into ``folder``: NAME.mp4, NAME.labels.json, NAME.toml (the
    settings to analyse it: relay and zone calibration) and NAME.truth.parquet (the true
    landmarks, so ``evaluate`` can map track ids), each written atomically."""
    folder = prepare_folder(Path(folder))
    for name, make in SAMPLES.items():
        case = make()
        video = folder / f"{name}.mp4"
        posed = render_clip(case.scenario, case.render, video)
        sim = posed.sim
        baton_truth(posed).to_parquet(folder / f"{name}.{BATON_TRUTH_NAME}", index=False)
        sim.labels.save(folder / f"{name}.labels.json")
        write_sample_settings(sim.labels, folder / f"{name}.toml", case.render.baton)
        lm.write_parquet(sim.landmarks, folder / f"{name}.truth.parquet", _meta(sim, name))
        yield video


def write_sample_settings(
    labels: ClipLabels, path: Path, baton: tuple[int, int, int] | None = None
) -> None:
    """The settings file a coach would keep for this camera set-up: the relay, the zone's
    corners in the image and the team's baton colour."""
    from handoff_cv.baton import nearest_colour_name
    from handoff_cv.evaluate import settings_from_labels

    settings = settings_from_labels(labels)
    if baton is not None:
        settings = settings.with_overrides({"baton.colour": nearest_colour_name(baton)})
    header = (
        f"# Settings for {labels.clip}.mp4: its relay, exchange-zone calibration and baton "
        "colour.\n"
    )
    write_text_atomic(path, header + settings.to_toml())
