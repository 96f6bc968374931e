"""One settings model for the whole pipeline.

:class:`Settings` is the single source of truth for every tunable value. The CLI options
(``handoff-cv track --help``), the TOML config file (``handoff-cv config init``) and the
settings reference (``docs/settings.md``) are all generated from it, so they cannot drift.

Precedence, lowest first: the defaults below, a TOML file given with ``--config``, then the
options given on the command line.
"""

from __future__ import annotations

import math
import tomllib
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tomlkit
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from handoff_cv.errors import ConfigError


class Section(BaseModel):
    """Base of every settings section: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def _split_numbers(value: Any) -> Any:
    """Accept ``"10,20,300,400"`` (CLI) as well as ``[10, 20, 300, 400]`` (TOML, Python)."""
    if isinstance(value, str):
        parts = [p for p in value.replace(" ", "").split(",") if p]
        return [float(p) for p in parts] if parts else None
    return value


class VideoSettings(Section):
    """How frames are read from the video file."""

    roi: tuple[int, int, int, int] | None = Field(
        None,
        description="Region of interest 'x,y,width,height' in pixels of the upright frame; "
        "people are only searched for inside it, so the rest of the frame costs nothing.",
    )
    roi_from_zone: bool = Field(
        False,
        description="Without a roi: search only where a runner of the calibrated zone's lane "
        "can be (20 m before the zone to 10 m after it, a lane to either side), from the "
        "camera recovered from the zone's corners. For a fixed camera filming a wider view.",
    )
    start_s: float = Field(0.0, ge=0, description="Skip the video before this time (seconds).")
    end_s: float | None = Field(
        None, gt=0, description="Stop reading at this time (seconds); empty reads to the end."
    )
    slowmo_factor: float = Field(
        1.0,
        gt=0,
        description="Capture rate divided by playback rate for slow-motion clips whose file "
        "plays slower than real time (e.g. 8 for 240 fps stored as 30 fps); real time is "
        "file time divided by this factor.",
    )
    camera_motion: Literal["follow", "off"] = Field(
        "follow",
        description="follow: estimate the camera's pan and zoom from the background, so "
        "positions and speeds from a panning camera are measured in the first frame's view "
        "(where the zone is calibrated); off: the camera is taken to stand still.",
    )
    scan_fps: float = Field(
        0.0,
        ge=0,
        description="Exchange window first: away from the pass, analyse only this many frames "
        "a second (real time), and every frame while two people followed are near each other "
        "(or soon will be) or someone just found awaits confirmation; 0 analyses every frame. "
        "10 keeps speeds and the pass (docs/benchmarks.md) and saves most of the time spent "
        "on a clip's approach and empty frames.",
    )
    window_gap: float = Field(
        2.5,
        gt=0,
        description="With scan_fps set: two people whose centres are (or within half a second "
        "will be) closer than this many body heights open the full-rate window.",
    )

    _split_roi = field_validator("roi", mode="before")(_split_numbers)


class PoseSettings(Section):
    """The pose estimator (MediaPipe Pose Landmarker)."""

    model: str = Field(
        "full",
        description="Pose model: 'full' (embedded, default), 'lite' or 'heavy' (fetch once with "
        "'handoff-cv models download'), or a path to a .task file.",
    )
    min_detection_score: float = Field(
        0.5, ge=0, le=1, description="Minimum score for the person detector to start a pose."
    )
    min_tracking_score: float = Field(
        0.5, ge=0, le=1, description="Minimum landmark confidence to keep following a person."
    )
    min_presence_score: float = Field(
        0.5, ge=0, le=1, description="Minimum pose presence score to accept a pose."
    )
    crop_scale: float = Field(
        1.6,
        ge=1.1,
        le=4,
        description="Side of the square crop around each runner, as a multiple of the runner's "
        "body height in pixels.",
    )


class TrackingSettings(Section):
    """Finding people and keeping one stable identity per runner."""

    max_people: int = Field(
        4, ge=1, le=12, description="Most people followed at once (runners, coaches, other lanes)."
    )
    detect_interval_s: float = Field(
        0.25,
        gt=0,
        description="Seconds between searches of the whole region for people not yet followed.",
    )
    search_on_motion: bool = Field(
        True,
        description="Search for new people only while something moves that no followed person "
        "explains (then every half detect_interval_s), and the whole region every "
        "full_search_interval_s regardless; off: search every detect_interval_s.",
    )
    full_search_interval_s: float = Field(
        2.0,
        gt=0,
        description="Seconds between searches made with search_on_motion on even when nothing "
        "new moves (people standing still make no motion).",
    )
    detect_tile_px: int = Field(
        0,
        ge=0,
        description="Side of the square tiles the region is split into when searching for "
        "people, in pixels. Smaller tiles find smaller people. 0 (automatic) uses the region's "
        "height, then halves of it down to 256 px while nobody is found.",
    )
    min_hits: int = Field(
        3, ge=1, description="Frames in a row a new person must be seen before getting an id."
    )
    max_missed_s: float = Field(
        1.0,
        gt=0,
        description="Seconds a followed person may go unseen (occlusion at the pass) before "
        "the id is ended.",
    )
    match_iou: float = Field(
        0.2, ge=0, le=1, description="Least box overlap for a detection to continue an identity."
    )
    duplicate_distance: float = Field(
        0.08,
        gt=0,
        description="Two identities whose landmarks lie closer than this (mean distance, in body "
        "heights) follow the same person: the one that jumped there (farther from where its "
        "person was expected) is dropped for that frame.",
    )
    search_behind: bool = Field(
        True,
        description="At the searches that look closely (while nobody is confirmed, then every "
        "third), search again around each person followed or just found, with them painted "
        "out: the pose detector takes two overlapping people (runners side by side seen "
        "end-on) for one.",
    )
    confirm_apart: bool = Field(
        False,
        description="Follow someone just found beside people already followed in a wider "
        "crop (2.4 body heights) with those people painted out (its own arms left in view), "
        "until confirmed and for as long as followed after: a landmarker started beside a "
        "runner takes the runner in plain view, and one on a tight crop misses the person "
        "(experimental: fewer identity switches and missed passes, fewer hands right; "
        "docs/end_to_end.md).",
    )
    hide_others: bool = Field(
        False,
        description="Paint over other people's trunks in each person's crop so a landmarker "
        "cannot slide onto a runner alongside (experimental: keeps identities through the "
        "pass but can hide the hands).",
    )
    stitch_gap_s: float = Field(
        1.5,
        ge=0,
        description="Pieces of one person's track separated by at most this gap (seconds), "
        "close enough in place and alike in clothing colour, are joined into one identity.",
    )
    max_appearance_distance: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Largest clothing-colour difference (Bhattacharyya distance, 0 = same "
        "colours, 1 = nothing in common) for two pieces to be joined.",
    )
    min_track_s: float = Field(
        0.3, ge=0, description="Identities seen for less than this (seconds) are not written."
    )


class FilterSettings(Section):
    """Cleaning of landmark trajectories before any measurement."""

    max_gap_s: float = Field(
        0.2,
        ge=0,
        description="Gaps in a track up to this long (seconds) are interpolated; "
        "longer ones stay empty.",
    )
    hampel_window_s: float = Field(
        0.15, ge=0, description="Window of the Hampel outlier filter (seconds; 0 turns it off)."
    )
    hampel_sigmas: float = Field(
        3.0,
        gt=0,
        description="Samples further than this many robust deviations from the "
        "running median are replaced by it.",
    )
    hampel_floor: float = Field(
        0.01,
        ge=0,
        description="Smallest robust deviation of the Hampel filter (body heights): on "
        "smooth motion the running deviation collapses and limbs' turns would count as "
        "outliers.",
    )
    cutoff_hz: float = Field(
        8.0,
        gt=0,
        description="Low-pass cut-off for landmarks (Hz of real time); capped at "
        "0.8 x the Nyquist frequency of the real frame rate, so slow motion is handled.",
    )

    contact_cutoff_hz: float = Field(
        20.0,
        gt=0,
        description="Low-pass cut-off (Hz) for the hands when timing contact and "
        "release: higher than cutoff_hz so high frame rates keep their timing precision "
        "(capped by the frame rate like cutoff_hz).",
    )


class CalibrationSettings(Section):
    """Where the exchange zone is in the image, for metres on the track."""

    relay: Literal["4x100", "4x200", "4x400", "medley"] = Field(
        "4x100", description="Relay type: sets the zone length (30 m; 20 m for 4x400)."
    )
    zone_corners: tuple[float, float, float, float, float, float, float, float] | None = Field(
        None,
        description="The zone's corners in one lane in the image, 'x1,y1,...,x4,y4' pixels: "
        "start-right, end-right, end-left, start-left (right and left as the runners see "
        "them). Unset: distances and speeds are estimated from body size.",
    )
    corners_x_m: tuple[float, float] | None = Field(
        None,
        description="Along-lane positions 'start,end' (metres from the zone start) of the "
        "rectangle whose corners are given, when it is not the zone itself (e.g. a stretch of "
        "lane in view of an end-on camera). Unset: 0 and the zone length.",
    )
    lane_width_m: float = Field(1.22, gt=0, description="Lane width (metres).")
    go_mark_m: float | None = Field(
        None,
        description="Where the go mark is, metres from the zone start (negative before it): "
        "the baton's split from there is reported too.",
    )
    marks_m: dict[str, float] | None = Field(
        None,
        description="More marks for the baton's splits, 'name=metres,...' from the zone start "
        "(e.g. '20 m before=-20'). The zone start, zone end and 10 m after the zone are "
        "always taken.",
    )
    lens_k1: float = Field(
        0.0,
        ge=-1,
        le=1,
        description="Radial lens distortion, first coefficient (ffmpeg lenscorrection's k1; "
        "negative for the barrel distortion of wide phone lenses). 0: an ideal lens.",
    )
    lens_k2: float = Field(
        0.0, ge=-1, le=1, description="Radial lens distortion, second coefficient (k2)."
    )

    _split_corners = field_validator("zone_corners", "corners_x_m", mode="before")(_split_numbers)

    @field_validator("marks_m", mode="before")
    @classmethod
    def _parse_marks(cls, value: Any) -> Any:
        if isinstance(value, str):
            pairs = [p.split("=") for p in value.split(",") if p.strip()]
            if any(len(p) != 2 for p in pairs):
                raise ValueError("give marks as 'name=metres,...', e.g. 'go mark=-8.5'")
            return {k.strip(): float(v) for k, v in pairs}
        return value

    def extra_marks(self) -> dict[str, float]:
        """The user's marks, the go mark among them."""
        marks = dict(self.marks_m or {})
        if self.go_mark_m is not None:
            marks["go mark"] = self.go_mark_m
        return marks


