"""Batch processing: resumable, atomic, goes on past broken inputs, survives SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from handoff_cv.batch import expand_inputs, run_batch, worker_pool
from handoff_cv.cli import app
from handoff_cv.synth.corrupt import Corruption
from handoff_cv.synth.scenario import ExchangeSpec, Scenario
from handoff_cv.synth.suites import Case, write_case


def make_cases(root, n: int):
    hands = [("right", "left"), ("left", "right"), ("right", "right")]
    for i in range(n):
        p, r = hands[i % 3]
        spec = ExchangeSpec(passing_hand=p, receiving_hand=r, go_mark_m=12.6)
        write_case(Case(f"c{i}", Scenario(name=f"c{i}", exchanges=[spec]), Corruption(), "clean"),
                   root / f"c{i}")  # fmt: skip
    return root


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return make_cases(tmp_path_factory.mktemp("cases"), 4)


def test_batch_analyses_everything_and_resumes(cases, tmp_path):
    out = tmp_path / "out"
    items = run_batch([str(cases)], out, workers=2, from_landmarks=True)
    assert [i.status for i in items] == ["done"] * 4
    table = pd.read_parquet(out / "exchanges.parquet")
    assert len(table) == 4 and set(table.passing_hand) == {"right", "left"}
    assert pd.read_csv(out / "exchanges.csv").shape[0] == 4
    summary = (out / "summary.html").read_text()
    assert summary.count("<tr>") == 5 and "Runner pair" in summary  # header + 4 exchanges
    links = [
        line.split('href="')[1].split('"')[0]
        for line in summary.splitlines()
        if "href=" in line and "report.html" in line
    ]
    assert len(links) == 4 and all((out / link).is_file() for link in links)
    assert "SAME-HAND RISK" in summary
    assert "<option>R→L</option>" in summary and "<option>R→R</option>" in summary  # filters
    again = run_batch([str(cases)], out, workers=2, from_landmarks=True)
    assert [i.status for i in again] == ["skipped"] * 4
    assert len(pd.read_parquet(out / "exchanges.parquet")) == 4  # skipped ones still listed


def test_changed_settings_reanalyse(cases, tmp_path):
    out = tmp_path / "out"
    run_batch([str(cases / "c0")], out, workers=1, from_landmarks=True)
    from handoff_cv.settings import Settings

    other = Settings().with_overrides({"exchange.brake_mps": 1.2})
    items = run_batch([str(cases / "c0")], out, other, workers=1, from_landmarks=True)
    assert items[0].status == "done"


def test_an_upgrade_reanalyses_and_tracks_again(cases, tmp_path, monkeypatch):
    from handoff_cv import batch
    from handoff_cv.settings import Settings

    out = tmp_path / "out"
    run_batch([str(cases / "c0")], out, workers=1, from_landmarks=True)
    pass_key = batch.video_pass_hash(Settings())
    monkeypatch.setattr(batch, "__version__", "999.0")
    assert batch.video_pass_hash(Settings()) != pass_key  # the landmark cache is not reused
    items = run_batch([str(cases / "c0")], out, workers=1, from_landmarks=True)
    assert items[0].status == "done"


def test_a_broken_input_is_reported_and_the_batch_goes_on(cases, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "landmarks.parquet").write_text("not a table")
    out = tmp_path / "out"
    items = run_batch([str(cases / "c0"), str(broken)], out, workers=1, from_landmarks=True)
    status = {i.source.split("/")[-1]: i for i in items}
    assert status["c0"].status == "done" and status["broken"].status == "failed"
    assert "not a readable landmark table" in status["broken"].reason
    assert "failed" in (out / "status.csv").read_text()


def test_video_inputs_that_fail_are_reported(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00" * 100)
    result = CliRunner().invoke(app, ["batch", str(tmp_path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and "failed" in result.output and "not a video" in result.output


def test_inputs_from_globs_and_list_files(cases, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"# two cases\n{cases / 'c0'}\n{cases / 'c1'}\n")
    assert len(expand_inputs([f"@{listing}"], from_landmarks=True)) == 2
    assert len(expand_inputs([str(cases / "c*")], from_landmarks=True)) == 4
    with pytest.raises(Exception, match="input not found"):
        expand_inputs([str(tmp_path / "nope")])


def test_sigkill_leaves_no_corrupt_file_and_the_next_run_finishes(tmp_path):
    cases = make_cases(tmp_path / "many", 10)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "handoff_cv", "batch", "--from-landmarks", str(cases),
           "-o", str(out), "--workers", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "status.csv").is_file():
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for folder in out.glob("c*-*"):
        if (folder / "run.json").is_file():  # finished folders are complete and valid
            json.loads((folder / "exchanges.json").read_text())
            json.loads((folder / "run.json").read_text())
        assert not list(folder.glob("*.tmp"))
    pd.read_csv(out / "status.csv")
    first = pd.read_csv(out / "status.csv")
    finished_before = int((first.status == "done").sum())
    assert 1 <= finished_before < 10
    rerun = subprocess.run(cmd, capture_output=True, text=True, check=True)
    final = pd.read_csv(out / "status.csv")
    assert len(final) == 10 and set(final.status) <= {"done", "skipped"}
    assert int((final.status == "skipped").sum()) >= finished_before
    assert len(pd.read_parquet(out / "exchanges.parquet")) == 10
    assert "skipped" in rerun.stdout


def test_batch_reports_per_video_progress_from_its_workers(tmp_path):
    """Each video being tracked gets a progress count (the CLI draws a bar per video)."""
    from pathlib import Path

    samples = Path(__file__).resolve().parents[1] / "sample_videos"
    videos = [samples / "blind_right_to_left.mp4", samples / "visual_4x400.mp4"]
    events: dict[str, list[tuple[int, int | None]]] = {}

    def seen(source: str, done: int, total: int | None) -> None:
        events.setdefault(Path(source).name, []).append((done, total))

    items = run_batch([str(v) for v in videos], tmp_path / "out", workers=2, on_progress=seen)
    assert [i.status for i in items] == ["done", "done"]
    for video in videos:
        counts = events[video.name]
        done = [d for d, _ in counts]
        assert done == sorted(done) and len(done) >= 2
        assert done[-1] == counts[-1][1], "the last report is the whole video"


HELD = threading.Lock()


def _takes_the_lock() -> bool:
    return HELD.acquire(timeout=5)


def test_batch_workers_do_not_inherit_locks_held_in_this_process():
    # a forked worker starts with every lock held in this process at the fork still held,
    # and nobody to release it (PyAV 18.1.1: a batch run after videos had been decoded in
    # the same process hung in both workers' frame conversion)
    with HELD, worker_pool(1) as pool:
        assert pool.submit(_takes_the_lock).result(timeout=120)
