"""handoff-cv: video analysis of relay baton exchanges.

The public API, for notebooks and scripts::

    import handoff_cv as hcv

    result = hcv.track_video("clip.mp4")          # poses and stable identities
    table = hcv.load_landmarks("out/")             # the landmark table as a DataFrame
    result = hcv.analyze_landmarks(table)         # exchanges, kinematics
    exchanges = hcv.load_exchanges("out/")         # reports written by analyze or batch
    sim = hcv.simulate(hcv.Scenario())             # a simulated exchange with its labels
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("handoff-cv")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from handoff_cv.errors import HandoffError

# `evaluate` is both a submodule and the function researchers call: import the function now,
# so a later import of the submodule cannot shadow it.
from handoff_cv.evaluate import evaluate
from handoff_cv.landmarks import load_landmarks, read_metadata
from handoff_cv.pipeline import TrackResult, track_video, write_track_outputs
from handoff_cv.settings import Settings

# The rest of the API is imported on first use, so `import handoff_cv` stays quick.
_LAZY = {
    "AnalysisResult": "handoff_cv.analyze",
    "analyze_landmarks": "handoff_cv.analyze",
    "analyze_video": "handoff_cv.analyze",
    "load_exchanges": "handoff_cv.analyze",
    "load_kinematics": "handoff_cv.analyze",
    "write_analysis_outputs": "handoff_cv.analyze",
    "ExchangeReport": "handoff_cv.exchange",
    "ClipLabels": "handoff_cv.labels",
    "ExchangeLabel": "handoff_cv.labels",
    "load_labels": "handoff_cv.evaluate",
    "compare_video_clip": "handoff_cv.evaluate",
    "settings_from_labels": "handoff_cv.evaluate",
    "summarise": "handoff_cv.evaluate",
    "format_table": "handoff_cv.evaluate",
    "Scenario": "handoff_cv.synth.scenario",
    "ExchangeSpec": "handoff_cv.synth.scenario",
    "CameraSpec": "handoff_cv.synth.scenario",
    "Simulation": "handoff_cv.synth.scenario",
    "simulate": "handoff_cv.synth.scenario",
    "suite_cases": "handoff_cv.synth.suites",
    "corrupt": "handoff_cv.synth.corrupt",
    "Corruption": "handoff_cv.synth.corrupt",
    "run_batch": "handoff_cv.batch",
    "iter_frames": "handoff_cv.video",
    "probe": "handoff_cv.video",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'handoff_cv' has no attribute {name!r}")


__all__ = [
    "HandoffError",
    "Settings",
    "TrackResult",
    "__version__",
    "evaluate",
    "load_landmarks",
    "read_metadata",
    "track_video",
    "write_track_outputs",
    *_LAZY,
]
