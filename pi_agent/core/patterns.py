"""The haptic patterns: named cues as (seconds, level) segments, and how long each plays.

Pure data shared by the core (which decides cues and counts the therapy time a cue
takes) and the motor player (which plays them).
"""

from __future__ import annotations

PATTERNS: dict[str, tuple[tuple[float, float], ...]] = {
    "pulse": ((0.12, 0.8),),                                           # short: target reached
    "double_pulse": ((0.10, 0.8), (0.10, 0.0), (0.10, 0.8)),           # early warning near the top
    "long_buzz": ((0.60, 0.8),),                                       # identify, attention
    "alarm": ((0.08, 1.0), (0.08, 0.0)) * 3,                           # over the maximum (repeated)
    "nudge": ((0.25, 0.45),),                                          # gentle: too light, reminder
    "tick": ((0.05, 1.0),),                                            # crisp and brief: a repetition
    "ticks": ((0.05, 1.0), (0.07, 0.0)) * 2 + ((0.05, 1.0),),          # every Nth repetition
}
THERAPY_GAP_S = 0.15      # silence around a cue played during therapy


def segments(pattern: str, during_therapy: bool) -> tuple[tuple[float, float], ...]:
    """The pattern's segments; during therapy at full strength between short silences,
    so the survivor can tell a cue from the therapy's hum."""
    segs = PATTERNS[pattern]
    if not during_therapy:
        return segs
    return ((THERAPY_GAP_S, 0.0),) + tuple((s, 1.0 if lv else 0.0) for s, lv in segs) + ((THERAPY_GAP_S, 0.0),)


def length(pattern: str, during_therapy: bool) -> float:
    return sum(s for s, _ in segments(pattern, during_therapy))
