"""Batch processing: many videos (or landmark tables) in, one table of every exchange out.

Each input gets its own output folder, written atomically. A video already analysed with the
same settings is skipped: the key is the file's content hash and the settings' hash, kept in
the folder's ``run.json`` (written last, so a folder without it is unfinished). Landmarks are
cached by content and pose settings, so re-analysing with other calibration or thresholds
costs no pose inference. A failing input is recorded in ``status.csv`` with its reason and the
batch goes on.
"""

from __future__ import annotations

import glob
import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from handoff_cv import __version__
from handoff_cv.baton import load_baton_table, write_baton_table
from handoff_cv.camera_motion import load_motion_table, write_motion_table
from handoff_cv.errors import HandoffError, InputError
from handoff_cv.outputs import prepare_folder, write_text_atomic
from handoff_cv.runtime import limit_malloc_arenas
from handoff_cv.settings import Settings

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mts", ".mpg", ".mpeg"}
TABLE_NAMES = {"landmarks.parquet", "landmarks.csv"}
POSE_SECTIONS = ("video", "pose", "tracking")
BATON_ANALYSIS_KEYS = {"hold_distance", "min_seen_frames"}  # read by the analysis, not the finder


@dataclass
class BatchItem:
    """One input of a batch and what became of it."""

    source: str
    status: str = "pending"  # done, skipped, failed
    reason: str = ""
    output: str = ""
    exchanges: int = 0
    seconds: float = 0.0


def expand_inputs(inputs: Iterable[str], from_landmarks: bool = False) -> list[Path]:
    """Files, folders (searched recursively), globs and list files (``@list.txt`` or a
    ``.txt`` file with one path per line) -> the inputs, sorted, without duplicates."""
    found: list[Path] = []
    for raw in inputs:
        if raw.startswith("@") or raw.endswith(".txt"):
            found += _from_list_file(Path(raw.lstrip("@")), from_landmarks)
            continue
        matches = (
            [Path(p) for p in glob.glob(raw, recursive=True)]
            if glob.has_magic(raw)
            else [Path(raw)]
        )
        if not matches or not any(m.exists() for m in matches):
            raise InputError(f"input not found: {raw}", "Check the path, folder or glob")
        for path in matches:
            found += _from_folder(path, from_landmarks) if path.is_dir() else [path]
    unique = sorted({p.resolve(): p for p in found}.values(), key=lambda p: str(p))
    if not unique:
        kind = "landmark tables" if from_landmarks else "videos"
        raise InputError(f"no {kind} found in {' '.join(inputs)}", "Check the inputs")
    return unique


def _from_folder(folder: Path, from_landmarks: bool) -> list[Path]:
    if from_landmarks:
        return sorted(p.parent for p in folder.rglob("landmarks.parquet"))
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)


def _from_list_file(path: Path, from_landmarks: bool) -> list[Path]:
    if not path.is_file():
        raise InputError(f"list file not found: {path}", "Check the path")
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return expand_inputs([ln for ln in lines if ln and not ln.startswith("#")], from_landmarks)


def content_hash(path: Path) -> str:
    """SHA-256 of a file, or of a landmark folder's table."""
    if path.is_dir():
        path = path / "landmarks.parquet"
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def settings_hash(settings: Settings, sections: Iterable[str] | None = None) -> str:
    data = settings.model_dump(mode="json")
    if sections is not None:
        data = {k: data[k] for k in sections}
    data.pop("output", None)
    data["handoff_cv_version"] = __version__  # an upgrade analyses again
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def video_pass_hash(settings: Settings) -> str:
    """Hash of the settings the pass over the video uses (pose, tracking, baton finder) and
    of the package's version: a cached pass stays valid while only analysis settings
    change."""
    data = settings.model_dump(mode="json")
    kept = {k: data[k] for k in POSE_SECTIONS}
    kept["baton"] = {k: v for k, v in data["baton"].items() if k not in BATON_ANALYSIS_KEYS}
    kept["handoff_cv_version"] = __version__  # an upgrade may track differently
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


