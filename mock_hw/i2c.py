"""A simulated I2C bus with the busio methods Adafruit's bus device calls.

Devices are objects with ``write(bytes)`` and ``read(n) -> bytes``, registered at a
7-bit address. A missing address fails the way Linux's i2c-dev does (no ACK), and an
address put in ``failing`` fails every transfer with an OS error, as a chip with a
broken wire or a brown-out does.
"""

from __future__ import annotations

import errno
import functools
import threading


class MockI2C:
    """Stands in for ``busio.I2C`` (and, through ``MockSMBus``, for ``smbus2.SMBus``).

    With ``clock`` and ``frequency`` given, each transfer lets the time the bytes take
    on the wire pass on that clock (9 bits a byte plus start, address and stop), so a
    virtual-time run pays what a real bus costs.
    """

    def __init__(self, clock=None, frequency: int | None = None) -> None:
        self.devices: dict[int, object] = {}
        self.failing: set[int] = set()
        self.transfers = 0
        self._clock = clock
        # Wire time of a byte: 8 bits and an ACK (start, address and stop are two bytes' worth).
        self._byte_time = 9.0 / frequency if frequency and clock is not None else 0.0
        lock = threading.Lock()
        # busio's bus lock, bound straight to the lock's own methods (no Python frame:
        # the driver takes it around every transfer).
        self.try_lock = functools.partial(lock.acquire, False)
        self.unlock = lock.release
        self.before_transfer = None   # a hook run before each transfer (fault injection)

    def add(self, address: int, device: object) -> None:
        self.devices[address] = device

    # -- busio.I2C ---------------------------------------------------------------
    def scan(self) -> list[int]:
        return sorted(a for a in self.devices if a not in self.failing)

    def writeto(self, address: int, buffer, *, start: int = 0, end: int | None = None) -> None:
        data = buffer[start:end]
        self._device(address, len(data)).write(data)

    def readfrom_into(self, address: int, buffer, *, start: int = 0, end: int | None = None) -> None:
        end = len(buffer) if end is None else end
        buffer[start:end] = self._device(address, end - start).read(end - start)

    def writeto_then_readfrom(self, address: int, buffer_out, buffer_in, *, out_start: int = 0,
                              out_end: int | None = None, in_start: int = 0,
                              in_end: int | None = None) -> None:
        n = (len(buffer_in) if in_end is None else in_end) - in_start
        out = buffer_out[out_start:out_end]
        device = self._device(address, len(out) + n)
        device.write(out)
        buffer_in[in_start:in_start + n] = device.read(n)

    def deinit(self) -> None:
        pass

    def __enter__(self) -> "MockI2C":
        return self

    def __exit__(self, *exc) -> None:
        self.deinit()

    # -- internals -----------------------------------------------------------------
    def _device(self, address: int, nbytes: int):
        self.transfers += 1
        if self.before_transfer is not None:
            self.before_transfer()
        if self._byte_time:
            self._clock.sleep((nbytes + 2) * self._byte_time)
        device = self.devices.get(address)
        if device is None or address in self.failing:
            if device is None:
                raise OSError(errno.EREMOTEIO, f"no I2C device answers at 0x{address:02x}")
            raise OSError(errno.EIO, f"I2C transfer to 0x{address:02x} failed (simulated fault)")
        return device
