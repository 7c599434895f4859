"""Reading an ADS1115 through Adafruit's driver, with waits that cannot hang.

Adafruit's single-shot read writes the config register and then spins on the
conversion-ready bit with no timeout, hammering the bus. ``BoundedADS1115`` keeps the
driver as it is and changes only that wait: it first sleeps for about one conversion
time (on the given clock, so virtual time works too), then polls gently, and gives up
with ``ConversionTimeout`` after a bounded time. ``ADS1115Reader`` turns the driver's
``OSError``s into ``BusError`` and re-creates the driver after a chip comes back.
"""

from __future__ import annotations

from adafruit_ads1x15 import ADS1115

from pi_agent.errors import BusError, ConversionTimeout

# The ADS1115's oscillator is within 10 % of nominal (datasheet 7.3.6); allow that.
_RATE_TOLERANCE = 1.1
# Between polls after the expected conversion time.
_POLL_FRACTION = 0.05
_POINTER_CONFIG = 0x01


class BoundedADS1115(ADS1115):
    """Adafruit's ADS1115 with a sleeping, bounded wait for the conversion."""

    def __init__(self, i2c, *, clock, address: int, timeout_s: float | None = None, **kwargs) -> None:
        self._clock = clock
        self._timeout_s = timeout_s
        self._started = 0.0
        self._polls = 0
        super().__init__(i2c, address=address, **kwargs)

    def conversion_time(self) -> float:
        return _RATE_TOLERANCE / self.data_rate

    def timeout(self) -> float:
        return self._timeout_s if self._timeout_s is not None else max(0.02, 4 * self.conversion_time())

    def _write_config(self, pin_config=None) -> None:
        super()._write_config(pin_config)
        if pin_config is not None:
            self._started = self._clock.monotonic()
            self._polls = 0

    def _conversion_complete(self) -> int:
        clock = self._clock
        if self._polls == 0:
            clock.sleep(self._started + 1.0 / self.data_rate - clock.monotonic())
        elif clock.monotonic() - self._started > self.timeout():
            raise ConversionTimeout(f"ADS1115 at 0x{self.i2c_device.device_address:02x}: conversion not ready "
                                    f"after {self.timeout() * 1000:.0f} ms")
        else:
            clock.sleep(_POLL_FRACTION / self.data_rate)
        self._polls += 1
        # The config write left the register pointer at config: read it without moving the
        # pointer (the driver's own fast read), two bytes on the wire instead of three.
        return self._read_register(_POINTER_CONFIG, True) & 0x8000


class ADS1115Reader:
    """One chip on a bus: ``read(input, gain, data_rate)`` gives signed raw counts."""

    def __init__(self, i2c, address: int, clock) -> None:
        self.i2c = i2c
        self.address = address
        self.clock = clock
        self._ads: BoundedADS1115 | None = None

    def _driver(self, gain: float, data_rate: int) -> BoundedADS1115:
        if self._ads is None:
            try:
                self._ads = BoundedADS1115(self.i2c, clock=self.clock, address=self.address,
                                           gain=gain, data_rate=data_rate)
            except ValueError as exc:   # the bus device's probe: "No I2C device at address"
                raise BusError(f"ADS1115 at 0x{self.address:02x} does not answer") from exc
        return self._ads

    def read(self, input_: int, gain: float, data_rate: int) -> int:
        try:
            ads = self._ads or self._driver(gain, data_rate)
            if ads.gain != gain:
                ads.gain = gain
            if ads.data_rate != data_rate:
                ads.data_rate = data_rate
            return ads.read(input_ + 4)   # mux 4..7: AINn against GND, as AnalogIn does
        except ConversionTimeout:
            raise
        except OSError as exc:
            self._ads = None   # re-probe and re-configure once the chip answers again
            raise BusError(f"ADS1115 at 0x{self.address:02x}: I2C transfer failed: "
                           f"{exc.strerror or exc}") from exc
