"""Coaching cues: what to change, in plain words, each citing the figure it comes from.

Pure functions of an :class:`~handoff_cv.exchange.ExchangeReport`; the report stage only
shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from handoff_cv.exchange import ExchangeReport, hands_unsure

TARGET_RATIO = 0.9  # outgoing / incoming speed at the pass that coaches aim for
EXTENDED_ELBOW_DEG = 150.0
SPRINT_RELAYS = {"4x100", "4x200", "medley"}
MISMATCH_WORDS = {
    "too_late": (
        "The outgoing runner left too late: the incoming runner had to brake before the pass.",
        "further back",
    ),
    "too_early": (
        "The outgoing runner left too early: the incoming runner could not catch up in time.",
        "closer",
    ),
}


@dataclass(frozen=True)
class Cue:
    """One piece of advice and the measured figure behind it."""

    text: str
    cites: str


def go_mark_shift_m(report: ExchangeReport) -> float | None:
    """How far to move the go mark (m, + = further from the start mark, i.e. leave earlier).

    The outgoing runner should reach ``TARGET_RATIO`` of the incoming runner's speed at the
    pass: the missing (or excess) speed over the outgoing runner's acceleration is how much
    earlier (later) to leave, and the incoming runner covers that time at their speed.
    """
    v_in, v_out = report.incoming_speed_mps, report.outgoing_speed_mps
    accel = report.outgoing_acceleration_mps2
    if v_in is None or v_out is None or accel is None or accel <= 0.5:
        return None
    seconds = (TARGET_RATIO * v_in - v_out) / accel
    return round(v_in * seconds, 1)


def cues_for(report: ExchangeReport, relay: str = "4x100") -> list[Cue]:
    """The cues for one exchange, most important first."""
    out: list[Cue] = []
    if report.same_hand:
        hand = report.passing_hand or "right"
        other = "left" if hand == "right" else "right"
        cites = f"passing hand {report.passing_hand}, receiving hand {report.receiving_hand}"
        if hands_unsure(report):
            out.append(
                Cue(
                    f"Possibly a same-hand pass ({hand} into {hand}), but the hands were hard "
                    "to tell apart in this video: check the replay before changing anything. "
                    f"If it was, pass from the {hand} hand into the receiver's {other} hand.",
                    f"{cites}, hands confidence {report.hands_confidence:.2f}",
                )
            )
        else:
            out.append(
                Cue(
                    f"Same-hand pass: the {hand} hand passed into the {hand} hand, so both "
                    f"runners ran on the same side of the lane. Pass from the {hand} hand into "
                    f"the receiver's {other} hand.",
                    cites,
                )
            )
    shift = go_mark_shift_m(report)
    figures = (
        f"incoming {report.incoming_speed_mps:.1f} m/s, outgoing {report.outgoing_speed_mps:.1f} "
        f"m/s at transfer, outgoing accelerating {report.outgoing_acceleration_mps2 or 0:.1f} m/s²"
        if report.incoming_speed_mps and report.outgoing_speed_mps
        else ""
    )
    if report.speed_match in MISMATCH_WORDS:
        what, direction = MISMATCH_WORDS[report.speed_match]
        move = f" Move the go mark about {abs(shift):.1f} m {direction}." if shift else ""
        out.append(Cue(what + move, figures or f"speed-matching verdict {report.speed_match}"))
    if report.pass_style == "visual" and relay in SPRINT_RELAYS:
        out.append(
            Cue(
                "The receiver looked back: in a sprint relay, practise blind passes on a "
                "call, eyes forward.",
                "receiver's head turned back before contact",
            )
        )
    elbow = report.receiver_elbow_angle_deg
    if elbow is not None and elbow < EXTENDED_ELBOW_DEG:
        out.append(
            Cue(
                "The receiving arm was bent: arm straight back, fingers extended, a steady "
                "target for the passer.",
                f"receiving elbow {elbow:.0f}° at contact "
                f"(extended is over {EXTENDED_ELBOW_DEG:.0f}°)",
            )
        )
    if report.legal is False:
        out.append(
            Cue(
                "The baton changed hands outside the zone: the pass was illegal.",
                f"baton at contact {report.baton_contact_position_m:.1f} m, at release "
                f"{report.baton_release_position_m:.1f} m from the zone start",
            )
        )
    return out