class ExchangeSettings(Section):
    """Finding exchanges and judging them."""

    @field_validator("statures_m", mode="before")
    @classmethod
    def _parse_statures(cls, value: Any) -> Any:
        if isinstance(value, str):
            pairs = [p.split("=") for p in value.replace(" ", "").split(",") if p]
            return {int(k): float(v) for k, v in pairs}
        return value

    def stature_of(self, track_id: int) -> float:
        return (self.statures_m or {}).get(track_id, self.stature_m)

    camera_side: Literal["auto", "stands", "infield"] = Field(
        "auto",
        description="Where the camera stands: 'stands' sees the runners' right sides (they run "
        "left to right), 'infield' their left. 'auto' reads it from each runner's motion.",
    )
    stature_m: float = Field(
        1.75,
        gt=1.0,
        lt=2.3,
        description="Assumed runner stature (metres) for estimated "
        "distances and speeds when the zone is not calibrated.",
    )
    statures_m: dict[int, float] | None = Field(
        None,
        description="Stature of particular runners, 'track_id=metres,...' (e.g. '0=1.82,1=1.68'); "
        "others get stature_m.",
    )
    contact_distance: float = Field(
        0.07, gt=0, description="Hands closer than this (body heights) are in contact."
    )
    approach_distance: float = Field(
        0.25, gt=0, description="Hands closer than this (body heights) start an exchange candidate."
    )
    coupled_speed: float = Field(
        0.3,
        gt=0,
        description="Passing and receiving hands moving relative to each other "
        "slower than this (body heights per second) hold the baton together: the contact.",
    )
    min_runner_speed_mps: float = Field(
        2.5,
        ge=0,
        description="Both runners must move at least this fast at the pass; slower "
        "people (coaches, officials) are not taken for runners.",
    )
    brake_mps: float = Field(
        0.8,
        gt=0,
        description="Verdict 'too_late' when the incoming runner's speed at transfer "
        "is this much below its best in the window before contact.",
    )
    growing_s: float = Field(
        0.3,
        gt=0,
        description="Verdict 'too_early' when the gap grew this long (seconds, in "
        "total) in the window before contact.",
    )
    window_s: float = Field(
        1.5, gt=0, description="Window before contact used for the speed-matching verdict."
    )


