"""A register-level model of the TI ADS1115 16-bit ADC (datasheet SBAS444).

Four registers behind a pointer: conversion (0, read-only), config (1), lo_thresh (2)
and hi_thresh (3). Writing config with OS=1 in single-shot mode starts a conversion of
the multiplexer's input at the programmed gain; it takes one data-rate period, during
which reading config shows OS=0. In continuous mode a conversion completes every period.
Counts are signed, clipped at the full-scale range, with electrical noise.
The input voltages come from a callable, so a scenario (or a test) decides them.

The multiplexer's settings 0 to 3 convert a differential pair (AIN0-AIN1, AIN0-AIN3,
AIN1-AIN3, AIN2-AIN3): the positive input's voltage less the negative one's, signed.
``Bridge`` is what a load cell puts on such a pair: a Wheatstone bridge whose output is
proportional to the load, on a small offset, with the noise a real bridge shows at
gain 16, and the faults bridges have (an open excitation or signal lead).
"""

from __future__ import annotations

import random
from typing import Callable

# PGA bits 11:9 -> full-scale range in volts (codes 5..7 are all +-0.256 V).
FULL_SCALE_V = {0: 6.144, 1: 4.096, 2: 2.048, 3: 1.024, 4: 0.512, 5: 0.256, 6: 0.256, 7: 0.256}
# DR bits 7:5 -> samples per second.
DATA_RATES = {0: 8, 1: 16, 2: 32, 3: 64, 4: 128, 5: 250, 6: 475, 7: 860}
# MUX bits 14:12 -> (positive input, negative input or None for GND).
MUX = {0: (0, 1), 1: (0, 3), 2: (1, 3), 3: (2, 3), 4: (0, None), 5: (1, None), 6: (2, None), 7: (3, None)}

CONFIG_RESET = 0x8583
OS_BIT = 0x8000
MODE_SINGLE = 0x0100

# A voltage source: (input 0..3, monotonic time) -> volts at that input.
VoltageSource = Callable[[int, float], float]


def full_scale(gain_code: int) -> float:
    return FULL_SCALE_V[gain_code]


def volts_to_counts(volts: float, gain_code: int) -> int:
    """What an ideal ADS1115 outputs for ``volts``: signed, clipped at full scale."""
    counts = round(volts * 32768.0 / FULL_SCALE_V[gain_code])
    return max(-32768, min(32767, counts))


# A load cell read at gain 16, input-referred: the ADS1115's own noise at +-0.256 V and 475 SPS
# (25.95 uV peak to peak in the data sheet's noise table, about 4 uV RMS) with about 4 uV RMS
# of mains pickup on the cell's leads and ripple on its 3.3 V excitation. About 0.7 of a
# count at gain 16, 0.17 N for a 20 kg, 2 mV/V cell excited from 3.3 V.
BRIDGE_NOISE_V = 5.5e-6


class Bridge:
    """A strain-gauge load cell (a Wheatstone bridge of four gauges) wired to a pair of
    inputs: S+ to the positive, S- to the negative, excited from ``excitation_v``.

    Each output sits near half the excitation. The difference is ``offset_v`` with
    nothing on the cell (the cell's zero balance and the zero-shift resistor of the
    wiring), plus ``volts_per_n`` for every newton of ``load(t)``, plus Gaussian noise of
    ``noise_v`` RMS. The output stays proportional beyond the cell's rating: a real cell
    keeps its line to its safe overload (about 150 %), and nothing here clips it; only
    the ADC does, at its full scale (at gain 16, 39 times the rated output of a 2 mV/V cell
    at 3.3 V).

    ``fault``: None, ``"open_excitation"`` (a broken E+ or E- lead: the bridge has no
    supply, both outputs sit at the same rail and the pair reads zero) or
    ``"open_signal"`` (a broken S+ lead: the positive input's 1 MOhm pull-down takes it to
    ground, half the excitation below S-, and the pair reads the negative full scale).
    """

    def __init__(self, load, *, excitation_v: float, volts_per_n: float, offset_v: float,
                 noise_v: float = 0.0, seed: int = 0) -> None:
        self.load = load                  # t -> newtons on the cell
        self.excitation_v = excitation_v
        self.volts_per_n = volts_per_n
        self.offset_v = offset_v
        self.noise_v = noise_v
        self._gauss = random.Random(seed).gauss
        self.fault: str | None = None

    def positive(self, t: float) -> float:
        """S+: the output that rises with the load. The noise is drawn here, once a
        conversion; it stays when a lead is broken (the converter's own is part of it)."""
        if self.fault is None:
            volts = 0.5 * self.excitation_v + self.offset_v + self.volts_per_n * self.load(t)
        else:                  # no excitation: both outputs at 0 V; a broken S+: pulled to 0 V
            volts = 0.0
        return volts + self._gauss(0.0, self.noise_v) if self.noise_v else volts

    def negative(self, _t: float) -> float:
        """S-: half the excitation (0 V with the excitation gone)."""
        return 0.0 if self.fault == "open_excitation" else 0.5 * self.excitation_v


