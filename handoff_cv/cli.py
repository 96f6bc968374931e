"""The ``handoff-cv`` command: a thin Typer layer over the Python API."""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from handoff_cv import __version__
from handoff_cv.cli_options import with_settings
from handoff_cv.errors import ConfigError, HandoffError
from handoff_cv.runtime import limit_malloc_arenas
from handoff_cv.settings import Settings

DEBUG_ENV = "HANDOFF_CV_DEBUG"

app = typer.Typer(
    name="handoff-cv",
    help="Analyse relay baton exchanges in video: runners' poses, hands, transfer, speeds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)
models_app = typer.Typer(help="List, fetch and locate pose models.", no_args_is_help=True)
config_app = typer.Typer(help="Write and inspect settings files.", no_args_is_help=True)
app.add_typer(models_app, name="models", rich_help_panel="Setup")
app.add_typer(config_app, name="config", rich_help_panel="Setup")

out = Console()
err = Console(stderr=True)

ANALYSE = "Analyse footage"


def fail_with(exc: BaseException) -> None:
    """Print a one-line error (no traceback) and exit non-zero."""
    if isinstance(exc, HandoffError):
        err.print(f"[bold red]error:[/] {exc.one_line()}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        err.print("interrupted: no output was written", highlight=False)
        raise typer.Exit(130)
    if os.environ.get(DEBUG_ENV):
        raise exc
    err.print(
        f"[bold red]internal error:[/] {type(exc).__name__}: {exc}. This is a bug: please "
        f"report it with the input; set {DEBUG_ENV}=1 to see the traceback.",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(70)


def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every exception from a command into :func:`fail_with`'s one-line error."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except (Exception, KeyboardInterrupt) as exc:
            fail_with(exc)

    return wrapper


def _version(value: bool) -> None:
    if value:
        out.print(f"handoff-cv {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print errors.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.ERROR if quiet else logging.WARNING,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )


def _progress(label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


# ------------------------------------------------------------------------- track
@app.command(rich_help_panel=ANALYSE)
@guarded
@with_settings
def track(
    video: Annotated[Path, typer.Argument(help="Video file (MP4, MOV, AVI, MKV, WebM).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Output folder (created if needed).")
    ],
    settings: Settings,
) -> None:
    """Follow every runner in VIDEO and write their 33 body landmarks per frame.

    Writes landmarks.parquet (and .csv) with one row per frame, person and landmark in
    full-frame pixels, and run.json with the settings, versions and timings.
    """
    from handoff_cv.outputs import prepare_folder
    from handoff_cv.pipeline import track_video, write_track_outputs

    prepare_folder(output)  # fail before hours of work, not after
    started = time.perf_counter()
    with _progress(f"tracking {video.name}") as bar:
        task = bar.add_task("frames", total=None)
        result = track_video(
            video,
            settings,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    write_track_outputs(result, settings, output)
    elapsed = time.perf_counter() - started
    read = result.decode.read
    fps = read / max(elapsed, 1e-9)
    ids = ", ".join(str(t.track_id) for t in result.tracks)
    if result.decode.stopped_early:
        err.print(f"[yellow]warning:[/] {result.decode.stopped_early}", highlight=False)
    scanned = f", {result.frames_processed} analysed" if result.decode.skipped else ""
    out.print(
        f"{len(result.tracks)} people tracked (ids {ids}) over {read} frames{scanned} "
        f"in {elapsed:.1f} s ({fps:.1f} frames/s) -> {output / 'landmarks.parquet'}",
        highlight=False,
        soft_wrap=True,
    )


# ----------------------------------------------------------------------- analyze
@app.command(rich_help_panel=ANALYSE)
@guarded
@with_settings
def analyze(
    source: Annotated[
        Path, typer.Argument(help="Video file, or with --from-landmarks a landmark table.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Output folder (created if needed).")
    ],
    settings: Settings,
    from_landmarks: Annotated[
        bool,
        typer.Option(
            "--from-landmarks",
            help="SOURCE is a landmarks.parquet/.csv (or its folder) from 'track' or the "
            "simulator: re-analyse with other settings without pose inference.",
        ),
    ] = False,
    no_video: Annotated[
        bool, typer.Option("--no-video", help="Do not write the annotated video.")
    ] = False,
) -> None:
    """Find every baton exchange and report hands, transfer, speeds and verdicts.

    Writes exchanges.json (one report per exchange, same field names as the ground-truth
    labels), exchanges.csv, kinematics.parquet and run.json; from a video also the
    landmark table.
    """
    from handoff_cv.analyze import analyze_landmarks, analyze_video, write_analysis_outputs
    from handoff_cv.baton import BATON_TABLE, load_baton_table, write_baton_table
    from handoff_cv.camera_motion import MOTION_TABLE, load_motion_table, write_motion_table
    from handoff_cv.landmarks import load_landmarks, write_parquet
    from handoff_cv.outputs import prepare_folder

    prepare_folder(output)
    extra = {}
    if from_landmarks:
        table = load_landmarks(source)
        clip = source.stem if source.is_file() else source.name
        result = analyze_landmarks(
            table,
            settings,
            clip=clip,
            baton=load_baton_table(source),
            camera_motion=load_motion_table(source),
        )
        result.source = {"landmarks": str(source)}
    else:
        with _progress(f"tracking {source.name}") as bar:
            task = bar.add_task("frames", total=None)
            tracked, result = analyze_video(
                source, settings,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
        info = tracked.video
        meta = {"video": str(source), "width": info.width, "height": info.height,
                "fps": info.fps, "slowmo_factor": settings.video.slowmo_factor}  # fmt: skip
        extra["landmarks.parquet"] = lambda p: write_parquet(tracked.landmarks, p, meta)
        if not tracked.baton.empty:
            extra[BATON_TABLE] = lambda p: write_baton_table(tracked.baton, p)
        if not tracked.camera_motion.empty:
            extra[MOTION_TABLE] = lambda p: write_motion_table(tracked.camera_motion, p)
        if not no_video:
            from handoff_cv.annotate import write_annotated_video

            extra["annotated.mp4"] = lambda p: write_annotated_video(source, result, settings, p)
    video = None if from_landmarks else source
    write_analysis_outputs(result, settings, output, extra, video=video)
    if not result.exchanges:
        out.print(f"{result.clip}: no baton exchange found. Check that both runners are in view "
                  f"at the pass. -> {output}", highlight=False, soft_wrap=True)  # fmt: skip
        return
    for report in result.exchanges:
        out.print(f"{result.clip} #{report.exchange_id}: {report.verdict}", highlight=False,
                  soft_wrap=True)  # fmt: skip
    out.print(f"-> {output / 'exchanges.json'}", highlight=False, soft_wrap=True)


# ------------------------------------------------------------------------- batch
@app.command(rich_help_panel=ANALYSE)
@guarded
@with_settings
def batch(
    inputs: Annotated[
        list[str],
        typer.Argument(help="Videos, folders, globs, or list files (@list.txt, one path a line)."),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    settings: Settings,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 2,
    from_landmarks: Annotated[
        bool, typer.Option("--from-landmarks", help="Inputs are landmark tables or their folders.")
    ] = False,
) -> None:
    """Analyse many videos: a folder per video, status.csv, and exchanges.csv/.parquet with
    every exchange. Stop and resume at will: finished inputs are skipped."""
    from handoff_cv.batch import expand_inputs, run_batch

    total = len(expand_inputs(inputs, from_landmarks))
    with _progress("batch") as bar:
        task = bar.add_task("inputs", total=total)

        videos: dict[str, int] = {}  # a bar per video being tracked

        def report(item, done: int, _total: int) -> None:
            bar.update(task, completed=done)
            if item.source in videos:
                bar.remove_task(videos.pop(item.source))
            note = f" ({item.reason})" if item.reason else ""
            out.print(f"{item.status:8} {item.source}{note}", highlight=False, soft_wrap=True)

        def frames(source: str, done: int, expected: int | None) -> None:
            if source not in videos:
                videos[source] = bar.add_task(f"  {Path(source).name}", total=expected)
            bar.update(videos[source], completed=done)

        items = run_batch(
            inputs,
            output,
            settings,
            workers=workers,
            from_landmarks=from_landmarks,
            on_item=report,
            on_progress=frames,
        )
    counts = {s: sum(i.status == s for i in items) for s in ("done", "skipped", "failed")}
    exchanges = sum(i.exchanges for i in items if i.status == "done")
    out.print(f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed; "
              f"{exchanges} new exchanges -> {output / 'exchanges.csv'}", highlight=False,
              soft_wrap=True)  # fmt: skip
    if counts["failed"] and not (counts["done"] or counts["skipped"]):
        raise typer.Exit(1)


# ---------------------------------------------------------------------- evaluate
@app.command(rich_help_panel="Check accuracy")
@guarded
def evaluate(
    predictions: Annotated[Path, typer.Argument(help="exchanges.json, or a folder of them.")],
    labels: Annotated[Path, typer.Argument(help="labels.json, or a folder of them.")],
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="Break results down by a label field or tag (view, noise, "
            "hands, fps, ...); repeat for several tables.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the per-exchange rows as CSV.")
    ] = None,
    tolerance_s: Annotated[
        float, typer.Option(help="Largest time difference for a prediction to match a label.")
    ] = 1.0,
) -> None:
    """Score analysed exchanges against ground-truth labels (matched by clip and time)."""
    from handoff_cv.evaluate import evaluate as run_evaluation
    from handoff_cv.evaluate import format_table, summarise

    rows = run_evaluation(predictions, labels, tolerance_s)
    if rows.empty:
        raise ConfigError("nothing to evaluate: the labels hold no exchange", "Check LABELS")
    out.print(format_table(summarise(rows)), highlight=False, markup=False, soft_wrap=True)
    for field in by or []:
        if field not in rows:
            known = ", ".join(sorted(map(str, rows.columns)))
            raise ConfigError(f"no field {field!r} to break down by", f"Use one of: {known}")
        out.print("", highlight=False)
        out.print(format_table(summarise(rows, field)), highlight=False, markup=False,
                  soft_wrap=True)  # fmt: skip
    if output is not None:
        from handoff_cv.outputs import write_text_atomic

        write_text_atomic(output, rows.to_csv(index=False))
        out.print(f"rows -> {output}", highlight=False, soft_wrap=True)


# ------------------------------------------------------------------------- synth
synth_app = typer.Typer(
    help="Simulated exchanges with known answers: clips, suites, label schema.",
    no_args_is_help=True,
)
app.add_typer(synth_app, name="synth", rich_help_panel="Check accuracy")


@synth_app.command("clip")
@guarded
def synth_clip(
    output: Annotated[Path, typer.Option("--output", "-o", help="Case folder to write.")],
    scenario: Annotated[
        Path | None,
        typer.Option(
            "--scenario",
            help="Scenario JSON (see 'handoff_cv.synth.Scenario'); "
            "default: one right-to-left blind 4x100 pass, side view.",
        ),
    ] = None,
    noise: Annotated[
        str, typer.Option(help="clean, mild, moderate or heavy corruption.")
    ] = "clean",
    render: Annotated[
        bool,
        typer.Option(
            help="Render a video (video.mp4, needs the [synth] extra) instead of "
            "writing the landmark table."
        ),
    ] = False,
) -> None:
    """Simulate one clip: landmarks.parquet (or video.mp4), labels.json and case.json."""
    import json

    from pydantic import ValidationError

    from handoff_cv.synth.corrupt import LEVELS, Corruption
    from handoff_cv.synth.scenario import Scenario
    from handoff_cv.synth.suites import Case, write_case

    if noise not in LEVELS:
        raise ConfigError(f"unknown noise level {noise!r}", f"Use one of {', '.join(LEVELS)}")
    spec = Scenario(name=output.name)
    if scenario is not None:
        try:
            spec = Scenario.model_validate(json.loads(scenario.read_text()))
        except FileNotFoundError:
            raise ConfigError(f"scenario file not found: {scenario}", "Check the path") from None
        except (json.JSONDecodeError, ValidationError) as exc:
            raise ConfigError(f"{scenario} is not a valid scenario ({str(exc).splitlines()[0]})",
                              "See handoff_cv.synth.scenario.Scenario") from None  # fmt: skip
    if render:
        rendered = _renderer()
        case = rendered.RenderCase(spec.name, spec, rendered.RenderSpec(seed=spec.seed))
        rendered.write_rendered_case(case, output)
    else:
        write_case(Case(spec.name, spec, Corruption.level(noise), noise), output)
    out.print(f"wrote {output}", highlight=False, soft_wrap=True)


def _renderer():
    """The rendering module, or a one-line error when the [synth] extra is missing."""
    try:
        from handoff_cv.synth import rendered
    except ImportError:
        raise ConfigError(
            "the video renderer is not installed",
            "Install it with: pip install 'handoff-cv[synth]' (torch==2.13.0 and anny)",
        ) from None
    return rendered


@synth_app.command("suite")
@guarded
def synth_suite(
    name: Annotated[
        str, typer.Argument(help="clean or corrupted (landmark tables), or rendered (videos).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the cases.")],
    cases: Annotated[int, typer.Option(help="Number of cases.", min=1)] = 240,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same suite.")] = 0,
) -> None:
    """Write a seeded benchmark suite spanning hands x views x speeds (x corruption)."""
    from handoff_cv.synth.suites import SUITES, write_suite

    if name not in (*SUITES, "rendered"):
        raise ConfigError(f"unknown suite {name!r}", f"Use one of {', '.join(SUITES)}, rendered")
    with _progress(f"suite {name}") as bar:
        task = bar.add_task("cases", total=cases)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done)

        if name == "rendered":
            _renderer().write_rendered_suite(output, cases, seed, advance)
        else:
            write_suite(name, output, cases, seed, advance)
    out.print(f"{cases} cases -> {output}", highlight=False, soft_wrap=True)


@synth_app.command("samples")
@guarded
def synth_samples(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the clips.")] = Path(
        "sample_videos"
    ),
) -> None:
    """Render the sample videos (sample_videos/: NAME.mp4 + NAME.labels.json)."""
    for video in _renderer().write_samples(output):
        out.print(f"wrote {video} ({video.stat().st_size / 1e6:.2f} MB)", highlight=False)


@synth_app.command("figure")
@guarded
def synth_figure(
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG or SVG file to write.")],
    go_mark_m: Annotated[float, typer.Option(help="Go mark distance (m).")] = 12.6,
) -> None:
    """Plot a simulated exchange: speeds, gap and wrist paths (docs/simulator.md)."""
    from handoff_cv.synth.figures import exchange_figure
    from handoff_cv.synth.scenario import ExchangeSpec, Scenario, simulate

    sim = simulate(Scenario(exchanges=[ExchangeSpec(go_mark_m=go_mark_m)]))
    exchange_figure(sim, output)
    out.print(f"wrote {output}", highlight=False, soft_wrap=True)


@synth_app.command("schema")
@guarded
def synth_schema() -> None:
    """Print the JSON Schema of the labels format (docs/labels.schema.json)."""
    from handoff_cv.labels import labels_json_schema

    sys.stdout.write(labels_json_schema())


# ------------------------------------------------------------------------ models
@models_app.command("list")
@guarded
def models_list() -> None:
    """Show the pose models, where they are, and which are available offline."""
    from handoff_cv.models import MODELS, is_available, model_path

    table = Table("name", "available", "size", "path or how to get it")
    for spec in MODELS.values():
        ok = is_available(spec)
        where = str(model_path(spec.name)) if ok else f"handoff-cv models download {spec.name}"
        label = "embedded" if spec.embedded else ("yes" if ok else "no")
        table.add_row(spec.name, label, f"{spec.size / 1e6:.1f} MB", where)
    out.print(table)


@models_app.command("download")
@guarded
def models_download(
    name: Annotated[str, typer.Argument(help="Model to fetch: lite or heavy.")],
) -> None:
    """Fetch an official pose model once into the user cache, verified by SHA-256."""
    from handoff_cv.models import MODELS, download_model

    spec = MODELS.get(name)
    if spec is None or spec.embedded:
        choices = ", ".join(n for n, s in MODELS.items() if not s.embedded)
        hint = "'full' ships with handoff-cv" if spec else f"Choose one of {choices}"
        raise ConfigError(f"nothing to download for model {name!r}", hint)
    with err.status(f"downloading {spec.filename} ({spec.size / 1e6:.1f} MB)"):
        path = download_model(spec)
    out.print(str(path), highlight=False, soft_wrap=True)


@models_app.command("path")
@guarded
def models_path(
    name: Annotated[str, typer.Argument(help="full, lite, heavy, or a .task path.")] = "full",
) -> None:
    """Print the file a model name resolves to (fails if it is not available)."""
    from handoff_cv.models import model_path

    out.print(str(model_path(name)), highlight=False, soft_wrap=True)


# --------------------------------------------------------------------- calibrate
@app.command(rich_help_panel="Setup")
@guarded
@with_settings
def calibrate(
    video: Annotated[Path, typer.Argument(help="A video from the camera set-up.")],
    settings: Settings,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Settings file (TOML) to write.")
    ] = Path("camera.toml"),
    at_s: Annotated[float, typer.Option("--at", help="Time of the frame to use (seconds).")] = 0.0,
    interactive: Annotated[
        bool | None,
        typer.Option(
            "--interactive/--no-interactive",
            help="Click the corners in a window (default: when a screen is available).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Describe the exchange zone once per camera set-up: its four corners in one lane.

    With a screen, click the corners on a frame of VIDEO (start-right, end-right, end-left,
    start-left, as the runners see them). Without a screen, a picture of the frame with a pixel
    grid is written: read the corners off it and give them with
    --calibration-zone-corners. Either way the settings file (reuse it with -c for every
    video from this camera) and a check picture with the zone drawn back on the frame are
    written.
    """
    from handoff_cv.analyze import calibration_from
    from handoff_cv.calibrate import (
        CORNER_NAMES,
        check_corner_order,
        check_image,
        corners_outside,
        frame_at,
        grid_image,
        has_display,
        pick_corners,
        save_rgb,
    )
    from handoff_cv.outputs import write_text_atomic

    if output.exists() and not force:
        raise ConfigError(f"{output} exists already", "Use --force to overwrite it")
    frame = frame_at(video, at_s)
    height, width = frame.image.shape[:2]
    if settings.calibration.zone_corners is None:
        if interactive is False or (interactive is None and not has_display()):
            grid = output.with_suffix(".grid.png")
            save_rgb(grid, grid_image(frame.image))
            out.print(
                f"no zone corners given: wrote {grid} (the frame at {frame.time_s:.2f} s with a "
                f"pixel grid). Read the zone's corners off it ({', '.join(CORNER_NAMES)}) and "
                f"run: handoff-cv calibrate {video} -o {output} "
                "--calibration-zone-corners x1,y1,x2,y2,x3,y3,x4,y4",
                highlight=False,
                soft_wrap=True,
            )
            return
        points = pick_corners(frame.image)
        flat = [float(v) for p in points for v in p]
        settings = settings.with_overrides({"calibration.zone_corners": flat})
    check_corner_order(settings.calibration.zone_corners)
    calibration = calibration_from(settings, (width, height))
    outside = corners_outside(settings.calibration.zone_corners, width, height)
    if outside:
        err.print(
            f"[yellow]warning:[/] the {', '.join(outside)} corner(s) lie outside the frame; "
            "check the drawn lines",
            highlight=False,
        )
    check = output.with_suffix(".check.png")
    save_rgb(check, check_image(frame.image, calibration))
    header = f"# Camera settings made by 'handoff-cv calibrate' on {video.name}.\n"
    write_text_atomic(output, header + settings.to_toml())
    out.print(
        f"wrote {output} and {check}: check that the drawn lines sit on the track's lines, "
        f"then analyse with: handoff-cv analyze CLIP -c {output}",
        highlight=False,
        soft_wrap=True,
    )


# ------------------------------------------------------------------------ config
@config_app.command("init")
@guarded
def config_init(
    path: Annotated[Path, typer.Argument(help="TOML file to write.")] = Path("handoff-cv.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a TOML file with every setting, its default and its meaning."""
    from handoff_cv.outputs import write_text_atomic

    if path.exists() and not force:
        raise ConfigError(f"{path} exists already", "Use --force to overwrite it")
    write_text_atomic(path, Settings().to_toml())
    out.print(f"wrote {path}", highlight=False)


@config_app.command("show")
@guarded
@with_settings
def config_show(settings: Settings) -> None:
    """Print the settings in effect (defaults, --config file and options) as TOML."""
    out.print(settings.to_toml(), highlight=False, markup=False, soft_wrap=True)


@config_app.command("docs")
@guarded
def config_docs() -> None:
    """Print the settings reference in Markdown (docs/settings.md is generated by it)."""
    from handoff_cv.settings import settings_markdown

    sys.stdout.write(settings_markdown() + "\n")


def main() -> None:
    limit_malloc_arenas()  # before any thread allocates (see its docstring)
    app()
