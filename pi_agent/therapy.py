"""Vibration therapy: plans of blocks, and the hard limits they are cut to.

Focal vibration reduces spastic tone, with an effect that outlasts the stimulation;
a published protocol uses about 100 Hz in three 10-minute blocks with 1-minute breaks.
A plan is a list of (on seconds, off seconds) blocks at one level. ``cut_to_limits``
shortens a plan to the maximum continuous on-time and to what is left of the daily
maximum, and says what it cut; the motor's owner enforces the same limits again at the
output, whatever any caller asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("low", "high")
# Less than this of the daily maximum left is nothing left: the motor's delivered seconds
# are summed in floating point, and a fraction of a second is no therapy.
MIN_DOSE_S = 1.0


@dataclass(frozen=True)
class Limits:
    max_continuous_s: float = 30 * 60.0
    max_daily_s: float = 90 * 60.0


@dataclass(frozen=True)
class Plan:
    level: str
    blocks: tuple[tuple[float, float], ...]   # (on seconds, off seconds after it)
    source: str                               # 'command', 'button', 'protocol', 'scenario'

    @property
    def on_s(self) -> float:
        return sum(on for on, _ in self.blocks)


def protocol(level: str, blocks: int, block_min: float, break_min: float, source: str) -> Plan:
    return Plan(level, tuple((block_min * 60.0, break_min * 60.0 if i < blocks - 1 else 0.0)
                             for i in range(blocks)), source)


def single(level: str, minutes: float, source: str) -> Plan:
    return Plan(level, ((minutes * 60.0, 0.0),), source)


def cut_to_limits(plan: Plan, limits: Limits, used_today_s: float) -> tuple[Plan | None, list[str]]:
    """The plan within the limits (None if nothing is left), and the notes on what was cut."""
    notes = []
    left = limits.max_daily_s - used_today_s
    if left < MIN_DOSE_S:
        return None, [f"the daily maximum of {limits.max_daily_s / 60:g} minutes of vibration is reached"]
    blocks = []
    for on, off in plan.blocks:
        if on > limits.max_continuous_s:
            notes.append(f"a block of {on / 60:g} minutes was cut to the continuous maximum of "
                         f"{limits.max_continuous_s / 60:g} minutes")
            on = limits.max_continuous_s
        if on > left:
            notes.append(f"cut to {left / 60:.1f} minutes: the daily maximum of {limits.max_daily_s / 60:g} "
                         f"minutes is nearly reached")
            on = left
        if on < MIN_DOSE_S:
            break
        left -= on
        blocks.append((on, off))
    return Plan(plan.level, tuple(blocks), plan.source), notes