class ADS1115Model:
    """One ADS1115. ``clock`` gives monotonic time; ``source`` the input voltages."""

    def __init__(self, clock, source: VoltageSource | None = None, *,
                 noise_lsb: float = 0.0, seed: int = 0) -> None:
        self.clock = clock
        self.source: VoltageSource = source or (lambda _input, _t: 0.0)
        self._rng = random.Random(seed)
        self.noise_lsb = noise_lsb
        self.pointer = 0
        self.config = CONFIG_RESET
        self._period = 1.0 / DATA_RATES[(CONFIG_RESET >> 5) & 0x07]
        self.conversion = 0
        self.lo_thresh = 0x8000
        self.hi_thresh = 0x7FFF
        self._busy_until = 0.0          # single-shot conversion in progress until then
        self._pending_start: float | None = None
        self._continuous_since: float | None = None
        # Fault hooks, driven by tests and the scenario rig.
        self.wedged = False             # OS bit never comes back: conversions never finish
        self.stuck_inputs: set[int] = set()  # these inputs repeat their last conversion
        self._last_by_input: dict[int, int] = {}
        self.conversions = 0            # how many conversions were delivered (benchmarks)

    @property
    def noise_lsb(self) -> float:
        return self._noise_lsb

    @noise_lsb.setter
    def noise_lsb(self, sigma: float) -> None:
        """Electrical noise, in LSB (standard deviation). It is drawn as the sum of at least
        64 fair coin flips, centred and scaled (a binomial): at this size that is a
        Gaussian for every purpose here, and it costs one random word instead of two
        logarithms. The conversion then rounds to whole counts, as an ADC does."""
        self._noise_lsb = sigma
        self._noise_bits = max(64, round(4 * sigma * sigma)) if sigma else 0
        self._noise_scale = sigma / (self._noise_bits ** 0.5 / 2) if sigma else 0.0

    def power_on_reset(self) -> None:
        """What a brown-out does: every register back to its reset value, the chip in
        single-shot mode and powered down, its last conversion lost."""
        self.pointer = 0
        self.config = CONFIG_RESET
        self._period = 1.0 / DATA_RATES[(CONFIG_RESET >> 5) & 0x07]
        self.conversion = 0
        self.lo_thresh, self.hi_thresh = 0x8000, 0x7FFF
        self._pending_start = self._continuous_since = None

    # -- the I2C face: what a write or a read of bytes does --------------------------
    def write(self, data) -> None:
        if not data:
            return  # an address-only probe
        self.pointer = pointer = data[0] & 0x03
        if len(data) >= 3:
            self._write_register(pointer, (data[1] << 8) | data[2])

    def read(self, n: int) -> bytes:
        if self._pending_start is not None or self._continuous_since is not None:
            self._settle(self.clock.monotonic())
        reg = self.pointer
        if reg == 0:
            value = self.conversion
        elif reg == 1:
            value = self.config
        else:
            value = self.lo_thresh if reg == 2 else self.hi_thresh
        out = value.to_bytes(2, "big")
        return out if n == 2 else (out * ((n + 1) // 2))[:n]

    # -- registers -------------------------------------------------------------------
    def _write_register(self, reg: int, value: int) -> None:
        if reg != 1:
            if reg == 2:
                self.lo_thresh = value
            elif reg == 3:
                self.hi_thresh = value
            return  # the conversion register (0) is read-only
        now = self.clock.monotonic()
        self._settle(now)
        self.config = value & 0x7FFF | (self.config & OS_BIT)
        self._period = 1.0 / DATA_RATES[(value >> 5) & 0x07]
        if value & MODE_SINGLE:
            self._continuous_since = None
            if value & OS_BIT and self._pending_start is None:
                self._pending_start = now
                self._busy_until = now + self._period
                self.config &= ~OS_BIT
        else:
            self._continuous_since = now
            self._pending_start = None

    def _settle(self, now: float) -> None:
        """Bring the conversion register up to ``now``."""
        if self._pending_start is not None:
            if now >= self._busy_until and not self.wedged:
                self.conversion = self._convert(self._pending_start) & 0xFFFF
                self._pending_start = None
                self.config |= OS_BIT
        elif self._continuous_since is not None and not self.wedged:
            period = self._period
            done = int((now - self._continuous_since) / period)
            if done >= 1:
                last = self._continuous_since + done * period
                self.conversion = self._convert(last - period) & 0xFFFF
                self._continuous_since = last

    # -- the analog part -------------------------------------------------------------
    def _convert(self, t: float) -> int:
        config = self.config
        positive, negative = MUX[(config >> 12) & 0x07]
        self.conversions += 1
        if positive in self.stuck_inputs and positive in self._last_by_input:
            return self._last_by_input[positive]
        source = self.source
        volts = source(positive, t)
        if negative is not None:
            volts -= source(negative, t)
        counts = volts * 32768.0 / FULL_SCALE_V[(config >> 9) & 0x07]
        bits = self._noise_bits
        if bits:
            counts += (self._rng.getrandbits(bits).bit_count() - bits / 2) * self._noise_scale
        value = -32768 if counts < -32768 else 32767 if counts > 32767 else round(counts)
        self._last_by_input[positive] = value
        return value
