"""The calibrations themselves: raw ADC counts to physical units and back, one kind a sensor.

Flex sensors: a straight line through two measured points (counts, degrees).
Force-sensing resistors are far from linear, so a force channel has a piecewise-linear
table of raw counts to newtons (the sensor's curve; both ends extrapolate along their
outer segment) and a *tare*, the counts with nothing pressing: the force is
``table(counts) - table(tare)``. The tare is taken off in newtons, not in counts, because
an FSR's curve is steep near zero and flat under load: a few counts of doubt about the
empty pad are a few hundredths of a newton, where a shift in counts would be tens of
newtons at a full push.
A load cell is a straight line: its calibration is the empty pad and one or more known
weights, a slope fitted through them, and a tare; the load is ``(counts - tare) * slope``.
With two weights or more the points also show whether the pad is linear
(``LoadCellCalibration.linearity_problem``).
Each conversion has an exact inverse, which the simulated hardware uses to turn a
scenario's newtons into counts. The file they live in is ``sensors.calibration``'s.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from sensors.units import FULL_SCALE_V, G


@dataclass(frozen=True)
class FlexCalibration:
    """Degrees from counts, linear through two measured points."""

    points: tuple[tuple[float, float], tuple[float, float]]
    gain: float = 1
    date: str = ""
    kind: str = field(default="flex", init=False)

    def __post_init__(self) -> None:
        (c0, d0), (c1, d1) = self.points
        object.__setattr__(self, "_slope", (d1 - d0) / (c1 - c0))

    def to_physical(self, counts: float) -> float:
        (c0, d0), _ = self.points
        return d0 + (counts - c0) * self._slope

    def to_counts(self, degrees: float) -> float:
        (c0, d0), _ = self.points
        return c0 + (degrees - d0) / self._slope

    def rescaled(self, gain: float) -> "FlexCalibration":
        k = FULL_SCALE_V[self.gain] / FULL_SCALE_V[gain]
        (c0, d0), (c1, d1) = self.points
        return FlexCalibration(((c0 * k, d0), (c1 * k, d1)), gain, self.date)

    def to_toml(self) -> dict:
        return {"kind": "flex", "gain": self.gain, "date": self.date,
                "points": [list(p) for p in self.points]}


@dataclass(frozen=True)
class ForceCalibration:
    """Newtons from counts: the table's curve, less its value at the tare."""

    tare: float
    table: tuple[tuple[float, float], ...]
    gain: float = 1
    date: str = ""
    kind: str = field(default="force", init=False)

    def __post_init__(self) -> None:
        counts, newtons = [c for c, _ in self.table], [n for _, n in self.table]
        curve, inverse = _piecewise(counts, newtons), _piecewise(newtons, counts)
        zero = curve(self.tare)
        object.__setattr__(self, "_curve", curve)
        object.__setattr__(self, "_inverse", inverse)
        object.__setattr__(self, "_zero", zero)

    def to_physical(self, counts: float) -> float:
        return self._curve(counts) - self._zero

    def to_counts(self, newtons: float) -> float:
        return self._inverse(newtons + self._zero)

    def with_tare(self, tare: float, date: str) -> "ForceCalibration":
        return ForceCalibration(tare, self.table, self.gain, date)

    def rescaled(self, gain: float) -> "ForceCalibration":
        k = FULL_SCALE_V[self.gain] / FULL_SCALE_V[gain]
        return ForceCalibration(self.tare * k, tuple((c * k, n) for c, n in self.table), gain, self.date)

    def to_toml(self) -> dict:
        return {"kind": "force", "gain": self.gain, "date": self.date, "tare": self.tare,
                "table": [list(p) for p in self.table]}


# A known weight may sit off the line fitted through all of them by this share of itself,
# plus two counts' worth of newtons (the rounding of the readings it was averaged from).
LINEARITY_PCT = 1.0


