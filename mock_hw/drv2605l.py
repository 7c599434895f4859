"""A register-level model of the TI DRV2605L haptic driver (datasheet SLOS854).

It answers byte reads and writes at its I2C address (through ``MockSMBus`` on a
``MockI2C`` bus), keeps every register with its reset value, and records each write
as (register, value) so that tests can check a driver's sequence against the datasheet.
``output()`` says what the motor is doing: a strength in real-time playback, an effect
playing after GO, or nothing in standby.
"""

from __future__ import annotations

RESET = {0x00: 0xE0, 0x01: 0x40, 0x03: 0x01, 0x04: 0x01, 0x16: 0x3E, 0x17: 0x8C, 0x18: 0x0C,
         0x19: 0x6C, 0x1A: 0x36, 0x1B: 0x93, 0x1C: 0xF5, 0x1D: 0xA0, 0x1E: 0x20, 0x20: 0x33}


class DRV2605LModel:
    def __init__(self) -> None:
        self.registers = [0] * 256
        for reg, value in RESET.items():
            self.registers[reg] = value
        self.pointer = 0
        self.writes: list[tuple[int, int]] = []
        self.effects_played: list[tuple[int, ...]] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0]
        for i, value in enumerate(data[1:]):
            reg = (self.pointer + i) & 0xFF
            self.writes.append((reg, value))
            if reg == 0x01 and value & 0x80:          # DEV_RESET
                self.__init__()
                return
            self.registers[reg] = value
            if reg == 0x0C and value & 1 and self.registers[0x01] & 0x07 == 0 and not self.registers[0x01] & 0x40:
                seq = []
                for r in range(0x04, 0x0C):
                    if self.registers[r] == 0:
                        break
                    seq.append(self.registers[r])
                self.effects_played.append(tuple(seq))
                self.registers[0x0C] = 0                 # the sequence plays and GO clears

    def read(self, n: int) -> bytes:
        out = bytes(self.registers[(self.pointer + i) & 0xFF] for i in range(n))
        return out

    def output(self) -> float:
        """The drive now: the RTP strength (0 to 1) in RTP mode, else 0."""
        mode = self.registers[0x01]
        if mode & 0x40 or mode & 0x07 != 0x05:
            return 0.0
        return self.registers[0x02] / 255.0
