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
