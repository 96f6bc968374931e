"""Report stage: an analysis in, a self-contained offline HTML page and chart files out.

Nothing here decides anything: verdicts come from the exchange stage, cues from
:mod:`handoff_cv.coaching`. Charts are embedded as PNG; key frames (from the video, when
there is one) as JPEG crops around the hands.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import jinja2
import numpy as np
import pandas as pd

from handoff_cv import __version__, plots
from handoff_cv.analyze import NO_EXCHANGE_MESSAGE, AnalysisResult
from handoff_cv.coaching import cues_for
from handoff_cv.exchange import ExchangeReport
from handoff_cv.settings import Settings

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("handoff_cv", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
)


@dataclass
class Chart:
    name: str
    figure: Any


def charts_for(result: AnalysisResult, ex: ExchangeReport) -> list[Chart]:
    charts = [
        Chart("speeds", plots.speed_figure(result.kinematics, ex)),
        Chart("hands", plots.hand_distance_figure(result.kinematics, ex)),
    ]
    if result.calibration is not None and ex.baton_contact_position_m is not None:
        charts.append(Chart("baton", plots.baton_figure(result.kinematics, ex, result.calibration)))
    return charts


@dataclass(frozen=True)
class RenderedChart:
    """One chart drawn once, as PNG and SVG bytes."""

    name: str
    png: bytes
    svg: bytes


def render_charts(result: AnalysisResult) -> dict[int, list[RenderedChart]]:
    """Every exchange's charts, by exchange id, each figure drawn once."""
    out: dict[int, list[RenderedChart]] = {}
    for ex in result.exchanges:
        out[ex.exchange_id] = []
        for chart in charts_for(result, ex):
            png, svg = io.BytesIO(), io.BytesIO()
            chart.figure.savefig(png, format="png", dpi=110)
            chart.figure.savefig(svg, format="svg")
            plots.plt.close(chart.figure)
            out[ex.exchange_id].append(RenderedChart(chart.name, png.getvalue(), svg.getvalue()))
    return out


