"""Atomic output folders.

Results are written into a hidden staging folder beside the final files and moved into
place only when the whole run has succeeded, ``run.json`` last. A crash, a kill or a bad
input never leaves a half-written file under its final name; a left-over staging folder
is removed by the next run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from handoff_cv.errors import OutputError

STAGING_PREFIX = ".partial-"
DONE_MARKER = "run.json"


def prepare_folder(path: Path) -> Path:
    """Create ``path`` if needed and check it can be written, with a one-line error."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"output {path} exists and is not a folder", "Give a folder path with -o")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise OutputError(
            f"cannot write to the output folder {path} ({exc.strerror or exc})",
            "Choose a writable folder with -o",
        ) from None
    for stale in path.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    return path


@contextmanager
def staged_output(path: Path) -> Iterator[Path]:
    """Yield a staging folder; on success move its files into ``path`` (``run.json`` last)."""
    final = prepare_folder(path)
    staging = final / f"{STAGING_PREFIX}{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
        entries = sorted(staging.iterdir(), key=lambda p: p.name == DONE_MARKER)
        for entry in entries:
            target = final / entry.name
            if target.is_dir() and entry.is_dir():
                shutil.rmtree(target)
            os.replace(entry, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file and an atomic rename."""
    write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; give it a file's usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; rename it over ``path`` on
    success, delete it on failure. The temporary name keeps the suffix (for encoders that
    pick the format from it)."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
