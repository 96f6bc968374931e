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
    fps = result.frames_processed / max(elapsed, 1e-9)
    ids = ", ".join(str(t.track_id) for t in result.tracks)
    if result.decode.stopped_early:
        err.print(f"[yellow]warning:[/] {result.decode.stopped_early}", highlight=False)
    out.print(
        f"{len(result.tracks)} people tracked (ids {ids}) over {result.frames_processed} frames "
        f"in {elapsed:.1f} s ({fps:.1f} frames/s) -> {output / 'landmarks.parquet'}",
        highlight=False,
        soft_wrap=True,
    )


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

    out.print(settings_markdown(), highlight=False, markup=False, soft_wrap=True)


def main() -> None:
    app()