def output_folder(out: Path, source: Path, key: str) -> Path:
    stem = source.name if source.is_dir() else source.stem
    return out / f"{stem}-{key[:8]}"


def _already_done(folder: Path, video_key: str, settings_key: str) -> bool:
    run = folder / "run.json"
    if not run.is_file():
        return False
    try:
        record = json.loads(run.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, OSError):
        return False
    batch = record.get("batch", {})
    return batch.get("content_sha256") == video_key and batch.get("settings_sha256") == settings_key


VideoProgress = Callable[[str, int, int | None], None]
"""Called with (input, frames done, frames expected or None) while a video is tracked."""


class _QueueProgress:
    """Sends a worker's per-video progress to the parent process (every few frames)."""

    def __init__(self, queue, source: str, every: int = 15) -> None:
        self.queue, self.source, self.every = queue, source, every

    def __call__(self, done: int, total: int | None) -> None:
        if done % self.every == 0 or done == total:
            self.queue.put((self.source, done, total))


def process_one(
    source: str,
    out: str,
    settings_json: str,
    from_landmarks: bool,
    progress: Callable[[int, int | None], None] | None = None,
) -> BatchItem:
    """Analyse one input into its folder (runs in a worker process); ``progress`` is told
    how many frames of a video are tracked."""
    from handoff_cv import landmarks as lm
    from handoff_cv.analyze import analyze_landmarks, write_analysis_outputs

    started = time.perf_counter()
    path, out_dir = Path(source), Path(out)
    settings = Settings.model_validate_json(settings_json)
    item = BatchItem(source)
    try:
        key = content_hash(path)
        settings_key = settings_hash(settings)
        folder = output_folder(out_dir, path, key)
        item.output = str(folder)
        if _already_done(folder, key, settings_key):
            item.status, item.reason = "skipped", "already analysed with these settings"
            return item
        if from_landmarks:
            table, baton = lm.load_landmarks(path), load_baton_table(path)
            motion = load_motion_table(path)
        else:
            table, baton, motion = cached_video_pass(path, key, settings, out_dir, progress)
        clip = path.name if path.is_dir() else path.stem
        result = analyze_landmarks(table, settings, clip=clip, baton=baton, camera_motion=motion)
        result.source = {"input": str(path)}
        batch_record = {"content_sha256": key, "settings_sha256": settings_key}
        video = None if from_landmarks else path
        write_analysis_outputs(
            result, settings, folder, run_extra={"batch": batch_record}, video=video
        )
        item.status, item.exchanges = "done", len(result.exchanges)
    except HandoffError as exc:
        item.status, item.reason = "failed", exc.one_line()
    except Exception as exc:
        item.status, item.reason = "failed", f"internal error: {type(exc).__name__}: {exc}"
    item.seconds = round(time.perf_counter() - started, 2)
    return item


def _write_side_table(table: pd.DataFrame, path: Path, write) -> None:
    if not table.empty:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        write(table, tmp)
        os.replace(tmp, path)


