"""Pose models: the embedded default, and downloads verified against a local server."""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from handoff_cv.cli import app
from handoff_cv.errors import ModelError
from handoff_cv.models import (
    BASE_URL_ENV,
    CACHE_ENV,
    EMBEDDED_SHA256,
    MODELS,
    ModelSpec,
    download_model,
    model_path,
    sha256_of,
)

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_embedded_model_is_found_and_intact():
    path = model_path("full")
    assert path.name == "pose_landmarker_full.task"
    assert sha256_of(path) == EMBEDDED_SHA256 == MODELS["full"].sha256
    assert path.stat().st_size == MODELS["full"].size
    sums = (REPO / "models" / "SHA256SUMS").read_text().split()
    assert sums[0] == EMBEDDED_SHA256


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


def test_download_verifies_checksum_and_lands_in_cache(server, cache):
    root, base = server
    payload = os.urandom(3000)
    (root / "pose_landmarker_lite.task").write_bytes(payload)
    spec = ModelSpec("lite", "pose_landmarker_lite.task", hashlib.sha256(payload).hexdigest(), 3000)
    path = download_model(spec, url=f"{base}/pose_landmarker_lite.task")
    assert path == cache / "pose_landmarker_lite.task" and path.read_bytes() == payload
    assert sorted(p.name for p in cache.iterdir()) == ["pose_landmarker_lite.task"]


def test_wrong_checksum_leaves_nothing_behind(server, cache):
    root, base = server
    (root / "pose_landmarker_heavy.task").write_bytes(b"tampered")
    with pytest.raises(ModelError, match="wrong checksum"):
        download_model(MODELS["heavy"], url=f"{base}/pose_landmarker_heavy.task")
    assert list(cache.iterdir()) == []


def test_cli_download_from_mirror_reports_checksum_error(server, cache, monkeypatch):
    root, base = server
    (root / "pose_landmarker_lite.task").write_bytes(b"not the model")
    monkeypatch.setenv(BASE_URL_ENV, base + "/pose_landmarker_{name}.task")
    result = runner.invoke(app, ["models", "download", "lite"])
    assert result.exit_code == 1
    assert "wrong checksum" in result.output and "Traceback" not in result.output
    assert not (cache / "pose_landmarker_lite.task").exists()


def test_unreachable_mirror_is_a_one_line_error(cache, monkeypatch):
    monkeypatch.setenv(BASE_URL_ENV, "http://127.0.0.1:9/{name}.task")
    result = runner.invoke(app, ["models", "download", "heavy"])
    assert result.exit_code == 1 and "cannot download" in result.output


def test_missing_downloadable_model_says_how_to_get_it(cache):
    with pytest.raises(ModelError) as info:
        model_path("lite")
    assert "handoff-cv models download lite" in info.value.one_line()
    with pytest.raises(ModelError, match="unknown pose model"):
        model_path("medium")


def test_models_list_and_path(cache):
    listed = runner.invoke(app, ["models", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "embedded" in listed.output
    shown = runner.invoke(app, ["models", "path", "full"])
    assert shown.exit_code == 0 and "pose_landmarker_full.task" in shown.output


def test_non_editable_install_finds_the_embedded_model(tmp_path):
    """Build the wheel, install it (no deps) into a folder, and import it from there."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(REPO)],
        check=True,
    )  # fmt: skip
    target = tmp_path / "site"
    wheel = next(wheels.glob("handoff_cv-*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True,
    )  # fmt: skip
    code = "from handoff_cv.models import model_path; print(model_path('full'))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(target)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(out).is_relative_to(target), out
    assert sha256_of(Path(out)) == EMBEDDED_SHA256
