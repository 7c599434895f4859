"""Motor backends: the only code that drives the vibration motor's hardware.

``ErmMotor``: a coin (ERM) motor on a GPIO pin through a transistor, driven by
gpiozero's ``PWMOutputDevice``; strength by duty cycle. A small ERM motor takes about
180 ms to spin up, so it asks for a short full-power kick whenever it starts from rest
(``kick_s``; the owner, ``pi_agent.haptics.Haptics``, schedules it). The pin factory
is gpiozero's: the real one on a Pi, its mock PWM pins in simulation and tests.
"""

from __future__ import annotations


class ErmMotor:
    def __init__(self, pin: int, *, frequency: int = 250, kick_s: float = 0.04) -> None:
        from gpiozero import PWMOutputDevice
        self.device = PWMOutputDevice(pin, frequency=frequency, initial_value=0)
        self.kick_s = kick_s

    def set_level(self, level: float) -> None:
        self.device.value = min(1.0, max(0.0, level))

    @property
    def value(self) -> float:
        return self.device.value

    def close(self) -> None:
        try:
            self.device.value = 0
        finally:
            self.device.close()


class NullMotor:
    """No motor fitted: cues are still decided and logged as events."""

    kick_s = 0.0

    def __init__(self) -> None:
        self.value = 0.0

    def set_level(self, level: float) -> None:
        self.value = level

    def close(self) -> None:
        self.value = 0.0


# -- TI DRV2605L haptic driver over I2C (datasheet SLOS854) ----------------------------------
REG_STATUS, REG_MODE, REG_RTP_INPUT, REG_LIBRARY, REG_WAVESEQ1, REG_WAVESEQ2 = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05
REG_GO, REG_ODT, REG_SPT, REG_SNT, REG_BRT = 0x0C, 0x0D, 0x0E, 0x0F, 0x10
REG_FEEDBACK, REG_CONTROL3 = 0x1A, 0x1D
MODE_INTERNAL_TRIGGER, MODE_RTP, MODE_STANDBY = 0x00, 0x05, 0x40
DEVICE_ID_DRV2605L = 7          # STATUS bits 7:5
# Effects of the ERM library A (and the LRA library) for our cue patterns.
EFFECTS = {"pulse": (1,), "double_pulse": (10,), "long_buzz": (47,), "alarm": (52, 52), "nudge": (7,)}


class Drv2605lMotor:
    """An ERM or LRA motor behind a DRV2605L: library effects for cues, real-time
    playback (RTP) for therapy levels. ``bus`` is an ``smbus2.SMBus`` (or
    ``mock_hw.smbus.MockSMBus``)."""

    def __init__(self, bus, *, address: int = 0x5A, actuator: str = "erm") -> None:
        from pi_agent.errors import BusError
        self.bus = bus
        self.address = address
        self.actuator = actuator
        self.mode = None
        try:
            status = bus.read_byte_data(address, REG_STATUS)
            if status >> 5 not in (DEVICE_ID_DRV2605L, 3):     # 3: the DRV2605 without L
                raise BusError(f"no DRV2605L at 0x{address:02x} (device id {status >> 5})")
            self._init()
        except OSError as exc:
            raise BusError(f"DRV2605L at 0x{address:02x}: {exc}") from exc

    def _write(self, reg: int, value: int) -> None:
        self.bus.write_byte_data(self.address, reg, value & 0xFF)

    def _init(self) -> None:
        """The datasheet's start-up: out of standby, playback registers cleared, the
        actuator type, open-loop ERM (or closed-loop LRA), the matching effect library."""
        self._set_mode(MODE_INTERNAL_TRIGGER)
        self._write(REG_RTP_INPUT, 0)
        self._write(REG_WAVESEQ1, 1)
        self._write(REG_WAVESEQ2, 0)
        for reg in (REG_ODT, REG_SPT, REG_SNT, REG_BRT):
            self._write(reg, 0)
        feedback = self.bus.read_byte_data(self.address, REG_FEEDBACK)
        control3 = self.bus.read_byte_data(self.address, REG_CONTROL3)
        if self.actuator == "lra":
            self._write(REG_FEEDBACK, feedback | 0x80)
            self._write(REG_CONTROL3, (control3 & ~0x20) | 0x08)     # closed loop, unsigned RTP
            self._write(REG_LIBRARY, 6)
        else:
            self._write(REG_FEEDBACK, feedback & 0x7F)
            self._write(REG_CONTROL3, control3 | 0x20 | 0x08)       # ERM open loop, unsigned RTP
            self._write(REG_LIBRARY, 1)

    def _set_mode(self, mode: int) -> None:
        if mode != self.mode:
            self._write(REG_MODE, mode)
            self.mode = mode

    def play_effect(self, pattern: str) -> bool:
        """Play a cue from the chip's effect library (internal trigger, GO)."""
        effects = EFFECTS.get(pattern)
        if effects is None:
            return False
        self._write(REG_RTP_INPUT, 0)
        self._set_mode(MODE_INTERNAL_TRIGGER)
        for i, effect in enumerate(effects):
            self._write(REG_WAVESEQ1 + i, effect)
        self._write(REG_WAVESEQ1 + len(effects), 0)
        self._write(REG_GO, 1)
        return True

    def set_level(self, level: float) -> None:
        """A steady vibration strength (0 to 1) in real-time playback mode; 0 stops it."""
        level = min(1.0, max(0.0, level))
        if level == 0.0:
            self._write(REG_GO, 0)
            self._write(REG_RTP_INPUT, 0)
            return
        self._set_mode(MODE_RTP)
        self._write(REG_RTP_INPUT, round(level * 255))

    def close(self) -> None:
        try:
            self._write(REG_GO, 0)
            self._write(REG_RTP_INPUT, 0)
            self._write(REG_MODE, MODE_STANDBY)
            self.mode = MODE_STANDBY
        finally:
            close = getattr(self.bus, "close", None)
            if close is not None:
                close()
