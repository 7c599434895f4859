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
