"""Versions of the simulator's own code, so cached simulated and rendered cases are made
again when the code that made them changes."""

from __future__ import annotations

import hashlib
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
_RULES = ("exchange_rules.py", "labels.py")  # the labels' rules and format, outside synth/
_RENDERING = ("camera.py", "body.py", "motion.py", "rig.py", "scenario.py", "render.py")


def _source_hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def simulator_version() -> str:
    """Hash of every simulator source (motion, corruption, suites, rendering) and of the
    label rules: a cached landmark suite is regenerated when it changes."""
    synth = sorted((_PACKAGE / "synth").glob("*.py"))
    return _source_hash([*synth, *(_PACKAGE / name for name in _RULES)])


def renderer_version() -> str:
    """Hash of the sources that decide what a rendered case looks like and what its labels
    say (the bodies' motion, the rig, the renderer, the camera, the label rules); the
    suites' corruption and case lists are left out, since a rendered case records its own."""
    synth = [_PACKAGE / "synth" / name for name in _RENDERING]
    return _source_hash([*synth, *(_PACKAGE / name for name in _RULES)])
