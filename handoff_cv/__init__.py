"""handoff-cv: video analysis of relay baton exchanges.

The public API, for notebooks and scripts::

    import handoff_cv as hcv

    result = hcv.track_video("clip.mp4")          # poses and stable identities
    table = hcv.load_landmarks("out/")             # the landmark table as a DataFrame
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("handoff-cv")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from handoff_cv.errors import HandoffError
from handoff_cv.landmarks import load_landmarks, read_metadata
from handoff_cv.pipeline import TrackResult, track_video, write_track_outputs
from handoff_cv.settings import Settings

__all__ = [
    "AnalysisResult",
    "ClipLabels",
    "ExchangeLabel",
    "ExchangeReport",
    "HandoffError",
    "Settings",
    "TrackResult",
    "__version__",
    "analyze_landmarks",
    "analyze_video",
    "evaluate",
    "load_landmarks",
    "read_metadata",
    "summarise",
    "track_video",
    "write_track_outputs",
]
