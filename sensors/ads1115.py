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
zones, read a hundred times a second in a session; the lean path makes that one read
straight on the bus, as the driver's fast read does). The driver's continuous mode needs
care (3.0.x): switching to it keeps whatever input the chip was converting, and its fast
read assumes the register pointer is at the conversion register. So the reader arms a
chip with a single-shot read of its input, switches it to continuous, and puts the
pointer back; and once a second it checks that the chip is still converting that input
(a chip that browned out wakes in single-shot mode) and arms it again if not.

A single-shot chip is read by the lean path (``LeanSingleShot``): the very register
transfers the driver's ``AnalogIn`` makes (config write, ready poll, pointer and result
read), straight on the bus with each input's config word worked out once, because the
driver's layers (properties, context managers, a config word rebuilt per read) cost more
than the bus itself. Its readings are the driver's, transfer for transfer: tests read the
same register model through both and compare. It also overlaps conversions: ``read(...,
then=...)`` starts the next channel's conversion as it reads this one, so that the next
reading is waiting when its turn comes and the loop never sleeps through a conversion.
``ADS1115Reader(..., lean=False)`` reads through the unmodified driver's ``AnalogIn``, in
both modes.
"""

from __future__ import annotations

from adafruit_ads1x15 import ADS1115, AnalogIn
from adafruit_ads1x15.ads1115 import _ADS1115_CONFIG_DR
from adafruit_ads1x15.ads1x15 import _ADS1X15_CONFIG_COMP_QUEUE, _ADS1X15_CONFIG_GAIN, Mode

from pi_agent.errors import BusError, ConversionTimeout

# The ADS1115's oscillator is within 10 % of nominal (datasheet 7.3.6); allow that.
_RATE_TOLERANCE = 1.1
# Between polls after the expected conversion time.
_POLL_FRACTION = 0.05
_POINTER_CONFIG = 0x01
# A chip in continuous mode is checked this often (seconds) to still be converting.
VERIFY_EVERY_S = 1.0
_MODE_SINGLE_BIT = 0x0100
_OS_BIT = 0x8000
_POINT_AT_CONVERSION = b"\x00"
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

    def __init__(self, i2c, address: int, clock, *, continuous: bool = False, lean: bool = True) -> None:
        self.i2c = i2c
        self.address = address
        self.clock = clock
        self.continuous = continuous
        self._ads: BoundedADS1115 | None = None
        # Single shot: the lean path (None: through the driver's AnalogIn, the reference).
        self._lean: LeanSingleShot | None = LeanSingleShot(i2c, address, clock) if lean and not continuous else None
        # Continuous: the driver's fast read (one two-byte read of the result) made straight on the bus.
        self._lean_continuous = lean and continuous
        self._buf = bytearray(2)
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

    def read(self, input_: int, gain: float, data_rate: int, negative: int | None = None,
             then: tuple[int, int | None, float, int] | None = None) -> int:
        """Signed raw counts of ``input_`` against ``negative``. ``then``: (input, negative,
        gain, data rate) of the conversion to start now, for the next read of this chip
        (single shot, lean path)."""
        try:
            if self.continuous:
                return self._read_continuous(input_, negative, gain, data_rate)
            lean = self._lean
            if lean is not None:
                if self._ads is None:
                    self._driver(gain, data_rate)     # probes the chip (a BusError if absent)
                    lean.pending = None
                return lean.read(mux(input_, negative), gain, data_rate,
                                 None if then is None else (mux(then[0], then[1]), then[2], then[3]))
            ads = self._ads or self._driver(gain, data_rate)
            if ads.gain != gain:
                ads.gain = gain
            if ads.data_rate != data_rate:
                ads.data_rate = data_rate
            return self._input(ads, input_, negative).value
        except ConversionTimeout:
            self._armed = None
            if self._lean is not None:
                self._lean.pending = None
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
            raw = ads.get_last_result(False)   # the check moved the pointer: back, reading
            return raw - 0x10000 if raw & 0x8000 else raw
        if not self._lean_continuous:
            return self._input(ads, input_, negative).value   # the driver's fast read: one two-byte read
        i2c, buf = self.i2c, self._buf        # the same read, straight on the bus: the pointer is at the result
        while not i2c.try_lock():
            pass
        try:
            i2c.readfrom_into(self.address, buf)
        finally:
            i2c.unlock()
        value = buf[0] << 8 | buf[1]
        return value - 0x10000 if value & 0x8000 else value

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


class LeanSingleShot:
    """Single-shot conversions of one chip, read with the driver's own transfers straight
    on the bus: a cached config word per (multiplexer setting, gain, data rate), a sleep
    of one conversion time, a bounded poll of the ready bit, the result. A conversion
    started by ``then`` is picked up by the next read of that same setting (if the chip
    has not forgotten it: its config must still hold the word)."""

    def __init__(self, i2c, address: int, clock) -> None:
        self.i2c = i2c
        self.address = address
        self.clock = clock
        self.buf = bytearray(2)
        self._words: dict[tuple[int, float, int], tuple[bytes, int, float]] = {}
        self.pending: tuple[tuple[int, float, int], float] | None = None   # (what, started at)

    def _word(self, key: tuple[int, float, int]) -> tuple[bytes, int, float]:
        """The config write that starts ``key``'s conversion (as the driver's
        ``_write_config`` builds it), the word, and the conversion time."""
        found = self._words.get(key)
        if found is None:
            setting, gain, data_rate = key
            word = (_OS_BIT | setting << 12 | _ADS1X15_CONFIG_GAIN[gain] | Mode.SINGLE
                    | _ADS1115_CONFIG_DR[data_rate] | _ADS1X15_CONFIG_COMP_QUEUE[0])
            found = self._words[key] = (bytes((_POINTER_CONFIG, word >> 8, word & 0xFF)), word, 1.0 / data_rate)
        return found

    def _lock(self):
        i2c = self.i2c
        while not i2c.try_lock():
            pass
        return i2c

    def _start(self, key: tuple[int, float, int]) -> float:
        i2c = self._lock()
        try:
            i2c.writeto(self.address, self._word(key)[0])
        finally:
            i2c.unlock()
        return self.clock.monotonic()

    def read(self, setting: int, gain: float, data_rate: int, then: tuple[int, float, int] | None = None) -> int:
        """Signed counts of multiplexer ``setting``; ``then``: (setting, gain, data rate) to
        start converting as this one is read."""
        key = (setting, gain, data_rate)
        pending = self.pending
        if pending is not None and pending[0] == key:
            started = pending[1]
        else:
            if pending is not None:       # another input's conversion runs: let it end first
                self.pending = None
                self.clock.sleep(pending[1] + self._word(pending[0])[2] * _RATE_TOLERANCE - self.clock.monotonic())
            started = self._start(key)
        self.pending = None
        raw = self._collect(key, started)
        if raw is None:                   # the chip forgot the conversion (a brown-out): again
            raw = self._collect(key, self._start(key))
            if raw is None:
                raise ConversionTimeout(f"ADS1115 at 0x{self.address:02x}: the chip does not keep its configuration")
        if then is not None:
            self.pending = (then, self._start(then))
        return raw

    def _collect(self, key: tuple[int, float, int], started: float) -> int | None:
        """The conversion started at ``started``: wait for it (bounded), read it. None: the
        chip's config is not the word that started it."""
        _, word, period = self._words.get(key) or self._word(key)
        clock, buf, address, i2c = self.clock, self.buf, self.address, self.i2c
        wait = started + period - clock.monotonic()
        if wait > 0:
            clock.sleep(wait)
        while True:
            while not i2c.try_lock():
                pass
            try:
                i2c.readfrom_into(address, buf)      # the pointer is at config since the start
            finally:
                i2c.unlock()
            config = buf[0] << 8 | buf[1]
            if config & 0x7FFF != word & 0x7FFF:
                return None
            if config & _OS_BIT:
                break
            timeout = max(0.02, 4 * _RATE_TOLERANCE * period)
            if clock.monotonic() - started > timeout:
                raise ConversionTimeout(f"ADS1115 at 0x{address:02x}: conversion not ready "
                                        f"after {timeout * 1000:.0f} ms")
            clock.sleep(_POLL_FRACTION * period)
        while not i2c.try_lock():
            pass
        try:
            i2c.writeto_then_readfrom(address, _POINT_AT_CONVERSION, buf)
        finally:
            i2c.unlock()
        value = buf[0] << 8 | buf[1]
        return value - 0x10000 if value & 0x8000 else value
