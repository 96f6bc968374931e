"""Figures of a simulated exchange for the docs: speeds, gap and wrist paths."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from handoff_cv.pose import LANDMARK_INDEX
from handoff_cv.synth.scenario import Simulation, bodies_at


def exchange_figure(sim: Simulation, path: Path) -> Path:
    """Speeds and gap over time, and both runners' wrist paths, with contact/transfer/release."""
    ep = sim.episodes[0]
    m, label = ep.motion, sim.labels.exchanges[0]
    spec = ep.spec
    fig, axes = plt.subplots(3, 1, figsize=(9, 10), constrained_layout=True)
    t = m.t - m.t_go
    ax = axes[0]
    ax.plot(t, m.v_in, label="incoming runner")
    ax.plot(t, m.v_out, label="outgoing runner")
    ax.set(ylabel="speed (m/s)", title=f"Simulated exchange: {spec.passing_hand} to "
           f"{spec.receiving_hand} hand, {spec.pass_style} {spec.pass_type}, verdict "
           f"{label.speed_match}")  # fmt: skip
    ax2 = axes[1]
    ax2.plot(t, m.x_out - m.x_in, color="k", label="gap between hips")
    ax2.set(ylabel="gap (m)", ylim=(0, 12))
    for a in axes[:2]:
        for name, when, style in (("contact", m.t_contact, "--"), ("transfer", m.t_transfer, "-"),
                                  ("release", m.t_release, ":")):  # fmt: skip
            a.axvline(when - m.t_go, color="grey", linestyle=style, label=name)
        a.set_xlim(-1.5, t[-1])
        a.set_xlabel("time after the outgoing runner's go (s)")
        a.legend(loc="best", fontsize=8)
    times = np.arange(m.t_contact - 1.2, m.t_release + 0.8, 0.01)
    wrists = {f"{who} {side}": [] for who in ("incoming", "outgoing") for side in ("left", "right")}
    for tt in times:
        bodies = bodies_at(ep, tt)
        for side in ("left", "right"):
            wrists[f"incoming {side}"].append(bodies.incoming[LANDMARK_INDEX[f"{side}_wrist"]])
            wrists[f"outgoing {side}"].append(bodies.outgoing[LANDMARK_INDEX[f"{side}_wrist"]])
    ax3 = axes[2]
    for name, pts in wrists.items():
        pts = np.array(pts)
        ax3.plot(pts[:, 0], pts[:, 2], label=f"{name} wrist",
                 linestyle="-" if "incoming" in name else "--")  # fmt: skip
    for when, marker in ((m.t_contact, "o"), (m.t_release, "s")):
        b = bodies_at(ep, when).baton.mean(axis=0)
        ax3.plot(b[0], b[2], marker, color="k", markersize=8)
    ax3.set(xlabel="metres from the zone start", ylabel="height (m)",
            title="Wrist paths (side view); baton at contact (o) and release (square)")  # fmt: skip
    ax3.legend(fontsize=8, ncol=2)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
