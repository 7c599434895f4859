"""One channel: raw counts to a physical value, and the faults a reading reveals.

Faults, by how they show:
- ``disconnected``: the input sits at a supply rail. A broken wire lets the input's
  pull-up take it to the top rail; a flex divider never reaches ground either, so a
  flex channel at ground is disconnected too. A force channel at ground is simply
  no force (its sensor is an open circuit at rest).
- ``stuck``: real inputs always show a little noise, so the very same raw value for
  ``stuck_after_s`` (over at least ``stuck_min_samples`` readings) is a wedged input.
  A force channel resting at ground is quiet for real and is not judged stuck.
- ``i2c_error`` and ``adc_timeout``: the chip did not answer, or never finished a
  conversion (reported by the reader, not seen in the counts).
"""

from __future__ import annotations

from typing import NamedTuple

from sensors.units import MAX_COUNT, lsb_volts

FAULT_TEXT = {
    "disconnected": "disconnected",
    "stuck": "stuck (no change in its signal)",
    "i2c_error": "not answering on the I2C bus",
    "adc_timeout": "ADC not finishing its conversions",
}

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
    """One reading of one channel at monotonic time ``t``; ``value`` is None in fault.
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
                 stuck_after_s: float, stuck_min_samples: int) -> None:
        self.name = name
        self.kind = kind
        self.chip = chip
        self.input = input
        self.gain = gain
        self.data_rate = data_rate
        self.calibration = calibration
        lsb = lsb_volts(gain)
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
        fault = self._judge(t, raw)
        self.fault = fault
        if fault is not None:
            return Reading(self.name, t, raw, None, fault)
        return Reading(self.name, t, raw, self.calibration.to_physical(raw), None)

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
        if raw != self._same_raw or at_ground:
            self._same_raw, self._same_since, self._same_count = raw, t, 1
            return None
        self._same_count += 1
        if t - self._same_since >= self.stuck_after_s and self._same_count >= self.stuck_min_samples:
            return "stuck"
        return None
