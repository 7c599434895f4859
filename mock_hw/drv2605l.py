"""A register-level model of the TI DRV2605L haptic driver (datasheet SLOS854).

It answers byte reads and writes at its I2C address on a ``MockI2C`` bus (so Adafruit's
``adafruit_drv2605`` driver runs on it unchanged, as the ADS1115 driver runs on its
model), keeps every register of the map with its reset value, and records each write as
(register, value) and each read's first register, so that tests can check a driver's
sequence against the datasheet. ``output()`` says what the motor is doing: a strength in
real-time playback, or nothing (standby, or a library effect, which plays and ends at GO).
"""

from __future__ import annotations

STATUS, MODE, RTP_INPUT, GO, CONTROL3 = 0x00, 0x01, 0x02, 0x0C, 0x1D
WAVESEQ = range(0x04, 0x0C)
# Reset values (datasheet register map); registers not listed reset to 0.
RESET = {0x01: 0x40, 0x03: 0x01, 0x04: 0x01,
         0x11: 0x05, 0x12: 0x19, 0x13: 0xFF, 0x14: 0x19, 0x15: 0xFF,        # audio-to-vibe
         0x16: 0x3E, 0x17: 0x8C, 0x18: 0x0C, 0x19: 0x6C, 0x1A: 0x36, 0x1B: 0x93, 0x1C: 0xF5,
         0x1D: 0xA0, 0x1E: 0x20, 0x1F: 0x80, 0x20: 0x33}
LAST_REGISTER = 0x22
READ_ONLY = {STATUS, 0x21, 0x22}       # status, VBAT monitor, LRA resonance period
MODE_DEV_RESET, MODE_STANDBY, MODE_BITS = 0x80, 0x40, 0x07
MODE_INTERNAL_TRIGGER, MODE_RTP = 0x00, 0x05
CONTROL3_DATA_FORMAT_RTP = 0x08        # 1: unsigned RTP input; 0 (reset): signed


class DRV2605LModel:
    """``device_id``: STATUS bits 7:5 (7 for a DRV2605L, 3 for a DRV2605; others are
    other chips of the family, which a driver must refuse)."""

    def __init__(self, device_id: int = 7) -> None:
        self.device_id = device_id
        self.pointer = 0
        self.writes: list[tuple[int, int]] = []
        self.reads: list[int] = []
        self.effects_played: list[tuple[int, ...]] = []
        self._reset()

    def _reset(self) -> None:
        self.registers = [0] * (LAST_REGISTER + 1)
        for reg, value in RESET.items():
            self.registers[reg] = value
        self.registers[STATUS] = self.device_id << 5

    # -- the I2C side: a write sets the pointer, then fills registers from it -------------------
    def write(self, data: bytes) -> None:
        if not data:
            return                              # an address-only probe: acknowledged
        self.pointer = data[0]
        for i, value in enumerate(data[1:]):
            self._store((self.pointer + i) & 0xFF, value)

    def read(self, n: int) -> bytes:
        self.reads.append(self.pointer)
        return bytes(self._load((self.pointer + i) & 0xFF) for i in range(n))

    def _load(self, reg: int) -> int:
        return self.registers[reg] if reg <= LAST_REGISTER else 0

    def _store(self, reg: int, value: int) -> None:
        self.writes.append((reg, value))
        if reg > LAST_REGISTER or reg in READ_ONLY:
            return
        if reg == MODE and value & MODE_DEV_RESET:
            self._reset()                         # the bit clears itself when the reset is done
            return
        self.registers[reg] = value
        if reg == GO and value & 1 and self.registers[MODE] == MODE_INTERNAL_TRIGGER:
            sequence = []
            for r in WAVESEQ:                     # up to 8 slots; effect 0 ends the sequence
                if self.registers[r] == 0:
                    break
                sequence.append(self.registers[r])
            self.effects_played.append(tuple(sequence))
            self.registers[GO] = 0                # the sequence plays and GO clears

    # -- the motor side -------------------------------------------------------------------------
    def rtp_level(self) -> float:
        """The RTP input as a drive strength (0 to 1), in the format CONTROL3 selects:
        unsigned (0 to 255) or signed (0 to 127; negative values brake, no drive)."""
        value = self.registers[RTP_INPUT]
        if self.registers[CONTROL3] & CONTROL3_DATA_FORMAT_RTP:
            return value / 255.0
        signed = value - 256 if value & 0x80 else value
        return max(0, signed) / 127.0

    def output(self) -> float:
        """The drive now: the RTP strength in RTP mode, else 0."""
        if self.registers[MODE] != MODE_RTP:  # standby, or another mode
            return 0.0
        return self.rtp_level()
