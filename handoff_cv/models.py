"""Pose model files: the embedded default, and the official variants fetched on request.

``full`` ships with handoff-cv (built from the BlazePose GHUM weights in the mediapipe 0.10.21
wheel by ``models/build.sh``), so the tool works offline. ``lite`` and ``heavy`` are fetched
once with ``handoff-cv models download`` into a user cache and verified by SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from handoff_cv.errors import ModelError

OFFICIAL_URL = (
    "https://storage.googleapis.com/mediapipe-models/pose_landmarker/"
    "pose_landmarker_{name}/float16/latest/pose_landmarker_{name}.task"
)
BASE_URL_ENV = "HANDOFF_CV_MODEL_URL"
"""Environment variable with a URL template (``{name}`` is replaced) for a mirror."""
CACHE_ENV = "HANDOFF_CV_CACHE"
"""Environment variable overriding the folder where downloaded models are kept."""


@dataclass(frozen=True)
class ModelSpec:
    """A pose model file: its name, file name, checksum and size."""

    name: str
    filename: str
    sha256: str
    size: int
    embedded: bool = False

    @property
    def url(self) -> str:
        return os.environ.get(BASE_URL_ENV, OFFICIAL_URL).format(name=self.name)


EMBEDDED_SHA256 = "b8c5f6ef74332b3b7205453181fbe494cac4379ecdf5080eba7f52f626802a28"

MODELS: dict[str, ModelSpec] = {
    "full": ModelSpec(
        "full", "pose_landmarker_full.task", EMBEDDED_SHA256, 9_397_818, embedded=True
    ),
    "lite": ModelSpec(
        "lite",
        "pose_landmarker_lite.task",
        "59929e1d1ee95287735ddd833b19cf4ac46d29bc7afddbbf6753c459690d574a",
        5_777_746,
    ),
    "heavy": ModelSpec(
        "heavy",
        "pose_landmarker_heavy.task",
        "64437af838a65d18e5ba7a0d39b465540069bc8aae8308de3e318aad31fcbc7b",
        30_664_242,
    ),
}


def embedded_dirs() -> list[Path]:
    """Where the embedded model may be: inside the installed package, or the repo's models/."""
    package = Path(__file__).resolve().parent
    return [package / "_models", package.parent / "models"]


def cache_dir() -> Path:
    """The user cache for downloaded models (``$HANDOFF_CV_CACHE`` overrides it)."""
    override = os.environ.get(CACHE_ENV)
    return (
        Path(override) if override else Path(platformdirs.user_cache_dir("handoff-cv")) / "models"
    )


def model_path(name_or_path: str) -> Path:
    """The file for a model name (``full``, ``lite``, ``heavy``) or a path to a ``.task`` file."""
    spec = MODELS.get(name_or_path)
    if spec is None:
        path = Path(name_or_path).expanduser()
        if path.suffix == ".task" or path.exists():
            if not path.is_file():
                raise ModelError(f"pose model file not found: {path}", "Check the path")
            return path
        raise ModelError(
            f"unknown pose model {name_or_path!r}",
            f"Use one of {', '.join(MODELS)} or a path to a .task file",
        )
    for folder in embedded_dirs() if spec.embedded else [cache_dir()]:
        candidate = folder / spec.filename
        if candidate.is_file():
            return candidate
    if spec.embedded:
        raise ModelError(
            f"the embedded model {spec.filename} is missing from this installation",
            "Reinstall handoff-cv, or rebuild it with models/build.sh",
        )
    raise ModelError(
        f"pose model {spec.name!r} is not downloaded yet",
        f"Run 'handoff-cv models download {spec.name}' once (needs internet)",
    )


def is_available(spec: ModelSpec) -> bool:
    try:
        model_path(spec.name)
    except ModelError:
        return False
    return True


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_model(spec: ModelSpec, *, url: str | None = None, timeout_s: float = 60) -> Path:
    """Fetch ``spec`` into the cache, verify its SHA-256 and move it into place atomically.

    A failed or corrupt download leaves nothing behind in the cache.
    """
    url = url or spec.url
    target_dir = cache_dir()
    target = target_dir / spec.filename
    if target.is_file() and sha256_of(target) == spec.sha256:
        return target
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(
            f"cannot create the model cache {target_dir} ({exc.strerror})",
            f"Set {CACHE_ENV} to a writable folder",
        ) from None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", dir=target_dir)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as resp:
            for block in iter(lambda: resp.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != spec.sha256:
            raise ModelError(
                f"the downloaded {spec.filename} has the wrong checksum "
                f"(sha256 {digest.hexdigest()[:12]}..., expected {spec.sha256[:12]}...)",
                "The file was damaged or changed upstream; try again, or fetch it by hand "
                "and pass its path with --pose-model",
            )
        os.replace(tmp, target)
        return target
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ModelError(
            f"cannot download {spec.filename} from {url} ({reason})",
            f"Check the internet connection, or set {BASE_URL_ENV} to a reachable mirror",
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
