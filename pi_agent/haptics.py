"""The vibration motor's one owner: named cue patterns, played on a timeline.

Everything that wants the motor (weight-bearing cues, reminders, identify, therapy)
asks this object; nothing else touches a motor backend. A pattern is a list of
(seconds, level) segments, level 0 to 1; playing it schedules level changes at
absolute monotonic times, and ``poll(now)`` applies those that are due. In real time a
small thread calls ``poll`` (``MotorThread``); in virtual time the agent's loop does, so
the same code runs in both.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("pi_agent.haptics")

PATTERNS: dict[str, list[tuple[float, float]]] = {
    "pulse": [(0.12, 0.8)],                                            # short: target reached
    "double_pulse": [(0.10, 0.8), (0.10, 0.0), (0.10, 0.8)],           # early warning near the top
    "long_buzz": [(0.60, 0.8)],                                        # identify, attention
    "alarm": [(0.08, 1.0), (0.08, 0.0)] * 3,                           # over the maximum (repeated)
    "nudge": [(0.25, 0.45)],                                           # gentle: too light, reminder
}


class Haptics:
    """Plays patterns on a motor backend (``set_level(x)``, ``close()``)."""

    def __init__(self, motor, clock) -> None:
        self.motor = motor
        self.clock = clock
        self._lock = threading.RLock()
        self._schedule: list[tuple[float, float]] = []   # (monotonic time, level), in order
        self._level = 0.0
        self._wake = threading.Event()
        self.closed = False
        self.motor.set_level(0.0)                        # off at start

    @property
    def level(self) -> float:
        return self._level

    def play(self, pattern: str) -> None:
        """Start a pattern now (a newer cue replaces what is left of an older one)."""
        segments = PATTERNS[pattern]
        with self._lock:
            if self.closed:
                return
            t = self.clock.monotonic()
            kick = getattr(self.motor, "kick_s", 0.0)
            schedule = []
            previous = self._level
            for seconds, level in segments:
                if kick and previous == 0.0 and 0.0 < level < 1.0 and seconds > kick:
                    schedule.append((t, 1.0))            # kick a resting ERM motor into motion
                    schedule.append((t + kick, level))
                else:
                    schedule.append((t, level))
                previous = level
                t += seconds
            schedule.append((t, 0.0))
            self._schedule = schedule
            self.poll(self.clock.monotonic())
        self._wake.set()

    def next_change(self) -> float | None:
        with self._lock:
            return self._schedule[0][0] if self._schedule else None

    def poll(self, now: float) -> None:
        """Apply every level change that is due."""
        with self._lock:
            level = None
            while self._schedule and self._schedule[0][0] <= now:
                level = self._schedule.pop(0)[1]
            if level is not None and level != self._level and not self.closed:
                self._set(level)

    def _set(self, level: float) -> None:
        self._level = level
        self.motor.set_level(level)

    def off(self) -> None:
        with self._lock:
            self._schedule = []
            self._set(0.0)

    def close(self) -> None:
        """Motor off, for good. Idempotent."""
        with self._lock:
            if self.closed:
                return
            self._schedule = []
            try:
                self._set(0.0)
            finally:
                self.closed = True
                self.motor.close()
        self._wake.set()


class MotorThread(threading.Thread):
    """Plays the schedule in real time, independent of the sampling loop's reads."""

    def __init__(self, haptics: Haptics) -> None:
        super().__init__(name="motor", daemon=True)
        self.haptics = haptics

    def run(self) -> None:
        h = self.haptics
        while not h.closed:
            nxt = h.next_change()
            now = h.clock.monotonic()
            if nxt is None:
                h._wake.wait(1.0)
            elif nxt > now:
                h._wake.wait(nxt - now)
            h._wake.clear()
            h.poll(h.clock.monotonic())
