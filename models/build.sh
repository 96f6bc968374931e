#!/usr/bin/env bash
# Rebuild models/pose_landmarker_full.task from the mediapipe 0.10.21 wheel, in a throwaway
# virtual environment (the metadata writer it needs cannot be imported in mediapipe 1.x).
# The result is byte-identical on every run; its SHA-256 must match models/SHA256SUMS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=$(mktemp -d)/venv
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "mediapipe==0.10.21"
"$venv/bin/python" "$here/build_pose_landmarker_full.py" "$here/pose_landmarker_full.task"
(cd "$here" && sha256sum --check SHA256SUMS)