@dataclass(frozen=True)
class LoadCellCalibration:
    """Newtons from counts for a strain-gauge load cell: a straight line.

    ``points`` are what the calibration measured: the empty pad ``[counts, 0]`` first,
    then each known weight ``[counts, newtons]``. The slope (newtons a count) is the
    least-squares line through the first point, so one weight is enough and more weights
    average out each one's doubt. ``tare`` is the empty pad's counts now: a later tare moves
    it and keeps the slope (a cell's zero drifts with temperature; its slope does not).
    """

    tare: float
    points: tuple[tuple[float, float], ...]
    gain: float = 16
    date: str = ""
    kind: str = field(default="load_cell", init=False)

    def __post_init__(self) -> None:
        (c0, _), *weights = self.points
        slope = sum((c - c0) * n for c, n in weights) / sum((c - c0) ** 2 for c, _ in weights)
        object.__setattr__(self, "_slope", slope)

    @property
    def newtons_per_count(self) -> float:
        """The resolution: the load one count stands for."""
        return self._slope

    def to_physical(self, counts: float) -> float:
        return (counts - self.tare) * self._slope

    def to_counts(self, newtons: float) -> float:
        return self.tare + newtons / self._slope

    def line(self, counts: float) -> float:
        """What the fitted line reads for ``counts``, from the calibration's own empty pad."""
        return (counts - self.points[0][0]) * self._slope

    def linearity_problem(self) -> str | None:
        """One line when a known weight sits off the line fitted through all of them by
        more than ``LINEARITY_PCT`` of itself (plus two counts' worth), else None. A weight
        that reads off the line is one that touched the frame, a plate that rubs or rocks,
        or a mass typed wrong. The line names the odd one out: of three weights or more, the
        one without which the others lie best on a line, and what it reads on their line;
        of two, the one further off. One weight has nothing to compare with: None."""
        (c0, _), *weights = self.points
        if len(weights) < 2:
            return None

        def allowed(newtons: float) -> float:
            return LINEARITY_PCT / 100 * newtons + 2 * self._slope

        def fit(ws) -> float:
            return sum((c - c0) * n for c, n in ws) / sum((c - c0) ** 2 for c, _ in ws)

        def worst(ws, slope: float) -> float:
            return max(abs((c - c0) * slope - n) / allowed(n) for c, n in ws)

        if worst(weights, self._slope) <= 1:
            return None
        if len(weights) > 2:
            def others(i: int) -> list[tuple[float, float]]:
                return [w for j, w in enumerate(weights) if j != i]
            i = min(range(len(weights)), key=lambda i: worst(others(i), fit(others(i))))
            slope, line = fit(others(i)), "the line through the others"
        else:
            i = max(range(2), key=lambda i: abs(self.line(weights[i][0]) - weights[i][1]) / allowed(weights[i][1]))
            slope, line = self._slope, "the line through both"
        counts, newtons = weights[i]
        read = (counts - c0) * slope
        return (f"the known weights do not lie on a straight line: {newtons / G:g} kg ({newtons:.1f} N) reads "
                f"{read:.1f} N on {line} ({100 * (read - newtons) / newtons:+.1f} %; more than {LINEARITY_PCT:g} % "
                f"is not a straight line)")

    def with_tare(self, tare: float, date: str) -> "LoadCellCalibration":
        return LoadCellCalibration(tare, self.points, self.gain, date)

    def rescaled(self, gain: float) -> "LoadCellCalibration":
        k = FULL_SCALE_V[self.gain] / FULL_SCALE_V[gain]
        return LoadCellCalibration(self.tare * k, tuple((c * k, n) for c, n in self.points), gain, self.date)

    def to_toml(self) -> dict:
        return {"kind": "load_cell", "gain": self.gain, "date": self.date, "tare": self.tare,
                "points": [list(p) for p in self.points]}


def _piecewise(xs: list[float], ys: list[float]):
    """``f(x)`` through the points (xs ascending): linear between them, and along the
    outer segments beyond either end. Slopes are worked out once: a channel converts a
    reading hundreds of times a second."""
    slopes = [(y1 - y0) / (x1 - x0) for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:])]
    last = len(xs) - 2

    def f(x: float) -> float:
        i = bisect.bisect_right(xs, x) - 1
        if i < 0:
            i = 0
        elif i > last:
            i = last
        return ys[i] + (x - xs[i]) * slopes[i]
    return f


Calibration = FlexCalibration | ForceCalibration | LoadCellCalibration

PAD = "weight_bearing"   # the reserved table for the pad as a whole


@dataclass(frozen=True)
class PadCalibration:
    """The pad as a whole: the survivor's maximum comfortable push, in newtons."""
    max_push_n: float | None = None
    date: str = ""
    kind: str = field(default="pad", init=False)

    def to_toml(self) -> dict:
        out = {"date": self.date}
        if self.max_push_n is not None:
            out["max_push_n"] = self.max_push_n
        return out
