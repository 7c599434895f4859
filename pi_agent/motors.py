"""Motor backends: the only code that drives the vibration motor's hardware.

Every backend is a ``Motor``: ``set_level(level)`` for a steady strength, ``play_effect``
for a cue the hardware can play by itself (False where it cannot), ``kick_s`` for the
full-power start a resting motor needs (0.0 where it needs none), and an idempotent
``close()`` that leaves the motor off. The player, ``pi_agent.player.MotorPlayer``, uses
exactly these.

- ``ErmMotor``: a coin (ERM) motor on a GPIO pin through a transistor, driven by
  gpiozero's ``PWMOutputDevice`` on the given pin factory (gpiozero's default, the real
  pins, on a Pi; its mock PWM pins in simulation and tests). Strength by duty cycle. A
  small ERM motor takes about 180 ms to spin up, so it asks for a short kick.
- ``Drv2605lMotor``: an ERM or LRA motor behind a TI DRV2605L, through Adafruit's
  ``adafruit_drv2605`` driver on the same busio I2C bus object as the ADCs.
- ``NullMotor``: no motor fitted.
"""

from __future__ import annotations

import contextlib
from typing import Protocol, runtime_checkable

import adafruit_drv2605
from adafruit_bus_device.i2c_device import I2CDevice

from pi_agent.errors import BusError


@runtime_checkable
class Motor(Protocol):
    """What the motor's owner may ask of a backend, and all it asks."""

    kick_s: float      # seconds of full power to start a resting motor (0.0: no kick)

    def set_level(self, level: float) -> None:
        """A steady strength from 0 (off) to 1."""

    def play_effect(self, pattern: str) -> bool:
        """Play the named cue on the hardware's own waveform; False: the backend has no
        such effect, the owner plays the cue as levels."""

    def close(self) -> None:
        """Motor off, for good. Idempotent."""


class ErmMotor:
    def __init__(self, pin: int, *, frequency: int = 250, kick_s: float = 0.04, pin_factory=None) -> None:
        from gpiozero import PWMOutputDevice
        self.device = PWMOutputDevice(pin, frequency=frequency, initial_value=0, pin_factory=pin_factory)
        self.kick_s = kick_s

    def set_level(self, level: float) -> None:
        self.device.value = min(1.0, max(0.0, level))

    def play_effect(self, pattern: str) -> bool:
        return False                 # a bare motor has no waveforms of its own

    @property
    def value(self) -> float:
        return self.device.value

    def close(self) -> None:
        if self.device.closed:
            return
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

    def play_effect(self, pattern: str) -> bool:
        return False

    def close(self) -> None:
        self.value = 0.0


# -- TI DRV2605L haptic driver (datasheet SLOS854) ---------------------------------------------
REG_MODE = 0x01
MODE_STANDBY = 0x40              # MODE register, bit 6 (the driver's ``mode`` stops at 7)
# Real-time playback takes a signed byte (the chip's default format, which the driver keeps):
# 0 is no drive, 127 full drive.
RTP_FULL = 127
# Effects of the ERM library A (and the LRA library) for our cue patterns.
EFFECTS = {"pulse": (1,), "double_pulse": (10,), "long_buzz": (47,), "alarm": (52, 52), "nudge": (7,),
           "tick": (24,), "ticks": (12,)}     # 24: sharp tick, 12: triple click


class Drv2605lMotor:
    """An ERM or LRA motor behind a DRV2605L: library effects for cues, real-time
    playback (RTP) for therapy levels, standby when closed. ``i2c`` is the busio bus
    object the ADCs are read on (``busio.I2C`` on a Pi, ``mock_hw.i2c.MockI2C`` in
    simulation); the motor shares it and leaves it open on close."""

    kick_s = 0.0          # no kick: the effects carry their own, levels go to the chip as asked

    def __init__(self, i2c, *, address: int = 0x5A, actuator: str = "erm") -> None:
        self.address = address
        self.actuator = actuator
        self.closed = False
        # Standby is the one setting the driver has no property for: written directly.
        self._device = I2CDevice(i2c, address, probe=False)
        with self._errors("start-up"):
            try:
                self.drv = adafruit_drv2605.DRV2605(i2c, address=address)
            except ValueError as exc:       # the bus device's probe: "No I2C device at address"
                raise BusError(f"no DRV2605L answers at I2C address 0x{address:02x}") from exc
            except RuntimeError as exc:     # the driver's device-id check
                raise BusError(f"the chip at I2C address 0x{address:02x} is not a DRV2605L "
                               f"(device id {self._read(0x00) >> 5})") from exc
            if actuator == "lra":           # (the driver set up an ERM: open loop, library A)
                self.drv.use_LRM()          # closed loop (auto-resonance), the chip's default
                self.drv.library = adafruit_drv2605.LIBRARY_LRA
        self._mode = adafruit_drv2605.MODE_INTTRIG

    @contextlib.contextmanager
    def _errors(self, doing: str):
        """The bus's ``OSError`` as a ``BusError`` naming the chip and what it was doing."""
        try:
            yield
        except BusError:
            raise
        except OSError as exc:
            raise BusError(f"DRV2605L at 0x{self.address:02x}: {doing}: I2C transfer failed: "
                           f"{exc.strerror or exc}") from exc

    def _read(self, register: int) -> int:
        buf = bytearray(1)
        with self._device as dev:
            dev.write_then_readinto(bytes((register,)), buf)
        return buf[0]

    def _set_mode(self, mode: int) -> None:
        if mode != self._mode:
            self.drv.mode = mode
            self._mode = mode

    def play_effect(self, pattern: str) -> bool:
        """Play a cue from the chip's effect library (internal trigger, GO)."""
        effects = EFFECTS.get(pattern)
        if effects is None:
            return False
        with self._errors(f"effect {pattern}"):
            self.drv.realtime_value = 0
            self._set_mode(adafruit_drv2605.MODE_INTTRIG)
            for slot, effect in enumerate(effects):
                self.drv.set_waveform(effect, slot)
            self.drv.set_waveform(0, len(effects))      # 0 ends the sequence
            self.drv.play()
        return True

    def set_level(self, level: float) -> None:
        """A steady strength (0 to 1) in real-time playback; 0 stops any drive, an effect too."""
        value = round(min(1.0, max(0.0, level)) * RTP_FULL)
        with self._errors("level"):
            if value == 0:
                self.drv.stop()
                self.drv.realtime_value = 0
                return
            self.drv.realtime_value = value      # before the mode: no old value plays
            self._set_mode(adafruit_drv2605.MODE_REALTIME)

    def close(self) -> None:
        """Drive stopped and the chip in standby (a few microamps). The bus stays open: it
        is the ADCs' too."""
        if self.closed:
            return
        self.closed = True
        with self._errors("standby"):
            try:
                self.drv.stop()
                self.drv.realtime_value = 0
            finally:
                with self._device as dev:
                    dev.write(bytes((REG_MODE, MODE_STANDBY)))
                self._mode = MODE_STANDBY


def open_motor(cfg, i2c, *, pin_factory=None) -> Motor:
    """The configured motor backend: an ERM on gpiozero's pins (``pin_factory``: gpiozero's
    default, or the simulation's mock pins), a DRV2605L on the I2C bus object ``i2c`` (the
    ADCs' bus), or none."""
    h = cfg.haptics
    if h.backend == "erm":
        return ErmMotor(h.pin, frequency=h.pwm_hz, kick_s=h.kick_ms / 1000.0, pin_factory=pin_factory)
    if h.backend == "drv2605l":
        return Drv2605lMotor(i2c, address=h.drv2605l_address, actuator=h.actuator)
    return NullMotor()