class BatonSettings(Section):
    """Finding the baton near the hands, and who holds it (see docs/baton.md)."""

    colour: str = Field(
        "auto",
        description="The baton's colour: auto (learned while the video plays), off, one of "
        "yellow, orange, red, blue, green, pink, silver, or #RRGGBB.",
    )
    length_m: float = Field(0.29, gt=0.1, lt=0.6, description="Baton length (metres).")
    hue_tolerance: float = Field(
        8.0, gt=0, le=40, description="Hue range either side of the baton's (OpenCV units, 0-180)."
    )
    min_saturation: int = Field(
        110, ge=0, le=255, description="Least saturation of a baton pixel (0-255)."
    )
    min_value: int = Field(
        90, ge=0, le=255, description="Least brightness of a baton pixel (0-255)."
    )
    search_radius: float = Field(
        1.2, gt=0.3, le=4, description="Search this many baton lengths around each hand."
    )
    learn_frames: int = Field(
        300,
        ge=10,
        description="While the colour is being learned, at most this many frames are kept to "
        "be searched once it is (earlier ones are only used to learn).",
    )
    learn_support: float = Field(
        6.0,
        gt=0,
        description="Evidence needed to decide the colour: about this many frames showing a "
        "baton of it moving with a hand, and twice any other colour's.",
    )
    max_per_frame: int = Field(3, ge=1, description="Sightings kept per frame (best first).")
    hold_distance: float = Field(
        0.04,
        gt=0,
        description="Least distance of a holding hand from the baton, in body heights; each "
        "clip measures its own (the hand landmarks' error) and never goes below this.",
    )
    min_seen_frames: int = Field(
        3, ge=1, description="Frames the baton must be seen in one hand before it decides the hand."
    )


