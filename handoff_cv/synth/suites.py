"""Seeded benchmark suites of simulated exchanges, and how a case is stored on disk.

A case folder holds ``landmarks.parquet`` (the pose stage's table, possibly corrupted),
``labels.json`` (the truth) and ``case.json`` (the scenario and corruption that made it, so
it can be regenerated exactly). ``handoff-cv synth suite clean -o DIR`` writes a suite.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handoff_cv import landmarks as lm
from handoff_cv.camera_motion import MOTION_TABLE
from handoff_cv.labels import ClipLabels
from handoff_cv.outputs import staged_output, write_text_atomic
from handoff_cv.synth.corrupt import Corruption, corrupt
from handoff_cv.synth.scenario import CameraSpec, ExchangeSpec, Scenario, go_mark_for, simulate

SUITES = ("clean", "corrupted")
HAND_COMBOS = (("right", "left"), ("left", "right"), ("right", "right"), ("left", "left"))
VIEWS = ("side_stands", "side_infield", "oblique", "end_behind", "end_front")


@dataclass(frozen=True)
class Case:
    name: str
    scenario: Scenario
    corruption: Corruption
    level: str


def sample_exchange(rng: np.random.Generator, relay: str, hands: tuple[str, str]) -> ExchangeSpec:
    """A plausible exchange: sprint or 4x400 speeds, and a go mark that gives a matched pass,
    or one deliberately too early or too late."""
    sprint = relay != "4x400"
    spec = ExchangeSpec(
        relay=relay,
        passing_hand=hands[0],
        receiving_hand=hands[1],
        pass_type=str(rng.choice(["upsweep", "downsweep", "push"])),
        pass_style="blind" if sprint else "visual",
        incoming_speed_mps=rng.uniform(9.0, 11.0) if sprint else rng.uniform(6.5, 8.0),
        incoming_fade_mps2=rng.uniform(0.0, 0.3) if sprint else rng.uniform(0.2, 0.8),
        outgoing_speed_mps=rng.uniform(9.3, 11.2) if sprint else rng.uniform(7.0, 8.5),
        outgoing_tau_s=rng.uniform(0.95, 1.25) if sprint else rng.uniform(1.1, 1.6),
        reaction_s=rng.uniform(0.1, 0.25),
        outgoing_start_m=rng.uniform(0.0, 3.0),
        free_distance_m=rng.uniform(1.0, 1.45),
        contact_s=rng.uniform(0.1, 0.25),
        transfer_fraction=rng.uniform(0.45, 0.55),
        incoming_height_m=rng.uniform(1.62, 1.95),
        outgoing_height_m=rng.uniform(1.62, 1.95),
        lead_s=rng.uniform(0.6, 1.6),
        tail_s=rng.uniform(0.8, 1.5),
    )
    matched = go_mark_for(spec, rng.uniform(0.8, 0.93) if sprint else rng.uniform(0.75, 0.9))
    kind = rng.choice(["matched", "late", "early"], p=[0.7, 0.15, 0.15])
    shift = {"matched": 0.0, "late": -rng.uniform(2.0, 4.0), "early": rng.uniform(1.5, 3.5)}[kind]
    return spec.model_copy(update={"go_mark_m": max(2.0, matched + shift)})


def sample_camera(rng: np.random.Generator, view: str) -> CameraSpec:
    side = view.startswith("side")
    width, height = [(1280, 720), (1920, 1080), (3840, 2160)][rng.choice(3, p=[0.45, 0.45, 0.1])]
    return CameraSpec(
        view=view,
        distance_m=rng.uniform(12, 35) if view != "oblique" else rng.uniform(15, 30),
        height_m=rng.uniform(1.5, 8.0),
        pan=bool(side and rng.random() < 0.3),
        width=width,
        height=height,
        fps=float(rng.choice([25, 30, 50, 60, 120, 240], p=[0.15, 0.35, 0.15, 0.2, 0.1, 0.05])),
    )


def suite_cases(suite: str, n: int, seed: int = 0) -> list[Case]:
    """``n`` cases of ``suite`` (clean or corrupted) spanning hands x views x speeds."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}")
    rng = np.random.default_rng([seed, SUITES.index(suite)])
    cases = []
    for i in range(n):
        hands = HAND_COMBOS[i % 4]
        view = VIEWS[(i // 4) % len(VIEWS)]
        relay = "4x400" if rng.random() < 0.25 else "4x100"
        exchanges = [sample_exchange(rng, relay, hands)]
        if rng.random() < 0.15:
            exchanges[0] = exchanges[0].model_copy(
                update={"hand_switch_after_s": rng.uniform(0.4, 0.9)}
            )
        if rng.random() < 0.03:
            exchanges[0] = exchanges[0].model_copy(update={"dropped": True})
        if rng.random() < 0.05:
            exchanges.append(sample_exchange(rng, relay, HAND_COMBOS[int(rng.integers(4))]))
        level = "clean" if suite == "clean" else str(rng.choice(["mild", "moderate", "heavy"]))
        name = f"{suite}_{i:04d}"
        camera = sample_camera(rng, view)
        tags = {"suite": suite, "view": view, "noise": level, "relay": relay,
                "hands": f"{hands[0][0].upper()}->{hands[1][0].upper()}",
                "fps": camera.fps, "pan": camera.pan}  # fmt: skip
        scenario = Scenario(name=name, exchanges=exchanges, camera=camera,
                            seed=int(rng.integers(2**31)), tags=tags)  # fmt: skip
        cases.append(Case(name, scenario, Corruption.level(level), level))
    return cases


def write_case(case: Case, folder: Path) -> Path:
    """Simulate ``case`` and write its folder atomically."""
    sim = simulate(case.scenario)
    table = corrupt(sim, case.corruption, seed=case.scenario.seed)
    meta = {"video": case.name, "width": sim.labels.width, "height": sim.labels.height,
            "fps": sim.labels.fps, "slowmo_factor": 1.0, "simulated": True}  # fmt: skip
    with staged_output(folder) as staging:
        lm.write_parquet(table, staging / "landmarks.parquet", meta)
        sim.labels.save(staging / "labels.json")
        if case.scenario.camera.pan:  # what a perfect camera-motion estimate gives
            sim.camera_motion().to_parquet(staging / MOTION_TABLE, index=False)
        record = {"scenario": case.scenario.model_dump(mode="json"),
                  "corruption": case.corruption.model_dump(), "level": case.level}  # fmt: skip
        write_text_atomic(staging / "case.json", json.dumps(record, indent=2) + "\n")
    return folder


def write_suite(
    suite: str,
    out: Path,
    n: int,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write ``n`` cases of ``suite`` under ``out``; cases already written are kept."""
    done = []
    cases = suite_cases(suite, n, seed)
    for i, case in enumerate(cases, start=1):
        folder = out / case.name
        if not (folder / "labels.json").is_file():
            write_case(case, folder)
        done.append(folder)
        if progress:
            progress(i, len(cases))
    return done


def iter_cases(root: Path) -> Iterator[tuple[Path, ClipLabels]]:
    """Case folders below ``root`` (one with ``labels.json``) and their labels."""
    for labels in sorted(Path(root).rglob("labels.json")):
        yield labels.parent, ClipLabels.load(labels)
