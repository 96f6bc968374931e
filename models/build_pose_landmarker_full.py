"""Build ``pose_landmarker_full.task`` from the BlazePose GHUM models shipped in mediapipe 0.10.21.

MediaPipe's Tasks API loads a zip bundle holding ``pose_detector.tflite`` and
``pose_landmarks_detector.tflite``, each carrying TFLite metadata that tells it how to
normalise the input image. The official bundles are downloaded from a host that offline
users cannot reach, but the same network weights ship inside the ``mediapipe==0.10.21``
wheel (without metadata). This script adds the metadata and writes the bundle.

Run it through ``models/build.sh``: it needs mediapipe 0.10.21, whose metadata writer
cannot be imported in the mediapipe 1.x that handoff-cv runs on.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import zipfile
from pathlib import Path

import mediapipe
from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer
from mediapipe.tasks.python.metadata.metadata_writers.model_asset_bundle_utils import (
    AlignZipFile,
)

WHEEL_ROOT = Path(mediapipe.__file__).parent
DETECTOR_SOURCE = WHEEL_ROOT / "modules/pose_detection/pose_detection.tflite"
LANDMARKER_SOURCE = WHEEL_ROOT / "modules/pose_landmark/pose_landmark_full.tflite"

# BlazePose detector: RGB in [-1, 1]; landmark model: RGB in [0, 1].
DETECTOR_NORM = {"norm_mean": [127.5], "norm_std": [127.5]}
LANDMARKER_NORM = {"norm_mean": [0.0], "norm_std": [255.0]}
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # constant entry times make the bundle byte-reproducible


def with_image_metadata(model: bytes, name: str, description: str, norm: dict) -> bytes:
    """Return ``model`` with general info and image-input normalisation metadata."""
    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name, description)
    writer.add_image_input(**norm)
    content, _ = writer.populate()
    return bytes(content)


def write_bundle(members: dict[str, bytes], output: Path) -> None:
    """Write the Tasks zip bundle: stored (uncompressed), 4-byte aligned, fixed timestamps."""
    with AlignZipFile(output, mode="w", alignment=4) as bundle:
        for name, content in members.items():
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            bundle.writestr(info, content)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    if mediapipe.__version__ != "0.10.21":
        print(f"needs mediapipe 0.10.21, found {mediapipe.__version__}", file=sys.stderr)
        return 2
    members = {
        "pose_detector.tflite": with_image_metadata(
            DETECTOR_SOURCE.read_bytes(),
            "BlazePose detector",
            "Person detector of BlazePose GHUM (Apache-2.0), from the mediapipe 0.10.21 wheel.",
            DETECTOR_NORM,
        ),
        "pose_landmarks_detector.tflite": with_image_metadata(
            LANDMARKER_SOURCE.read_bytes(),
            "BlazePose GHUM full landmarks",
            "33-landmark BlazePose GHUM full model (Apache-2.0), from the mediapipe 0.10.21 wheel.",
            LANDMARKER_NORM,
        ),
    }
    tmp = args.output.with_suffix(".tmp")
    write_bundle(members, tmp)
    tmp.replace(args.output)
    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    print(f"{digest}  {args.output.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