def write_charts(charts: dict[int, list[RenderedChart]], folder: Path) -> list[Path]:
    """Rendered charts as ``exchangeN_name.png`` and ``.svg`` files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for exchange_id, rendered in charts.items():
        for chart in rendered:
            stem = folder / f"exchange{exchange_id}_{chart.name}"
            stem.with_suffix(".png").write_bytes(chart.png)
            stem.with_suffix(".svg").write_bytes(chart.svg)
            paths += [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    return paths


def _rows(ex: ExchangeReport) -> list[tuple[str, str]]:
    est = " (estimate)" if ex.units_estimated else ""

    def f(value, unit: str, digits: int = 2) -> str:
        return "–" if value is None else f"{value:.{digits}f} {unit}".strip()

    def conf(value) -> str:
        return "" if value is None else f" · confidence {value:.2f}"

    seen = {"baton": "seen on the baton", "wrists": "from the wrists"}
    timing = {
        "baton+wrists": "wrists, checked against the baton",
        "wrists": "from the wrists",
    }
    baton_seen = (
        "not searched"
        if ex.baton_seen_fraction is None
        else f"{ex.baton_seen_fraction:.0%} of the frames around the pass"
    )
    return [
        (
            "hands",
            f"{ex.passing_hand} → {ex.receiving_hand}{conf(ex.hands_confidence)} · "
            f"{seen[ex.hands_evidence]}",
        ),
        ("baton seen", f"{baton_seen}; times {timing[ex.timing_evidence]}"),
        ("roles", f"incoming id {ex.incoming_track_id}, outgoing id {ex.outgoing_track_id}"),
        (
            "contact start",
            f"{f(ex.contact_start_s, 's')} (frame {ex.contact_start_frame})"
            f"{conf(ex.contact_confidence)}",
        ),
        ("transfer", f"{f(ex.transfer_s, 's')} (frame {ex.transfer_frame})"),
        (
            "release",
            f"{f(ex.release_s, 's')} (frame {ex.release_frame}){conf(ex.release_confidence)}",
        ),
        (
            "speeds at transfer",
            f"incoming {f(ex.incoming_speed_mps, 'm/s')}, outgoing "
            f"{f(ex.outgoing_speed_mps, 'm/s')}{est}",
        ),
        ("speed ratio", f(ex.speed_ratio, "")),
        ("speed matching", ex.speed_match or "–"),
        (
            "incoming deceleration / outgoing acceleration",
            f"{f(ex.incoming_deceleration_mps2, 'm/s²')} / "
            f"{f(ex.outgoing_acceleration_mps2, 'm/s²')}",
        ),
        ("free distance", f(ex.free_distance_m, "m") + est),
        (
            "baton at contact / release",
            f"{f(ex.baton_contact_position_m, 'm')} / "
            f"{f(ex.baton_release_position_m, 'm')} from the zone start",
        ),
        ("legal", "–" if ex.legal is None else ("yes" if ex.legal else "NO")),
        ("baton time through the zone", f(ex.baton_zone_time_s, "s")),
        ("baton splits", _splits_text(ex)),
        ("pass", f"{ex.pass_style or '–'}, {ex.pass_type or '–'}"),
        (
            "receiving arm",
            f"elbow {f(ex.receiver_elbow_angle_deg, '°', 0)}, hand height "
            f"{f(ex.receiver_hand_height, '', 2)} (0 hips, 1 shoulders)",
        ),
        (
            "hand switch after the pass",
            "–"
            if ex.receiver_hand_switch is None
            else ("yes" if ex.receiver_hand_switch else "no"),
        ),
    ]


def _splits_text(ex: ExchangeReport) -> str:
    """'zone start 2.41 s · zone end +2.63 s · ...': when the baton crossed the first mark
    seen, then the time from each mark to the next."""
    parts = []
    for split in ex.baton_splits:
        if split.time_s is None:
            continue
        when = f"+{split.split_s:.2f} s" if split.split_s is not None else f"{split.time_s:.2f} s"
        parts.append(f"{split.mark} {when}")
    return " · ".join(parts) if parts else "–"


def key_frames(video: Path, result: AnalysisResult) -> dict[int, list[dict]]:
    """Per exchange id: JPEG crops around the two runners at contact, transfer and release.

    One pass over the video for every exchange, converting only the frames wanted (a long
    meet video with a pass every few seconds would otherwise be decoded once per pass)."""
    from handoff_cv.video import iter_frames

    wanted: dict[int, list[tuple[ExchangeReport, str]]] = {}
    for ex in result.exchanges:
        for frame, name in ((ex.contact_start_frame, "contact"), (ex.transfer_frame, "transfer"),
                            (ex.release_frame, "release")):  # fmt: skip
            if frame is not None:
                wanted.setdefault(frame, []).append((ex, name))
    out: dict[int, list[dict]] = {ex.exchange_id: [] for ex in result.exchanges}
    table = result.landmarks
    rows_of = {f: rows for f, rows in table[table.frame.isin(wanted)].groupby("frame")}
    times = {round(float(r.time_s.iloc[0]), 4) for r in rows_of.values()}
    if not times:
        return out
    last = max(rows_of)
    for frame in iter_frames(video, wanted=lambda t: round(t, 4) in times):
        if frame.index > last:
            break
        for ex, name in wanted.get(frame.index, []):
            crop = _runners_crop(frame.image, rows_of.get(frame.index), ex)
            if crop is not None:
                out[ex.exchange_id].append({"name": name, "frame": frame.index, "data": crop})
    return out


def _runners_crop(image: np.ndarray, rows: pd.DataFrame | None, ex: ExchangeReport) -> str | None:
    """The two runners of ``ex`` cut out of ``image`` as a base64 JPEG (None: not in view)."""
    if rows is None:
        return None
    rows = rows[rows.track_id.isin([ex.incoming_track_id, ex.outgoing_track_id])]
    if rows.empty:
        return None
    x0, x1 = rows.x_px.min(), rows.x_px.max()
    y0, y1 = rows.y_px.min(), rows.y_px.max()
    pad = 0.15 * (y1 - y0)
    h, w = image.shape[:2]
    crop = image[
        int(max(y0 - pad, 0)) : int(min(y1 + pad, h)),
        int(max(x0 - pad, 0)) : int(min(x1 + pad, w)),
    ]
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2BGR))
    return base64.b64encode(jpeg.tobytes()).decode() if ok else None


SUMMARY_COLUMNS = [
    ("team", "team", "text"),
    ("input", "input", "text"),
    ("exchange_id", "#", "number"),
    ("transfer_s", "transfer (s)", "number"),
    ("runners", "runner pair", "text"),
    ("hands", "hands", "text"),
    ("speed_match", "speed matching", "text"),
    ("speed_ratio", "speed ratio", "number"),
    ("legal", "legal", "text"),
    ("verdict", "verdict", "text"),
    ("report", "report", "text"),
]
SUMMARY_FILTERS = [
    ("team", "Team"),
    ("runners", "Runner pair"),
    ("hands", "Hands"),
    ("speed_match", "Verdict"),
]


def render_summary(exchanges: pd.DataFrame, out: Path, inputs: int, failed: int) -> str:
    """The batch page: every exchange in a sortable table with filters and report links.

    A video's team is the folder it is in (keep each team's clips in a folder of its own)."""
    rows = []
    for _, e in exchanges.iterrows():
        folder = Path(str(e.get("output", "")))
        legal, same = e.get("legal"), e.get("same_hand")
        illegal = bool(pd.notna(legal) and not bool(legal))
        passing, receiving = str(e.get("passing_hand", "?")), str(e.get("receiving_hand", "?"))
        rows.append(
            {
                "team": Path(str(e["input"])).parent.name,
                "input": Path(str(e["input"])).name,
                "exchange_id": e.get("exchange_id", ""),
                "transfer_s": f"{e['transfer_s']:.2f}" if pd.notna(e.get("transfer_s")) else "",
                "runners": f"{e.get('incoming_track_id', '?')}→{e.get('outgoing_track_id', '?')}",
                "hands": f"{passing[:1].upper()}→{receiving[:1].upper()}",
                "speed_match": e.get("speed_match") if pd.notna(e.get("speed_match")) else "",
                "speed_ratio": f"{e['speed_ratio']:.2f}" if pd.notna(e.get("speed_ratio")) else "",
                "legal": "" if pd.isna(legal) else ("yes" if bool(legal) else "NO"),
                "verdict": e.get("verdict", ""),
                "risk": bool(pd.notna(same) and bool(same)) or illegal,
                "report": f"{folder.relative_to(out)}/report.html"
                if folder.is_relative_to(out)
                else "",
            }
        )
    columns = [{"key": k, "label": label, "type": t} for k, label, t in SUMMARY_COLUMNS]
    keys = [c["key"] for c in columns]
    filters = [
        {
            "label": label,
            "column": keys.index(key),
            "options": sorted({str(r[key]) for r in rows if r[key] != ""}),
        }
        for key, label in SUMMARY_FILTERS
    ]
    return _ENV.get_template("summary.html.j2").render(
        rows=rows,
        columns=columns,
        filters=filters,
        inputs=inputs,
        failed=failed,
        version=__version__,
    )


def render_html(
    result: AnalysisResult,
    settings: Settings,
    video: Path | None = None,
    annotated_video: str | None = None,
    charts: dict[int, list[RenderedChart]] | None = None,
) -> str:
    """The self-contained report page for one clip (``annotated_video``: a file name next to
    the page to show in a video player; ``charts``: already rendered, else drawn here)."""
    charts = charts if charts is not None else render_charts(result)
    frames = key_frames(video, result) if video is not None else {}
    items = []
    for ex in result.exchanges:
        items.append(
            {
                "report": ex,
                "cues": cues_for(ex, settings.calibration.relay),
                "rows": _rows(ex),
                "charts": [
                    {"name": c.name, "data": base64.b64encode(c.png).decode()}
                    for c in charts.get(ex.exchange_id, [])
                ],
                "frames": frames.get(ex.exchange_id, []),
            }
        )
    units = "calibrated zone" if settings.calibration.zone_corners else "estimated from stature"
    return _ENV.get_template("report.html.j2").render(
        clip=result.clip,
        source=next(iter(result.source.values()), result.clip),
        exchanges=items,
        units=units,
        version=__version__,
        message=NO_EXCHANGE_MESSAGE,
        annotated_video=annotated_video,
    )
