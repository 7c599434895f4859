"""All configured channels, grouped by chip, read through one I2C bus object.

The bus is any object with busio's I2C methods: ``busio.I2C`` on a Raspberry Pi
(``open_i2c``), or ``mock_hw.i2c.MockI2C`` in simulation and tests. One chip's bus error
is a fault of that chip's channels only; the other chips keep reading.
"""

from __future__ import annotations

from pi_agent.errors import BusError, CalibrationError, ConversionTimeout
from sensors.ads1115 import ADS1115Reader
from sensors.calibration import PAD
from sensors.channel import Channel, Reading
from sensors.units import G


def open_i2c(bus_number: int = 1):
    """The real I2C bus. Imports Blinka only here, so everything else runs anywhere."""
    try:
        if bus_number == 1:
            import board
            import busio
            return busio.I2C(board.SCL, board.SDA, frequency=400_000)
        from adafruit_extended_bus import ExtendedI2C
        return ExtendedI2C(bus_number)
    except (ImportError, NotImplementedError, RuntimeError, ValueError, OSError) as exc:
        raise BusError(f"cannot open I2C bus {bus_number}: {exc} (on a computer without the "
                       f"hardware, use --simulate)") from exc


# Said when a calibration file from before load cells meets the configuration of now.
_KIND_HINT = {("load_cell", "force"): " (the pad is built with load cells now: see the README's wiring; "
                                     "an FSR pad needs kind = \"force\" in the configuration)"}


def build_channels(cfg, calibrations: dict) -> dict[str, Channel]:
    """Channels from the configuration and the calibration file, checked against each other."""
    problems = []
    channels = {}
    for name, s in cfg.sensors.items():
        cal = calibrations.get(name)
        if cal is None:
            problems.append(f"{cfg.calibration_path}: {name}: missing (the configuration has a {s.kind} channel '{name}')")
            continue
        if cal.kind != s.kind:
            problems.append(f"{cfg.calibration_path}: {name}.kind: expected '{s.kind}' as in the configuration, "
                            f"got '{cal.kind}'{_KIND_HINT.get((s.kind, cal.kind), '')}")
            continue
        if cal.gain != s.gain:
            cal = cal.rescaled(s.gain)
        channels[name] = Channel(
            name, kind=s.kind, chip=s.chip, input=s.input, gain=s.gain, data_rate=s.data_rate,
            calibration=cal, vdd=cfg.hardware.vdd, rail_margin_v=cfg.faults.rail_margin_v,
            stuck_after_s=cfg.faults.stuck_after_s, stuck_min_samples=cfg.faults.stuck_min_samples,
            rating_n=s.rating_kg * G)
    for name in calibrations:
        if name not in cfg.sensors and name != PAD:
            problems.append(f"{cfg.calibration_path}: {name}: no such channel in the configuration")
    if problems:
        raise CalibrationError(problems)
    return channels


class SensorArray:
    """The channels, grouped by chip. ``continuous``: the chips read in continuous mode."""

    def __init__(self, i2c, channels: dict[str, Channel], chip_addresses: dict[str, int], clock,
                 continuous: frozenset[str] | set[str] = frozenset(), *, lean: bool = True) -> None:
        """``lean``: single-shot chips read by the lean path (False: through Adafruit's
        driver, the reference the lean path is tested against)."""
        self.channels = channels
        self.clock = clock
        self.readers = {chip: ADS1115Reader(i2c, address, clock, continuous=chip in continuous, lean=lean)
                        for chip, address in chip_addresses.items()}
        self.by_chip: dict[str, list[Channel]] = {chip: [] for chip in chip_addresses}
        for ch in channels.values():
            self.by_chip[ch.chip].append(ch)
        self.where = {ch.name: (ch.chip, i) for chip, chs in self.by_chip.items() for i, ch in enumerate(chs)}

    @classmethod
    def configured(cls, cfg, i2c, channels: dict[str, Channel], clock) -> "SensorArray":
        """The array of the configuration's chips (addresses and modes)."""
        return cls(i2c, channels, {n: c.address for n, c in cfg.chips.items()}, clock,
                   {n for n, c in cfg.chips.items() if c.mode == "continuous"})

    def read_channel(self, chip: str, index: int, data_rate: int | None = None, then: int | None = None) -> list[Reading]:
        """Read one channel of ``chip`` (at ``data_rate`` samples a second, else its own),
        and start the conversion of its channel ``then``, read next (at the same rate).
        When the chip does not answer, every one of its channels is in fault (one reading
        each)."""
        channels = self.by_chip[chip]
        ch = channels[index]
        rate = data_rate or ch.data_rate
        try:
            if then is None:
                raw = self.readers[chip].read(ch.input, ch.gain, rate, ch.negative)
            else:
                nxt = channels[then]
                raw = self.readers[chip].read(ch.input, ch.gain, rate, ch.negative,
                                              (nxt.input, nxt.negative, nxt.gain, data_rate or nxt.data_rate))
        except ConversionTimeout:
            return [ch.failed(self.clock.monotonic(), "adc_timeout")]
        except BusError:
            t = self.clock.monotonic()
            return [c.failed(t, "i2c_error") for c in channels]
        return [ch.accept(self.clock.monotonic(), raw)]

    def read(self, names, data_rate: int | None = None, then: str | None = None) -> list[Reading]:
        """Read the named channels once each, in order (at ``data_rate``, else each its own;
        a chip that does not answer: each of its channels in fault, once). ``then``: a
        channel read next, whose conversion its chip starts as it is read here (a
        single-shot chip; the last name's chip)."""
        if len(names) == 1:                  # one channel (a chip's turn): the common case
            chip, index = self.where[names[0]]
            nxt = None
            if then is not None:
                then_chip, then_index = self.where[then]
                nxt = then_index if then_chip == chip else None
            return self.read_channel(chip, index, data_rate, nxt)
        out: list[Reading] = []
        failed = set()
        last = len(names) - 1
        for i, name in enumerate(names):
            chip, index = self.where[name]
            if chip in failed:
                continue
            nxt = None
            if i == last and then is not None:
                then_chip, then_index = self.where[then]
                nxt = then_index if then_chip == chip else None
            readings = self.read_channel(chip, index, data_rate, nxt)
            if len(readings) > 1:
                failed.add(chip)
            out.extend(readings)
        return out

    def read_chip(self, chip: str) -> list[Reading]:
        """Read every channel of ``chip`` once (a failing chip: each in fault, once)."""
        return self.read([ch.name for ch in self.by_chip[chip]])