def cached_video_pass(
    video: Path, key: str, settings: Settings, out: Path, progress=None, reuse: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """The video's landmark table, baton sightings and camera motion, from the cache under
    ``out`` when the settings of the pass over the video match (``key``: the video's
    content hash). ``reuse=False`` runs the pass again and replaces the entry."""
    from handoff_cv import landmarks as lm
    from handoff_cv.pipeline import track_video

    cache = out / ".cache" / "landmarks"
    cache.mkdir(parents=True, exist_ok=True)
    file = cache / f"{key[:16]}-{video_pass_hash(settings)[:12]}.parquet"
    baton_file = file.with_suffix(".baton.parquet")
    motion_file = file.with_suffix(".camera_motion.parquet")
    if reuse and file.is_file():
        baton = pd.read_parquet(baton_file) if baton_file.is_file() else None
        motion = pd.read_parquet(motion_file) if motion_file.is_file() else None
        return lm.load_landmarks(file), baton, motion
    tracked = track_video(video, settings, progress=progress)
    # the side tables first: the landmarks' presence marks a complete entry
    _write_side_table(tracked.baton, baton_file, write_baton_table)
    _write_side_table(tracked.camera_motion, motion_file, write_motion_table)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    meta = {
        "video": str(video),
        "width": tracked.video.width,
        "height": tracked.video.height,
        "fps": tracked.video.fps,
        "slowmo_factor": settings.video.slowmo_factor,
    }
    lm.write_parquet(tracked.landmarks, tmp, meta)
    os.replace(tmp, file)
    return tracked.landmarks, tracked.baton, tracked.camera_motion


def run_batch(
    inputs: Iterable[str],
    out: Path,
    settings: Settings | None = None,
    *,
    workers: int = 2,
    from_landmarks: bool = False,
    on_item: Callable[[BatchItem, int, int], None] | None = None,
    on_progress: VideoProgress | None = None,
) -> list[BatchItem]:
    """Analyse every input with ``workers`` processes; write status and summary tables.

    ``on_item`` is called as each input finishes, ``on_progress`` while videos are tracked
    (in this process, whichever worker tracks them)."""
    limit_malloc_arenas()  # this process's own; each worker sets its own as it starts
    settings = settings or Settings()
    out = prepare_folder(Path(out))
    sources = expand_inputs(inputs, from_landmarks)
    settings_json = settings.model_dump_json()
    items: list[BatchItem] = []
    runs = _run_parallel(sources, out, settings_json, from_landmarks, workers, on_progress)
    for item in runs:
        items.append(item)
        write_tables(out, items)  # after every input: a killed batch keeps what it finished
        if on_item:
            on_item(item, len(items), len(sources))
    return items


WORKER_START = multiprocessing.get_context("spawn")
"""How batch workers start: spawned (a fresh interpreter), not forked. A child forked while
another thread of this process holds a lock in the decoder or the pose model waits on that
lock for ever: with PyAV 18.1.1 both workers of a batch run after videos had been decoded
in the same process hung in frame conversion."""


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` fresh processes, each with the allocator's heaps limited."""
    return ProcessPoolExecutor(workers, mp_context=WORKER_START, initializer=limit_malloc_arenas)


def _run_parallel(
    sources, out, settings_json, from_landmarks, workers, on_progress=None
) -> Iterator[BatchItem]:
    if workers <= 1:
        for source in sources:
            tell = partial(on_progress, str(source)) if on_progress else None
            yield process_one(str(source), str(out), settings_json, from_landmarks, tell)
        return
    with ExitStack() as stack:
        queue = stack.enter_context(WORKER_START.Manager()).Queue() if on_progress else None
        pool = stack.enter_context(worker_pool(workers))
        pending: set[Future] = {
            pool.submit(
                process_one,
                str(s),
                str(out),
                settings_json,
                from_landmarks,
                _QueueProgress(queue, str(s)) if queue is not None else None,
            )
            for s in sources
        }
        while pending:
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            _drain(queue, on_progress)
            for future in done:
                yield future.result()


def _drain(queue, on_progress: VideoProgress | None) -> None:
    while queue is not None and on_progress is not None and not queue.empty():
        on_progress(*queue.get_nowait())


def write_tables(out: Path, items: list[BatchItem]) -> None:
    """status.csv (every input) and exchanges.csv/.parquet (every exchange), atomically."""
    status = pd.DataFrame([asdict(i) for i in items])
    write_text_atomic(out / "status.csv", status.to_csv(index=False))
    frames = []
    for item in items:
        report = Path(item.output) / "exchanges.csv" if item.output else None
        if item.status in ("done", "skipped") and report is not None and report.is_file():
            frame = pd.read_csv(report)
            frame.insert(0, "input", item.source)
            frame.insert(1, "output", item.output)
            frames.append(frame)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["input"])
    write_text_atomic(out / "exchanges.csv", table.to_csv(index=False))
    tmp = out / f".exchanges.parquet.{os.getpid()}.tmp"
    table.to_parquet(tmp, index=False)
    os.replace(tmp, out / "exchanges.parquet")
    from handoff_cv.report import render_summary

    failed = sum(i.status == "failed" for i in items)
    write_text_atomic(out / "summary.html", render_summary(table, out, len(items), failed))
