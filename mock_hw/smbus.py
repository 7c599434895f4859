"""An smbus2-like face on a ``MockI2C`` bus, for drivers written against smbus2."""

from __future__ import annotations

from mock_hw.i2c import MockI2C


class MockSMBus:
    """The subset of ``smbus2.SMBus`` that register-based drivers use."""

    def __init__(self, bus: MockI2C) -> None:
        self.bus = bus
        self.closed = False

    def write_byte_data(self, i2c_addr: int, register: int, value: int, force=None) -> None:
        self.bus.writeto(i2c_addr, bytes((register & 0xFF, value & 0xFF)))

    def read_byte_data(self, i2c_addr: int, register: int, force=None) -> int:
        buf = bytearray(1)
        self.bus.writeto_then_readfrom(i2c_addr, bytes((register & 0xFF,)), buf)
        return buf[0]

    def write_i2c_block_data(self, i2c_addr: int, register: int, data, force=None) -> None:
        self.bus.writeto(i2c_addr, bytes((register & 0xFF, *data)))

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int, force=None) -> list[int]:
        buf = bytearray(length)
        self.bus.writeto_then_readfrom(i2c_addr, bytes((register & 0xFF,)), buf)
        return list(buf)

    def write_word_data(self, i2c_addr: int, register: int, value: int, force=None) -> None:
        # SMBus words are little-endian on the wire.
        self.bus.writeto(i2c_addr, bytes((register & 0xFF, value & 0xFF, (value >> 8) & 0xFF)))

    def read_word_data(self, i2c_addr: int, register: int, force=None) -> int:
        buf = bytearray(2)
        self.bus.writeto_then_readfrom(i2c_addr, bytes((register & 0xFF,)), buf)
        return buf[0] | (buf[1] << 8)

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> "MockSMBus":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
