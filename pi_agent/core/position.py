"""Wear and the antispastic position, from the splint's channels: a pure state machine.

States: ``off`` (the splint is not on the hand), ``open`` (worn, wrist extended at least
the minimum, fingers flexed at most the maximum), ``closed`` (worn, not open),
``unknown`` (the palm sensor is in fault, or has not been read yet) and ``worn_unknown``
(worn, but a flex sensor is in fault: the position is unknown, the wear is not).

Noise near a threshold must not flicker, so each threshold has a small hysteresis band
around it, and a change must hold for ``debounce_s`` before it is believed. A believed
change is dated back to the sample where it began, so debouncing delays the decision
but does not move time from one state to the other. Entering ``unknown`` is immediate:
time in fault is never counted as open.
"""

from __future__ import annotations

from dataclasses import dataclass

OFF, OPEN, CLOSED, UNKNOWN, WORN_UNKNOWN = "off", "open", "closed", "unknown", "worn_unknown"
WORN = (OPEN, CLOSED, WORN_UNKNOWN)


def public(state: str) -> str:
    """The position as machines publish it: open, closed, off or unknown."""
    return UNKNOWN if state == WORN_UNKNOWN else state


# The position as a family member reads it (the README's "What the line says" explains
# each): ``off`` is about the splint, not the hand, and ``unknown`` says why.
WORDS = {
    OPEN: "hand open",
    CLOSED: "hand closed",
    OFF: "splint off",
    WORN_UNKNOWN: "splint on, position unknown (sensor fault)",
    UNKNOWN: "position unknown (sensor fault)",
}
NO_READING = "no reading yet"


def words(state: str, read: bool = True) -> str:
    """Plain words for a state; ``read`` is False before the splint was ever read."""
    if state == UNKNOWN and not read:
        return NO_READING
    return WORDS.get(state, state)


@dataclass(frozen=True)
class Transition:
    old: str
    new: str
    t: float          # monotonic time the new state began (backdated over the debounce)


class PositionTracker:
    def __init__(self, *, wear_n: float = 1.0, min_wrist_deg: float = 10.0, max_fingers_deg: float = 20.0,
                 hysteresis_n: float = 0.2, hysteresis_deg: float = 2.0, debounce_s: float = 3.0) -> None:
        self.wear_n = wear_n
        self.min_wrist_deg = min_wrist_deg
        self.max_fingers_deg = max_fingers_deg
        self.h_n = hysteresis_n / 2
        self.h_deg = hysteresis_deg / 2
        self.debounce_s = debounce_s
        self.state = UNKNOWN
        self.since: float | None = None        # monotonic start of the current state
        self._candidate: str | None = None     # a different state seen since _candidate_t
        self._candidate_t = 0.0

    @property
    def settled_until(self) -> float | None:
        """Time up to which the state is certain: a pending change may still be dated back
        to its first sample, so time after that is not yet known."""
        return self._candidate_t if self._candidate is not None else None

    def classify(self, wrist: float | None, fingers: float | None, palm: float | None) -> str:
        """The state these values show, with hysteresis around the current state."""
        if palm is None:
            return UNKNOWN
        worn_now = self.state in WORN
        if palm < self.wear_n + (-self.h_n if worn_now else self.h_n):
            return OFF
        if wrist is None or fingers is None:
            return WORN_UNKNOWN
        h = -self.h_deg if self.state == OPEN else self.h_deg
        if wrist >= self.min_wrist_deg + h and fingers <= self.max_fingers_deg - h:
            return OPEN
        return CLOSED

    def feed(self, t: float, wrist: float | None, fingers: float | None, palm: float | None) -> Transition | None:
        seen = self.classify(wrist, fingers, palm)
        if seen == self.state:
            self._candidate = None
            return None
        if seen in (UNKNOWN, WORN_UNKNOWN) or self.since is None:
            return self._change(seen, t)
        if seen != self._candidate:
            self._candidate, self._candidate_t = seen, t
        if t - self._candidate_t >= self.debounce_s:
            return self._change(seen, self._candidate_t)
        return None

    def _change(self, new: str, t: float) -> Transition:
        old = self.state
        self.state, self.since, self._candidate = new, t, None
        return Transition(old, new, t)