class OutputSettings(Section):
    """What is written to the output folder."""

    csv: bool = Field(True, description="Also write the landmark table as CSV (Parquet always).")


class Settings(BaseModel):
    """Every setting of handoff-cv, grouped by pipeline stage."""

    model_config = ConfigDict(extra="forbid")

    video: VideoSettings = Field(default_factory=VideoSettings)
    pose: PoseSettings = Field(default_factory=PoseSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    filtering: FilterSettings = Field(default_factory=FilterSettings)
    calibration: CalibrationSettings = Field(default_factory=CalibrationSettings)
    exchange: ExchangeSettings = Field(default_factory=ExchangeSettings)
    baton: BatonSettings = Field(default_factory=BatonSettings)
    output: OutputSettings = Field(default_factory=OutputSettings)

    @model_validator(mode="after")
    def _scan_gaps_are_filled(self) -> Settings:
        # frames skipped by the scan are gaps in every track: the gap policy must fill them
        fps, gap = self.video.scan_fps, self.filtering.max_gap_s
        if fps > 0 and 1 / fps > gap + 1e-9:
            raise ValueError(
                f"video.scan_fps {fps:g} leaves {1 / fps:.2f} s between analysed frames, more "
                f"than filtering.max_gap_s ({gap:g} s) fills: use a scan_fps of at least "
                f"{math.ceil(1 / gap) if gap > 0 else 'the frame rate'}, or 0"
            )
        return self

    # ----------------------------------------------------------------- files
    @classmethod
    def from_toml(cls, path: Path) -> Settings:
        """Read settings from a TOML file; missing keys keep their defaults."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"settings file not found: {path}",
                "Check the path, or write one with 'handoff-cv config init FILE'",
            ) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"settings file {path} is not valid TOML ({exc})", "Fix it") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "settings") -> Settings:
        """Validate nested ``{section: {key: value}}`` data, with one-line errors."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"{source}: {_first_error(exc)}", _FIX_HINT) from None

    def with_overrides(self, overrides: dict[str, Any]) -> Settings:
        """Return a copy with ``{"section.key": value}`` overrides applied and validated."""
        data = self.model_dump()
        for dotted, value in overrides.items():
            section, key = dotted.split(".", 1)
            data[section][key] = value
        return Settings.from_dict(data, source="options")

    def to_toml(self) -> str:
        """The settings as a commented TOML document (every key, with its description)."""
        doc = tomlkit.document()
        doc.add(tomlkit.comment("handoff-cv settings. Generated by 'handoff-cv config init'."))
        doc.add(tomlkit.comment("Every key is optional; a missing key keeps its default."))
        for section_name, section_cls in self.sections():
            table = tomlkit.table()
            table.add(tomlkit.comment(section_cls.__doc__ or ""))
            values = getattr(self, section_name).model_dump(mode="json")
            for field in iter_fields(section_name, section_cls):
                for line in _wrap(field.description):
                    table.add(tomlkit.comment(line))
                value = values[field.key]
                if value is None:
                    table.add(tomlkit.comment(f"{field.key} = ...   (unset)"))
                elif isinstance(value, dict):
                    inline = tomlkit.inline_table()
                    inline.update(value)
                    table.add(field.key, inline)
                else:
                    table.add(field.key, list(value) if isinstance(value, tuple) else value)
            doc.add(section_name, table)
        return tomlkit.dumps(doc)

    @classmethod
    def sections(cls) -> list[tuple[str, type[Section]]]:
        return [(name, f.annotation) for name, f in cls.model_fields.items()]  # type: ignore[misc]


_FIX_HINT = "Fix the value, or see 'handoff-cv config init' for every key with its meaning"


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    if not err["loc"]:  # a rule between settings: its message names them
        return str(err["msg"]).removeprefix("Value error, ")
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" + (f" (got {err['input']!r})" if "input" in err else "")


def _wrap(text: str, width: int = 88) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + len(word) + 1 > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return lines + ([current] if current else [])


@dataclass(frozen=True)
class FieldInfo:
    """One setting, described for the CLI, the TOML file and the docs."""

    section: str
    key: str
    annotation: Any
    default: Any
    description: str

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def option(self) -> str:
        return f"--{self.section}-{self.key}".replace("_", "-")

    @property
    def param(self) -> str:
        return f"{self.section}__{self.key}"

    @property
    def choices(self) -> list[str] | None:
        inner = _strip_optional(self.annotation)
        if typing.get_origin(inner) is Literal:
            return [str(a) for a in typing.get_args(inner)]
        return None

    @property
    def literal(self) -> Any:
        """The ``Literal[...]`` type of a choice setting."""
        return _strip_optional(self.annotation)

    @property
    def scalar_type(self) -> type:
        """The type a CLI option parses to; composite values are given as strings."""
        inner = _strip_optional(self.annotation)
        return inner if inner in (bool, int, float, str) else str

    @property
    def type_name(self) -> str:
        if self.choices:
            return " | ".join(self.choices)
        inner = _strip_optional(self.annotation)
        name = getattr(inner, "__name__", str(inner))
        if typing.get_origin(inner) is tuple:
            name = f"list of {len(typing.get_args(inner))} numbers"
        return name + (" (optional)" if inner is not self.annotation else "")


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    if typing.get_origin(annotation) is Annotated:
        return typing.get_args(annotation)[0]
    return annotation


def iter_fields(section_name: str, section_cls: type[Section]) -> Iterator[FieldInfo]:
    for key, field in section_cls.model_fields.items():
        default = field.get_default(call_default_factory=True)
        yield FieldInfo(section_name, key, field.annotation, default, field.description or "")


def all_fields() -> list[FieldInfo]:
    """Every setting of :class:`Settings`, in declaration order."""
    return [f for name, cls in Settings.sections() for f in iter_fields(name, cls)]


def settings_markdown() -> str:
    """The settings reference (``docs/settings.md``), generated from the model."""
    lines = [
        "# Settings reference",
        "",
        "Generated from `handoff_cv.settings.Settings` by `handoff-cv config docs`; do not edit.",
        "Each setting is a TOML key `[section] key = value` (see `handoff-cv config init`) and a",
        "command-line option `--section-key`. Command-line options override the TOML file.",
        "",
    ]
    for name, cls in Settings.sections():
        lines += [f"## `[{name}]`", "", cls.__doc__ or "", ""]
        lines += ["| key | option | type | default | meaning |", "| --- | --- | --- | --- | --- |"]
        for f in iter_fields(name, cls):
            default = "unset" if f.default is None else f"`{_as_text(f.default)}`"
            lines.append(
                f"| `{f.key}` | `{f.option}` | {f.type_name} | {default} | {f.description} |"
            )
        lines.append("")
    return "\n".join(lines)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)
