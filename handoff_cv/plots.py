"""Charts of an exchange, as matplotlib figures and PNG/SVG files (slides, notebooks, report)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from handoff_cv.calibration import ZoneCalibration
from handoff_cv.exchange import ExchangeReport, baton_hands_m
from handoff_cv.kinematics import TrackKinematics, on_common_grid

MOMENTS = (
    ("contact_start_s", "contact", "--"),
    ("transfer_s", "transfer", "-"),
    ("release_s", "release", ":"),
)


def _runners(kinematics: list[TrackKinematics], ex: ExchangeReport):
    """The exchange's two runners, on one frame grid (each track only spans its own frames)."""
    by_id = {k.track_id: k for k in kinematics}
    a, b = by_id.get(ex.incoming_track_id), by_id.get(ex.outgoing_track_id)
    aligned = on_common_grid(a, b) if a is not None and b is not None else None
    return aligned if aligned is not None else (a, b)


def _mark_moments(ax, ex: ExchangeReport) -> None:
    for field, label, style in MOMENTS:
        value = getattr(ex, field)
        if value is not None:
            ax.axvline(value, color="grey", linestyle=style, label=label)


def _window(ex: ExchangeReport, before: float = 2.0, after: float = 1.5) -> tuple[float, float]:
    centre = ex.transfer_s or ex.contact_start_s or 0.0
    return centre - before, centre + after


def speed_figure(kinematics: list[TrackKinematics], ex: ExchangeReport):
    """Both runners' speed against time, contact/transfer/release marked."""
    a, b = _runners(kinematics, ex)
    fig, ax = plt.subplots(figsize=(7, 3.2), constrained_layout=True)
    for k, name in ((a, "incoming"), (b, "outgoing")):
        if k is not None:
            ax.plot(k.times, np.abs(k.speed_mps), label=f"{name} runner (id {k.track_id})")
    unit = "m/s (estimated from stature)" if ex.units_estimated else "m/s"
    return _finish(fig, ax, ex, f"speed, {unit}", "speeds")


def hand_distance_figure(kinematics: list[TrackKinematics], ex: ExchangeReport):
    """Distance between the passing and the receiving hand, in body heights."""
    a, b = _runners(kinematics, ex)
    fig, ax = plt.subplots(figsize=(7, 3.0), constrained_layout=True)
    if a is not None and b is not None and ex.passing_hand and ex.receiving_hand:
        scale = (a.body_height_px + b.body_height_px) / 2
        d = np.linalg.norm(a.hand(ex.passing_hand) - b.hand(ex.receiving_hand), axis=1) / scale
        ax.plot(a.times, d, color="k", label=f"{ex.passing_hand} hand to {ex.receiving_hand} hand")
    return _finish(fig, ax, ex, "hand distance (body heights)", "passing and receiving hands")


def baton_figure(
    kinematics: list[TrackKinematics], ex: ExchangeReport, calibration: ZoneCalibration
):
    """The baton's position along the lane over time, with the zone's lines."""
    zone_length_m = calibration.zone_length_m
    a, b = _runners(kinematics, ex)
    fig, ax = plt.subplots(figsize=(7, 3.0), constrained_layout=True)
    if a is not None and b is not None and ex.transfer_s is not None:
        t = a.times
        passing, receiving = baton_hands_m(a, b, ex.passing_hand, ex.receiving_hand, calibration)
        baton = np.where(t < ex.transfer_s, passing, receiving)
        ax.plot(t, baton, color="tab:orange", label="baton")
    for line, name in ((0.0, "zone start"), (zone_length_m, "zone end")):
        ax.axhline(line, color="tab:red", linewidth=0.8)
        ax.text(ax.get_xlim()[0], line, f" {name}", va="bottom", fontsize=8, color="tab:red")
    return _finish(fig, ax, ex, "metres from the zone start", "baton in the zone")


def _finish(fig, ax, ex: ExchangeReport, ylabel: str, title: str):
    """Moments marked, labels, the time window around the pass, legend."""
    _mark_moments(ax, ex)
    ax.set(xlabel="time (s)", ylabel=ylabel, xlim=_window(ex),
           title=f"Exchange {ex.exchange_id}: {title}")  # fmt: skip
    ax.legend(fontsize=8)
    return fig


def save(fig, path: Path) -> Path:
    """Save a figure as PNG or SVG (by the file's suffix) and close it."""
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
