"""The targets and settings in force, in words a therapist reads: what the report's
numbers were measured against."""

from __future__ import annotations

from typing import Any, Mapping

from pi_agent.core.weight_bearing import Band, resolve_band
from sensors.units import G

UNIT_WORDS = {"N": "N", "percent_body_weight": "% of body weight", "percent_max_push": "% of the maximum push"}


def _g(value: float) -> str:
    return f"{value:g}"


def band_text(low: float, high: float, unit: str, band: Band | None) -> str:
    """'50–100 N', or '30–50 % of body weight (206–343 N)'."""
    text = f"{_g(low)}–{_g(high)} {UNIT_WORDS.get(unit, unit)}"
    if unit != "N":
        text += f" ({band.low_n:.0f}–{band.high_n:.0f} N)" if band is not None else " (its reference is not set)"
    return text


def from_config(cfg, stored: Mapping[str, Any] | None = None,
                max_push_n: float | None = None) -> tuple[list[tuple[str, str]], Band | None]:
    """(settings as (what, value) lines, the target band in newtons) from the configuration,
    with the goal and targets a command set since (the store's ``settings``)."""
    p, wb, th, rem, ex = cfg.positioning, cfg.weight_bearing, cfg.therapy, cfg.reminders, cfg.exercise
    stored = stored or {}
    goal_s = stored.get("goal_s", p.goal_h * 3600.0)
    targets = stored.get("targets") or {"low": wb.target_low, "high": wb.target_high, "unit": wb.target_unit}
    band = resolve_band(targets["low"], targets["high"], targets["unit"], body_weight_kg=wb.body_weight_kg,
                        max_push_n=max_push_n)
    lines = [
        ("Daily goal in the open position", f"{_g(round(goal_s / 3600, 2))} h"),
        ("Worn", f"the palm sensor feels at least {_g(p.wear_n)} N"),
        ("Open (antispastic) position", f"worn, wrist extended at least {_g(p.min_wrist_deg)}°, fingers flexed "
                                        f"at most {_g(p.max_fingers_deg)}°, held {_g(p.debounce_s)} s"),
        ("Long open bout", f"at least {_g(p.long_bout_min)} min"),
        ("Weight-bearing target band", band_text(targets["low"], targets["high"], targets["unit"], band)),
        ("Weight-bearing session", f"from {_g(wb.start_n)} N on the pad until under {_g(wb.end_n)} N "
                                   f"for {_g(wb.end_after_s)} s"),
    ]
    if wb.body_weight_kg > 0:
        lines.append(("Body weight", f"{_g(wb.body_weight_kg)} kg ({wb.body_weight_kg * G:.0f} N)"))
    lines += [
        ("Vibration therapy limits", f"at most {_g(th.max_continuous_min)} min without a {_g(th.rest_min)}-min rest; "
                                     f"{_g(th.max_daily_min)} min a day"),
        ("Vibration protocol", f"{th.protocol_blocks} blocks of {_g(th.protocol_block_min)} min, "
                               f"{_g(th.protocol_break_min)}-min breaks, '{th.protocol_level}' setting"),
        ("Positioning reminders", f"after {_g(rem.after_min)} min worn but not open, at most every "
                                  f"{_g(rem.every_min)} min, {rem.from_hour}:00 to {rem.to_hour}:00"
         if rem.enabled else "off"),
        ("Active extension repetition", f"in an exercise session (at most {_g(ex.max_min)} min), the fingers open "
                                        f"at least {_g(ex.min_rep_deg)}° from their most flexed"),
        ("Daily goal of extension repetitions", f"{ex.goal_reps}" if ex.goal_reps else "none"),
    ]
    return lines, band


def from_state(state: Mapping[str, Any] | None) -> tuple[list[tuple[str, str]], Band | None]:
    """The same from a device's MQTT ``state`` (what the dashboard knows: goal and targets)."""
    if not state:
        return [], None
    lines = []
    if isinstance(state.get("goal_h"), (int, float)):
        lines.append(("Daily goal in the open position", f"{_g(state['goal_h'])} h"))
    band = None
    band_n = (state.get("weight_bearing") or {}).get("band_n")
    if isinstance(band_n, list) and len(band_n) == 2 and all(isinstance(v, (int, float)) for v in band_n):
        band = Band(float(band_n[0]), float(band_n[1]))
    t = state.get("targets")
    if isinstance(t, Mapping) and all(isinstance(t.get(k), (int, float)) for k in ("low", "high")):
        lines.append(("Weight-bearing target band", band_text(t["low"], t["high"], str(t.get("unit", "N")), band)))
    goal = exercise_goal(state)
    if goal is not None:
        lines.append(("Daily goal of extension repetitions", f"{goal}" if goal else "none"))
    return lines, band


def exercise_goal(state: Mapping[str, Any] | None) -> int | None:
    """The daily goal of extension repetitions a device's ``state`` carries (0: none; None:
    an agent that does not say)."""
    exercise = (state or {}).get("exercise")
    if not isinstance(exercise, Mapping) or "goal_reps" not in exercise:
        return None
    goal = exercise["goal_reps"]
    return int(goal) if isinstance(goal, (int, float)) and not isinstance(goal, bool) and goal > 0 else 0
