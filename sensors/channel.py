"""One channel: raw counts to a physical value, and the faults a reading reveals.

Faults, by how they show:
- ``disconnected``: the input sits at a supply rail. A broken wire lets the input's
  pull-up take it to the top rail; a flex divider never reaches ground either, so a
  flex channel at ground is disconnected too. A force channel at ground is simply
  no force (its sensor is an open circuit at rest).
  A load cell (a bridge on a differential pair) is disconnected when it reads the ADC's
  full scale, either sign (a broken signal lead: its input's pull-down takes it to
  ground, 1.65 V from the other), or near zero (a broken excitation lead: the bridge has
  no supply, so both its outputs sit at the same rail). A working bridge never reads near
  zero: a resistor from its S+ to its E+ shifts the empty pad to about +1.75 mV.
- ``overload``: a load cell carries more than its rating. The reading keeps its value
  (it is never clipped into the target band, and the over-maximum alarm still sounds);
  the fault says that the figure is beyond what the cell is made for.
- ``stuck``: real inputs always show a little noise, so the very same raw value for
  ``stuck_after_s`` (over at least ``stuck_min_samples`` readings) is a wedged input.
  A force channel resting at ground is quiet for real and is not judged stuck. A load
  cell is read at gain 16, where its noise is under one count: about one reading in three
  repeats the one before, so it takes ``LOAD_CELL_STUCK_MIN_SAMPLES`` identical readings
  (never seen by chance: 0.37 ** 24 is 4e-11) to call it stuck.
- ``i2c_error`` and ``adc_timeout``: the chip did not answer, or never finished a
  conversion (reported by the reader, not seen in the counts).
"""

from __future__ import annotations

from typing import NamedTuple

from sensors.units import MAX_COUNT, MIN_COUNT, lsb_volts

FAULT_TEXT = {
    "disconnected": "disconnected",
    "stuck": "stuck (no change in its signal)",
    "i2c_error": "not answering on the I2C bus",
    "adc_timeout": "ADC not finishing its conversions",
    "overload": "overloaded (more than its load cell is rated for)",
}

# The pad's zones (the core's PAD_CHANNELS), named here for the configuration's checks.
PAD_ZONES = ("pad_palm", "pad_fingers")
# A load cell reading within this of zero volts has no excitation (a broken E+ or E- lead).
# A working bridge reads about +1.75 mV empty (its zero-shift resistor) and only more under
# load; the noise is about 6 uV RMS, so 64 uV (8 counts at gain 16) is ten of it.
OPEN_EXCITATION_V = 64e-6
# A load cell at this share of the ADC's full scale has a broken signal lead: at gain 16 the
# cell itself would need 39 times its rating to get there.
RAIL_SHARE = 0.99
LOAD_CELL_STUCK_MIN_SAMPLES = 25

# The default channels as people read them (the status line, fault messages); a channel
# a configuration adds is shown by its name.
LABELS = {
    "wrist": "wrist",
    "fingers": "fingers",
    "palm": "palm (in the splint)",
    "pad_palm": "pad (heel of the hand)",
    "pad_fingers": "pad (fingers)",
}


def label(channel: str) -> str:
    """A channel's name for a person: 'pad (heel of the hand)' for pad_palm."""
    return LABELS.get(channel, channel.replace("_", " "))


class Reading(NamedTuple):
    """One reading of one channel at monotonic time ``t``; ``value`` is None in fault,
    except an ``overload``, which keeps the load it measured.
    (A named tuple: immutable, and the cheapest record to make, at hundreds a second.)"""
    channel: str
    t: float
    raw: int | None
    value: float | None
    fault: str | None = None


class Channel:
    """A configured channel with its calibration and its fault detector."""

    def __init__(self, name: str, *, kind: str, chip: str, input: int, gain: float,
                 data_rate: int, calibration, vdd: float, rail_margin_v: float,
                 stuck_after_s: float, stuck_min_samples: int, rating_n: float | None = None) -> None:
        """``kind`` 'load_cell': a bridge on the differential pair ``input``, ``input + 1``,
        rated for ``rating_n``."""
        self.name = name
        self.kind = kind
        self.chip = chip
        self.input = input
        self.bridge = kind == "load_cell"
        self.negative = input + 1 if self.bridge else None   # the pair's other input (None: GND)
        self.rating_n = rating_n if self.bridge else None
        self.gain = gain
        self.data_rate = data_rate
        self.calibration = calibration
        lsb = lsb_volts(gain)
        if self.bridge:
            self.high_rail = RAIL_SHARE * MAX_COUNT
            self.low_rail = RAIL_SHARE * MIN_COUNT
            self.zero_band = OPEN_EXCITATION_V / lsb
            stuck_min_samples = max(stuck_min_samples, LOAD_CELL_STUCK_MIN_SAMPLES)
        else:
            self.high_rail = min(MAX_COUNT, (vdd - rail_margin_v) / lsb)
            self.low_rail = rail_margin_v / lsb
        self.stuck_after_s = stuck_after_s
        self.stuck_min_samples = stuck_min_samples
        self._same_raw: int | None = None
        self._same_since = 0.0
        self._same_count = 0
        self.fault: str | None = None

    def accept(self, t: float, raw: int) -> Reading:
        """A fresh raw value: convert it, or report the fault it shows."""
        fault = self._judge_bridge(t, raw) if self.bridge else self._judge(t, raw)
        if fault is None:
            value = self.calibration.to_physical(raw)
            if self.rating_n is not None and value > self.rating_n:
                fault = "overload"
            self.fault = fault
            return Reading(self.name, t, raw, value, fault)
        self.fault = fault
        return Reading(self.name, t, raw, None, fault)

    def failed(self, t: float, fault: str) -> Reading:
        """The reader could not get a value (``i2c_error``, ``adc_timeout``)."""
        self.fault = fault
        self._same_raw = None
        return Reading(self.name, t, None, None, fault)

    def _judge(self, t: float, raw: int) -> str | None:
        at_ground = raw <= self.low_rail
        if raw >= self.high_rail or (at_ground and self.kind == "flex"):
            self._same_raw = None
            return "disconnected"
        return self._judge_stuck(t, raw, at_ground)

    def _judge_bridge(self, t: float, raw: int) -> str | None:
        if raw >= self.high_rail or raw <= self.low_rail or -self.zero_band <= raw <= self.zero_band:
            self._same_raw = None
            return "disconnected"
        return self._judge_stuck(t, raw, False)

    def _judge_stuck(self, t: float, raw: int, quiet: bool) -> str | None:
        if raw != self._same_raw or quiet:
            self._same_raw, self._same_since, self._same_count = raw, t, 1
            return None
        self._same_count += 1
        if t - self._same_since >= self.stuck_after_s and self._same_count >= self.stuck_min_samples:
            return "stuck"
        return None
