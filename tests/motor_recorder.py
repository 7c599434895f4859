"""A motor backend wrapped to record each level it is set to, for the player's tests."""

from __future__ import annotations


class Recorder:
    """Wraps a motor backend to record (virtual time, level) of each change."""

    def __init__(self, motor, clock):
        self.motor, self.clock, self.log = motor, clock, []
        self.kick_s = motor.kick_s

    def set_level(self, level):
        self.log.append((round(self.clock.monotonic(), 4), level))
        self.motor.set_level(level)

    def play_effect(self, pattern):
        return self.motor.play_effect(pattern)

    def close(self):
        self.motor.close()


def motor_runs(trace_path):
    """(start, end, highest level) of each time the motor was on, in scenario time, from the
    rig's motor trace (one 'time level' line per change)."""
    runs, start, top = [], None, 0.0
    for line in trace_path.read_text().splitlines():
        t, level = (float(x) for x in line.split())
        if level > 0 and start is None:
            start, top = t, level
        elif level > 0:
            top = max(top, level)
        elif start is not None:
            runs.append((start, t, top))
            start = None
    assert start is None, "the motor is off at the end"
    return runs


def motor_rises(trace_path) -> list[float]:
    """The scenario times the motor went from off to on, from the rig's motor trace (which
    must end with the motor off)."""
    return [start for start, _, _ in motor_runs(trace_path)]
