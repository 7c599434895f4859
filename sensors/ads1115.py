"""Reading an ADS1115 through Adafruit's driver, with waits that cannot hang.

Adafruit's single-shot read writes the config register and then spins on the
conversion-ready bit with no timeout, hammering the bus. ``BoundedADS1115`` keeps the
driver as it is and changes only that wait: it first sleeps for about one conversion
time (on the given clock, so virtual time works too), then polls gently, and gives up
with ``ConversionTimeout`` after a bounded time. ``ADS1115Reader`` turns the driver's
``OSError``s into ``BusError`` and re-creates the driver after a chip comes back.

Every reading goes through the driver's own ``AnalogIn``: ``AnalogIn(ads, Pin.A2)`` for an
input against GND, ``AnalogIn(ads, Pin.A0, Pin.A1)`` for a differential pair (a load
cell's bridge), which the driver maps to the chip's multiplexer setting.

A chip with one channel can run in continuous mode: it converts all the time, and a
reading is a single two-byte I2C read of the latest conversion, with no wait (the pad's
zones, read a hundred times a second in a session). The driver's continuous mode needs
care (3.0.x): switching to it keeps whatever input the chip was converting, and its fast
read assumes the register pointer is at the conversion register. So the reader arms a
chip with a single-shot read of its input, switches it to continuous, and puts the
pointer back; and once a second it checks that the chip is still converting that input
(a chip that browned out wakes in single-shot mode) and arms it again if not.
"""

from __future__ import annotations

from adafruit_ads1x15 import ADS1115, AnalogIn
from adafruit_ads1x15.ads1x15 import Mode

from pi_agent.errors import BusError, ConversionTimeout

# The ADS1115's oscillator is within 10 % of nominal (datasheet 7.3.6); allow that.
_RATE_TOLERANCE = 1.1
# Between polls after the expected conversion time.
_POLL_FRACTION = 0.05
_POINTER_CONFIG = 0x01
# A chip in continuous mode is checked this often (seconds) to still be converting.
VERIFY_EVERY_S = 1.0
_MODE_SINGLE_BIT = 0x0100
# The multiplexer's differential settings (datasheet table 8, config bits 14:12); an input
# against GND is 4 + its number.
DIFFERENTIAL_MUX = {(0, 1): 0, (0, 3): 1, (1, 3): 2, (2, 3): 3}


def mux(positive: int, negative: int | None = None) -> int:
    """The multiplexer setting that converts ``positive`` against ``negative`` (None: GND)."""
    return 4 + positive if negative is None else DIFFERENTIAL_MUX[(positive, negative)]


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
    """One chip on a bus: ``read(input, gain, data_rate, negative)`` gives signed raw
    counts of ``input`` against ``negative`` (None: GND)."""

    def __init__(self, i2c, address: int, clock, *, continuous: bool = False) -> None:
        self.i2c = i2c
        self.address = address
        self.clock = clock
        self.continuous = continuous
        self._ads: BoundedADS1115 | None = None
        self._inputs: dict[tuple[int, int | None], AnalogIn] = {}   # the driver's, per input
        self._armed: tuple[int, int | None, float, int] | None = None   # continuous: (input, negative, gain, rate)
        self._verified = 0.0
        self.arms = 0                                        # how often the chip was armed

    def _driver(self, gain: float, data_rate: int) -> BoundedADS1115:
        if self._ads is None:
            self._armed = None
            self._inputs = {}
            try:
                self._ads = BoundedADS1115(self.i2c, clock=self.clock, address=self.address,
                                           gain=gain, data_rate=data_rate)
            except ValueError as exc:   # the bus device's probe: "No I2C device at address"
                raise BusError(f"ADS1115 at 0x{self.address:02x} does not answer") from exc
        return self._ads

    def _input(self, ads: BoundedADS1115, input_: int, negative: int | None) -> AnalogIn:
        """The driver's ``AnalogIn`` for the input (or the pair), made once per driver."""
        analog = self._inputs.get((input_, negative))
        if analog is None:
            analog = self._inputs[(input_, negative)] = AnalogIn(ads, input_, negative)
        return analog

    def read(self, input_: int, gain: float, data_rate: int, negative: int | None = None) -> int:
        try:
            if self.continuous:
                return self._read_continuous(input_, negative, gain, data_rate)
            ads = self._ads or self._driver(gain, data_rate)
            if ads.gain != gain:
                ads.gain = gain
            if ads.data_rate != data_rate:
                ads.data_rate = data_rate
            return self._input(ads, input_, negative).value
        except ConversionTimeout:
            self._armed = None
            raise
        except OSError as exc:
            self._ads = None   # re-probe and re-configure once the chip answers again
            raise BusError(f"ADS1115 at 0x{self.address:02x}: I2C transfer failed: "
                           f"{exc.strerror or exc}") from exc

    def _read_continuous(self, input_: int, negative: int | None, gain: float, data_rate: int) -> int:
        ads = self._ads
        if ads is None or self._armed != (input_, negative, gain, data_rate):
            return self._arm(self._driver(gain, data_rate), input_, negative, gain, data_rate)
        now = self.clock.monotonic()
        if now - self._verified >= VERIFY_EVERY_S:
            self._verified = now
            if not self._still_converting(ads, mux(input_, negative)):
                return self._arm(ads, input_, negative, gain, data_rate)
            ads.get_last_result(False)         # the check moved the pointer: put it back
        return self._input(ads, input_, negative).value   # the driver's fast read: one two-byte read

    def _arm(self, ads: BoundedADS1115, input_: int, negative: int | None, gain: float, data_rate: int) -> int:
        """Start continuous conversions of the input; the arming conversion is the reading."""
        if ads.mode != Mode.SINGLE:
            ads.mode = Mode.SINGLE
        if ads.gain != gain:
            ads.gain = gain
        if ads.data_rate != data_rate:
            ads.data_rate = data_rate
        raw = self._input(ads, input_, negative).value   # single shot: selects the input
        ads.mode = Mode.CONTINUOUS         # keeps the chip's input; conversions run from now
        ads.get_last_result(False)         # the pointer back at the conversion register
        self._armed = (input_, negative, gain, data_rate)
        self._verified = self.clock.monotonic()
        self.arms += 1
        return raw

    @staticmethod
    def _still_converting(ads: BoundedADS1115, setting: int) -> bool:
        """The chip converts continuously, and the multiplexer ``setting``."""
        buf = bytearray(2)
        with ads.i2c_device as dev:
            dev.write_then_readinto(bytes((_POINTER_CONFIG,)), buf)
        config = buf[0] << 8 | buf[1]
        return not config & _MODE_SINGLE_BIT and (config >> 12) & 0x07 == setting
